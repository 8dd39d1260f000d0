"""Grade a stored submission against the teacher's key or a trusted model reference.

Called by the `grading` task; writes every outcome in one transaction so that running it twice
leaves one grade per answer and the same totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, joinedload

from grader import GRADER_VERSION, check_answer, check_steps
from store import jobs, verdicts
from store.models import (
    Answer,
    Grade,
    Job,
    JobStatus,
    Problem,
    ReferenceSolution,
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
    status: str  # the submission's status after the run, or "skipped" / "missing" / "waiting"
    passback: bool = False  # an LMS needs to hear about it
    latency_s: float | None = None  # from the submission stored to graded (None: not graded now)


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
    """Grade every answer of the submission and commit once, in a handful of SQL statements
    whatever the number of answers: one read (submission, answers, problems, references, grades
    and the newest job), the verdicts computed with no row locked, then one guarded UPDATE
    that claims and closes the job (`jobs.settle`), the grades and the totals.

    The guard makes every path safe to run twice: a duplicate message, a redelivery or a
    `stepwise requeue` finds the job done ("skipped"); a key changed while this computed bumped
    the job's revision, so this result is dropped and the newer message grades against the new key.
    A worker killed mid-way wrote nothing: the job is still queued and the sweeper sends it again.
    """
    row = _load(session, submission_id)
    if row is None:  # deleted since it was queued
        job = jobs.latest(session, jobs.GRADE, submission_id)
        if job is not None and job.status in jobs.OPEN:
            jobs.finish(job, JobStatus.failed, error="submission deleted")
        session.commit()
        return Outcome("missing")
    submission, job = row
    if not jobs.claimable(job, task_id, stale_after=stale_after):
        session.rollback()
        log.info("grade.skipped submission=%s task=%s", submission_id, task_id)
        return Outcome("skipped")
    sources = {a.id: reference_for(a.problem) for a in submission.answers}
    if any(source == "waiting" for _, source in sources.values()):
        # A model reference is still being written; its task reopens the job when it is done.
        if not jobs.settle(session, job, task_id, JobStatus.waiting):
            return _dropped(session, submission_id, task_id)
        submission.status = SubmissionStatus.queued.value
        session.commit()
        return Outcome("waiting")
    found = _verdicts(submission.answers, sources, timeout)  # no writes yet, nothing locked
    if not jobs.settle(session, job, task_id, JobStatus.done, versions={"grader": _grader_version()}):
        return _dropped(session, submission_id, task_id)
    version = _grader_version()
    values = {a.id: _grade_values(a, sources[a.id][1], found[a.id], version) for a in submission.answers}
    if any(a.problem.overridden for a in submission.answers):  # rare: overrides edit the Grade objects
        for answer in submission.answers:
            _write_grade(answer, values[answer.id])
        _apply_overrides(session, submission.answers)
        totals = [(a.grade.score, a.grade.status) for a in submission.answers]
    else:
        _store_grades(session, submission.answers, values)
        totals = [(v["score"], v["status"]) for v in values.values()]
    _total(submission, totals)
    session.commit()
    log.info("submission.graded submission=%s status=%s score=%s", submission.id, submission.status, submission.score)
    created = submission.created_at
    created = created if created.tzinfo else created.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    latency = (submission.graded_at - created).total_seconds()
    return Outcome(submission.status, passback=submission.source == Source.lms.value, latency_s=latency)


def _verdicts(answers, sources: dict, timeout: float) -> dict[int, dict]:
    """Each answer's verdict, taken from the verdicts other workers made already (store.verdicts:
    one lookup per submission) or made here and shared."""
    keys = {a.id: verdicts.cache_key(a.text, a.work, sources[a.id][0], a.problem.policy, timeout) for a in answers}
    wanted = sorted({k for k in keys.values() if k})
    known = dict(zip(wanted, verdicts.shared.get_many(wanted), strict=True))
    found, new = {}, {}
    for answer in answers:
        key = keys[answer.id]
        hit = known.get(key) if key else None
        if hit is None:
            hit = verdict(answer, sources[answer.id][0], timeout)
            if key and verdicts.shareable(hit):
                new[key] = hit
        found[answer.id] = hit
    verdicts.shared.put_many(new)
    return found


def _dropped(session: Session, submission_id: int, task_id: str | None) -> Outcome:
    """The guarded UPDATE found the job finished or asked for again: keep nothing of this run."""
    session.rollback()
    log.info("grade.superseded submission=%s task=%s", submission_id, task_id)
    return Outcome("skipped")


# Everything grading reads, in one statement whatever the number of answers (no N+1). Of a model
# reference only its status and answer: its reasoning and samples are large and not needed here.
GRADING_LOADS = (
    joinedload(Submission.answers)
    .joinedload(Answer.problem)
    .joinedload(Problem.reference)
    .load_only(ReferenceSolution.status, ReferenceSolution.final_answer),
    joinedload(Submission.answers).joinedload(Answer.grade),
)


def _load(session: Session, submission_id: int) -> tuple[Submission, Job | None] | None:
    newest = select(func.max(Job.id)).where(Job.kind == jobs.GRADE, Job.subject_id == submission_id)
    found = (
        session.execute(
            select(Submission, Job)
            .outerjoin(Job, Job.id == newest.scalar_subquery())
            .where(Submission.id == submission_id)
            .options(*GRADING_LOADS)
            .execution_options(populate_existing=True)
        )
        .unique()
        .first()
    )
    return None if found is None else (found[0], found[1])


def grade_submission(session: Session, submission_id: int, *, timeout: float = 2.0) -> Outcome:
    """Grade now, in this process, outside the queue (tests, offline tools); commits."""
    jobs.open_job(session, jobs.GRADE, submission_id)
    session.commit()
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
    _write_grade(answer, _grade_values(answer, source, verdict(answer, reference, timeout), GRADER_VERSION))
    _apply_overrides(session, [answer])
    return True


def _grade_values(answer: Answer, source: str, found: dict, version: str) -> dict:
    """The columns of the answer's grade for this verdict."""
    return {
        "points": answer.problem.points,
        "reference_source": source if source in ("key", "model") else None,
        "created_at": datetime.now(UTC),
        "steps": found["steps"]["steps"],
        "first_error": found["steps"]["first_error"],
        "status": found["status"],
        "feedback": found["feedback"],
        "score": round(found["fraction"] * answer.problem.points, 4),
        "interpreted": found["interpreted"],
        "diagnosis": found["diagnosis"],
        "grader_version": version,
    }


def _write_grade(answer: Answer, values: dict) -> None:
    grade = answer.grade or Grade(answer_id=answer.id)
    answer.grade = grade
    for column, value in values.items():
        setattr(grade, column, value)


def _store_grades(session: Session, answers, values: dict[int, dict]) -> None:
    """Grades in at most two statements on every database: the existing ones updated (one
    executemany), the new ones inserted as plain rows (one executemany; the ORM would insert them
    one by one where it must read each new id back, as on SQLite)."""
    fresh = [answer for answer in answers if answer.grade is None]
    for answer in answers:
        if answer.grade is not None:
            _write_grade(answer, values[answer.id])
    if fresh:
        session.execute(insert(Grade), [{"answer_id": a.id, **values[a.id]} for a in fresh])
        for answer in fresh:
            session.expire(answer, ["grade"])  # read again on next use, not the stale None


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


def _total(submission: Submission, totals: list[tuple[float, str]]) -> None:
    """The submission's score and status from its answers' (score, status)."""
    submission.score = round(sum(score for score, _status in totals), 4)
    review = any(status == "needs_review" for _score, status in totals)
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
    if job is not None and job.status in (JobStatus.queued.value, JobStatus.running.value):
        job.attempts += 1  # the attempt that failed (grading claims and closes in one write)
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
