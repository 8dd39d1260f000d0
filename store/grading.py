"""Grade a stored submission against the teacher's key or a trusted model reference.

Called by the `grading` task; writes every outcome in one transaction so that running it twice
leaves one grade per answer and the same totals.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import (
    Answer,
    Grade,
    Job,
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


def grade_submission(session: Session, submission_id: int, *, timeout: float = 2.0) -> Outcome:
    """Grade every answer of a submission; returns what happened."""
    from grader import GRADER_VERSION

    submission = session.get(Submission, submission_id)
    if submission is None:
        return Outcome("missing")
    sources = {a.id: reference_for(a.problem) for a in submission.answers}
    if any(source == "waiting" for _, source in sources.values()):
        # A model reference is still being written; its task requeues us when it is done.
        submission.status = SubmissionStatus.queued.value
        session.commit()
        return Outcome("waiting")
    for answer in submission.answers:
        reference, source = sources[answer.id]
        _write_grade(session, answer, reference, source, timeout)
        answer.grade.grader_version = GRADER_VERSION
    _apply_overrides(session, submission.answers)
    _total(submission)
    _finish_job(session, submission_id)
    session.commit()
    log.info("submission.graded submission=%s status=%s score=%s", submission.id, submission.status, submission.score)
    return Outcome(submission.status, passback=submission.source == Source.lms.value)


def _apply_overrides(session: Session, answers) -> None:
    """A teacher's override (of the answer or its group) wins over the grader, regrade after regrade."""
    from store.overrides import apply_overrides

    apply_overrides(session, list(answers))


def grade_answer(session: Session, answer: Answer, *, timeout: float = 2.0) -> bool:
    """Grade one answer again, overrides applied, without committing; False while its reference is
    still being written (the answer is left as it is)."""
    from grader import GRADER_VERSION

    reference, source = reference_for(answer.problem)
    if source == "waiting":
        return False
    _write_grade(session, answer, reference, source, timeout)
    answer.grade.grader_version = GRADER_VERSION
    _apply_overrides(session, [answer])
    return True


def _write_grade(session: Session, answer: Answer, reference: str | None, source: str, timeout: float) -> None:
    problem = answer.problem
    grade = answer.grade or Grade(answer_id=answer.id)
    answer.grade = grade
    grade.points = problem.points
    grade.reference_source = source if source in ("key", "model") else None
    grade.created_at = datetime.now(timezone.utc)
    steps = _check_work(answer.work, timeout)
    grade.steps = steps["steps"]
    grade.first_error = steps["first_error"]
    if reference is None:
        grade.status, grade.score, grade.feedback = "needs_review", 0.0, REVIEW_FEEDBACK
        grade.interpreted = grade.diagnosis = None
        return
    result = _check(answer.text, reference, problem.policy, timeout)
    grade.status = result.status
    grade.score = round(float(result.score) * problem.points, 4)
    grade.feedback = _feedback(result.feedback, steps)
    grade.interpreted = result.interpreted
    grade.diagnosis = result.diagnosis


def _check(student: str, reference: str, policy: dict | None, timeout: float):
    from grader import check_answer

    policy = dict(policy or {})
    policy.setdefault("timeout", timeout)
    return check_answer(student, reference, policy)


def _check_work(lines: list | None, timeout: float) -> dict:
    if not lines:
        return {"steps": [], "first_error": None}
    from grader import check_steps

    # STEPWISE_CHECK_TIMEOUT: each line keeps the per-check limit and the whole work shares
    # one total budget of the same size, so a long working cannot hold the worker for long.
    result = check_steps([str(line) for line in lines], {"timeout": timeout}, timeout=timeout)
    return {"steps": [step.to_dict() for step in result.steps], "first_error": result.first_error}


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
    submission.graded_at = datetime.now(timezone.utc)
    submission.error = None


def _finish_job(session: Session, submission_id: int) -> None:
    job = session.scalar(
        select(Job).where(Job.kind == "grade", Job.subject_id == submission_id).order_by(Job.id.desc())
    )
    if job is not None:
        job.status = "done"
        job.finished_at = datetime.now(timezone.utc)
        from grader import GRADER_VERSION

        job.versions = {"grader": GRADER_VERSION}


def mark_started(session: Session, submission_id: int, task_id: str | None) -> bool:
    """Record that a worker picked the submission up; False when there is nothing to do."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        return False
    if submission.status == SubmissionStatus.queued.value:
        submission.status = SubmissionStatus.grading.value
    job = session.scalar(
        select(Job).where(Job.kind == "grade", Job.subject_id == submission_id).order_by(Job.id.desc())
    )
    if job is not None:
        job.status, job.task_id = "running", task_id
        job.attempts += 1
        job.started_at = datetime.now(timezone.utc)
    session.commit()
    return True


def mark_failed(session: Session, submission_id: int, error: str) -> None:
    session.rollback()
    submission = session.get(Submission, submission_id)
    if submission is None:
        return
    submission.status = SubmissionStatus.failed.value
    submission.error = error[:2000]
    job = session.scalar(
        select(Job).where(Job.kind == "grade", Job.subject_id == submission_id).order_by(Job.id.desc())
    )
    if job is not None:
        job.status, job.error = "failed", error[:2000]
        job.finished_at = datetime.now(timezone.utc)
    session.commit()


def resume_waiting(session: Session, reference_id: int) -> list[int]:
    """Ids of submissions waiting for this reference solution (or in review for lack of it)."""
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
    return sorted(rows)


def regrade_problem(session: Session, problem_id: int) -> list[int]:
    """Submissions to grade again after a teacher set or changed a problem's key."""
    rows = session.scalars(
        select(Answer.submission_id).where(Answer.problem_id == problem_id).distinct()
    )
    ids = sorted(rows)
    for submission in session.scalars(select(Submission).where(Submission.id.in_(ids))):
        submission.status = SubmissionStatus.queued.value
        session.add(Job(kind="grade", subject_id=submission.id))
    session.commit()
    return ids
