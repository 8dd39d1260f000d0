"""Grade a stored submission against the teacher's key or a trusted model reference.

Called by the `grading` task; writes every outcome in one transaction so that running it twice
leaves one grade per answer and the same totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader import GRADER_VERSION, check_answer, check_steps
from store import jobs
from store.models import (
    Answer,
    Grade,
    Job,
    JobStatus,
    Problem,
    ReferenceStatus,
    Source,
    Submission,
    SubmissionStatus,
)

log = logging.getLogger("stepwise.grading")

REVIEW_FEEDBACK = "Your teacher will review this answer and grade it by hand."
WAITING = (ReferenceStatus.pending.value, ReferenceStatus.running.value)


@dataclass(frozen=True)
class Outcome:
    status: str  # the submission's status after the run, or "missing" / "waiting"
    passback: bool = False  # an LMS needs to hear about it


METHOD_MARKS_SHARE = 0.5  # method marks earn at most half a problem's points; the answer earns the rest


def reference_for(problem: Problem) -> tuple[str | None, str]:
    """(reference answer, source) where source is key | model | waiting | review."""
    if problem.answer_key:
        return problem.answer_key, "key"
    ref = problem.reference
    if ref is None:
        return None, "review"
    if ref.status in WAITING:
        return None, "waiting"
    if ref.status == ReferenceStatus.ready.value and ref.final_answer:
        return ref.final_answer, "model"
    return None, "review"


def grade(
    session: Session, submission_id: int, task_id: str | None, *, timeout: float = 2.0, stale_after: float = 660.0
) -> Outcome:
    """Claim the submission's grading job, grade every answer, commit once. Returns "skipped" when
    the job is not this task's to run (done, or another worker has it): no path grades twice."""
    job = jobs.claim(session, jobs.GRADE, submission_id, task_id, stale_after=stale_after)
    if job is None:
        session.rollback()
        log.info("grade.skipped submission=%s task=%s", submission_id, task_id)
        return Outcome("skipped")
    submission = session.get(Submission, submission_id, options=GRADING_LOADS)
    if submission is None:
        jobs.finish(job, JobStatus.failed, error="submission deleted")
        session.commit()
        return Outcome("missing")
    submission.status = SubmissionStatus.grading.value
    session.commit()  # the claim is visible (and survives a crash) before the work starts
    outcome = grade_claimed(session, submission, timeout=timeout)
    # A teacher changed a key while this ran: the newer job grades against it; drop this result.
    current = jobs.latest(session, jobs.GRADE, submission_id, for_update=True)
    if current is None or current.id != job.id or current.task_id != task_id:
        session.rollback()
        mine = session.get(Job, job.id)
        if mine.status == JobStatus.running.value and mine.task_id == task_id:
            jobs.finish(mine, JobStatus.superseded)
        session.commit()
        return Outcome("superseded")
    if outcome.status == "waiting":
        current.status = JobStatus.waiting.value
    else:
        jobs.finish(current, versions={"grader": _grader_version()})
    session.commit()
    return outcome


# Everything grading reads, in a fixed number of queries whatever the number of answers (no N+1).
GRADING_LOADS = (
    selectinload(Submission.answers).selectinload(Answer.problem).selectinload(Problem.reference),
    selectinload(Submission.answers).selectinload(Answer.grade),
)


def grade_claimed(session: Session, submission: Submission, *, timeout: float = 2.0) -> Outcome:
    """Write every answer's grade and the totals (not committed)."""
    version = _grader_version()
    sources = {a.id: reference_for(a.problem) for a in submission.answers}
    if any(source == "waiting" for _, source in sources.values()):
        # A model reference is still being written; its task reopens the job when it is done.
        submission.status = SubmissionStatus.queued.value
        return Outcome("waiting")
    for answer in submission.answers:
        reference, source = sources[answer.id]
        _write_grade(session, answer, reference, source, timeout)
        answer.grade.grader_version = version
    _apply_overrides(session, submission.answers)
    _total(submission)
    log.info("submission.graded submission=%s status=%s score=%s", submission.id, submission.status, submission.score)
    return Outcome(submission.status, passback=submission.source == Source.lms.value)


def grade_submission(session: Session, submission_id: int, *, timeout: float = 2.0) -> Outcome:
    """Grade now, in this process, outside the queue (tests, offline tools); commits."""
    jobs.open_job(session, jobs.GRADE, submission_id)
    session.flush()
    return grade(session, submission_id, "inline", timeout=timeout)


def _grader_version() -> str:
    return GRADER_VERSION


def _apply_overrides(session: Session, answers) -> None:
    """A teacher's override (of the answer or its group) wins over the grader, regrade after regrade."""
    from store.overrides import apply_overrides

    apply_overrides(session, list(answers))


def grade_answer(session: Session, answer: Answer, *, timeout: float = 2.0) -> bool:
    """Grade one answer again, overrides applied, without committing; False while its reference is
    still being written (the answer is left as it is)."""
    reference, source = reference_for(answer.problem)
    if source == "waiting":
        return False
    _write_grade(session, answer, reference, source, timeout)
    answer.grade.grader_version = GRADER_VERSION
    _apply_overrides(session, [answer])
    return True


def _write_grade(session: Session, answer: Answer, reference: str | None, source: str, timeout: float) -> None:
    grade = answer.grade or Grade(answer_id=answer.id)
    answer.grade = grade
    grade.points = answer.problem.points
    grade.reference_source = source if source in ("key", "model") else None
    grade.created_at = datetime.now(UTC)
    found = verdict(answer, reference, timeout)
    grade.steps, grade.first_error = found["steps"]["steps"], found["steps"]["first_error"]
    grade.status, grade.feedback = found["status"], found["feedback"]
    grade.score = round(found["fraction"] * answer.problem.points, 4)
    grade.interpreted, grade.diagnosis = found["interpreted"], found["diagnosis"]


def verdict(answer: Answer, reference: str | None, timeout: float, *, steps: dict | None = None) -> dict:
    """Everything a grade holds that depends on the answer's text, work and problem, not on the
    student: status, the fraction of the points, feedback, the reading and the step findings.
    The one place a verdict is made, for the grading task, batches and regrades alike."""
    policy = answer.problem.policy
    if steps is None:  # callers that grade many answers pass the findings of work they checked already
        steps = _check_work(answer.work, policy, timeout)
    if reference is None:
        return {
            "status": "needs_review",
            "fraction": 0.0,
            "feedback": REVIEW_FEEDBACK,
            "interpreted": None,
            "diagnosis": None,
            "steps": steps,
        }
    result = _check(answer.text, reference, policy, timeout)
    status, fraction, feedback = str(result.status), float(result.score), _feedback(result.feedback, steps)
    method = _method_marks(result, steps)
    if method is not None:
        status, fraction, feedback = "partial", method, f"{feedback} {steps['summary']}".strip()
    return {
        "status": status,
        "fraction": fraction,
        "feedback": feedback,
        "interpreted": result.interpreted,
        "diagnosis": result.diagnosis,
        "steps": steps,
    }


def _check(student: str, reference: str, policy: dict | None, timeout: float):
    policy = dict(policy or {})
    policy.setdefault("timeout", timeout)
    return check_answer(student, reference, policy)


def _check_work(lines: list | None, policy: dict | None, timeout: float) -> dict:
    if not lines:
        return {"steps": [], "first_error": None, "score": None, "summary": ""}
    # STEPWISE_CHECK_TIMEOUT: each line keeps the per-check limit and the whole work shares
    # one total budget of the same size, so a long working cannot hold the worker for long.
    result = check_steps([str(line) for line in lines], {**(policy or {}), "timeout": timeout}, timeout=timeout)
    return {
        "steps": [step.to_dict() for step in result.steps],
        "first_error": result.first_error,
        "score": result.score,
        "summary": result.details.get("summary", ""),
    }


def _method_marks(result, steps: dict) -> float | None:
    """Under a `step_credit` policy, the share of the points that the valid steps before the first
    error earn (at most METHOD_MARKS_SHARE), when that is more than the final answer earned."""
    if steps["score"] is None or result.status in ("correct", "invalid", "timeout"):
        return None
    method = METHOD_MARKS_SHARE * float(steps["score"])
    return method if method > float(result.score) else None


def _feedback(answer_feedback: str, steps: dict) -> str:
    if steps["first_error"] is None:
        return answer_feedback
    finding = steps["steps"][steps["first_error"]]
    return f"{answer_feedback} {finding.get('feedback') or ''}".strip()


def _total(submission: Submission) -> None:
    grades = [a.grade for a in submission.answers]
    submission.score = round(sum(g.score for g in grades), 4)
    review = any(g.status == "needs_review" for g in grades)
    submission.status = (SubmissionStatus.needs_review if review else SubmissionStatus.graded).value
    submission.graded_at = datetime.now(UTC)
    submission.error = None


def mark_failed(session: Session, submission_id: int, error: str) -> None:
    """The grader raised (or ran out of time): the submission and its job say so; answers kept."""
    session.rollback()
    submission = session.get(Submission, submission_id)
    if submission is None:
        return
    submission.status = SubmissionStatus.failed.value
    submission.error = error[:2000]
    job = jobs.latest(session, jobs.GRADE, submission_id)
    if job is not None and job.status == JobStatus.running.value:
        jobs.finish(job, JobStatus.failed, error=error)
    session.commit()


def resume_waiting(session: Session, reference_id: int) -> list[int]:
    """Submissions waiting for this reference solution (or in review for lack of it): their jobs
    are reopened (not committed); returns their ids for the caller to enqueue after its commit."""
    rows = session.scalars(
        select(Submission.id)
        .join(Answer, Answer.submission_id == Submission.id)
        .join(Problem, Problem.id == Answer.problem_id)
        .where(
            Problem.reference_id == reference_id,
            Submission.status.in_(
                [SubmissionStatus.queued.value, SubmissionStatus.grading.value, SubmissionStatus.needs_review.value]
            ),
        )
        .distinct()
    )
    ids = sorted(rows)
    reference_changed(session, reference_id)
    for submission_id in ids:
        jobs.open_job(session, jobs.GRADE, submission_id)
    return ids


def set_key(session: Session, problem: Problem, key: str) -> list[int]:
    """Set or change a problem's key and reopen grading for its submissions (not committed)."""
    problem.answer_key = key
    return regrade_problem(session, problem.id)


def refresh_disagreement(problem: Problem) -> None:
    """Store whether the key and the model's answer differ; called when either changes."""
    ref = problem.reference
    if not problem.answer_key or ref is None or not ref.final_answer:
        problem.key_disagrees = None
        return
    problem.key_disagrees = not check_answer(ref.final_answer, problem.answer_key, problem.policy or None).correct


def reference_changed(session: Session, reference_id: int) -> None:
    """A model reference was written: refresh the disagreement of every problem that uses it."""
    for problem in session.scalars(select(Problem).where(Problem.reference_id == reference_id)):
        refresh_disagreement(problem)


def regrade_problem(session: Session, problem_id: int) -> list[int]:
    """Submissions to grade again after a teacher set or changed a problem's key (not committed)."""
    problem = session.get(Problem, problem_id)
    if problem is not None:
        refresh_disagreement(problem)  # its key or policy changed
    ids = sorted(session.scalars(select(Answer.submission_id).where(Answer.problem_id == problem_id).distinct()))
    for submission in session.scalars(select(Submission).where(Submission.id.in_(ids))):
        submission.status = SubmissionStatus.queued.value
        jobs.open_job(session, jobs.GRADE, submission.id)
    session.flush()
    return ids
