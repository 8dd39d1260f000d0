"""What needs the teacher: live progress, the review queue, and regrades that say what changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.grading import refresh_disagreement
from store.models import (
    Answer,
    Assignment,
    Grade,
    Problem,
    Submission,
    SubmissionStatus,
)
from store.overrides import TEACHER, Changed, OverrideError, override_answer, retotal

log = logging.getLogger("stepwise.review")

STATES = ("queued", "grading", "graded", "needs_review", "failed")

# Why an answer is in the review queue, and what the teacher reads.
REASONS = {
    "no_key": "No key, and the model's samples disagree (or no model is installed).",
    "unreadable": "The answer could not be read.",
    "key_disagrees": "The key disagrees with the model's answer, and this answer's grade depends on which is right.",
    "timeout": "The check could not finish in time.",
}


def progress(session: Session, assignment_id: int) -> dict:
    """`{"total", "queued", "grading", "graded", "needs_review", "failed"}` over the submissions."""
    rows = session.execute(
        select(Submission.status, func.count())
        .where(Submission.assignment_id == assignment_id)
        .group_by(Submission.status)
    ).all()
    counts = dict.fromkeys(STATES, 0)
    for status, n in rows:
        counts[status if status in counts else "queued"] += n
    return {"total": sum(counts.values()), **counts}


# --- the review queue -----------------------------------------------------------------------


def review_queue(
    session: Session, teacher_id: int, *, assignment_id: int | None = None, limit: int = 500
) -> list[dict]:
    """Every answer that needs a teacher, with the reason, the answer as read and the reference.

    Overridden answers are resolved and never listed.
    """
    query = (
        select(Answer, Grade, Submission)
        .join(Grade, Grade.answer_id == Answer.id)
        .join(Submission, Submission.id == Answer.submission_id)
        .where(
            Submission.teacher_id == teacher_id,
            Grade.status.in_(["needs_review", "invalid", "timeout"]),
            func.coalesce(Grade.reference_source, "") != TEACHER,
        )
        .order_by(Submission.assignment_id, Answer.position, Answer.id)
    )
    if assignment_id is not None:
        query = query.where(Submission.assignment_id == assignment_id)
    items = [_item(answer, grade, sub, _reason(grade)) for answer, grade, sub in session.execute(query.limit(limit))]
    items += _key_disagreements(session, teacher_id, assignment_id, limit - len(items))
    return items[:limit]


def _reason(grade: Grade) -> str:
    return {"needs_review": "no_key", "invalid": "unreadable", "timeout": "timeout"}[grade.status]


def _item(answer: Answer, grade: Grade, submission: Submission, reason: str, proposed: float | None = None) -> dict:
    problem = answer.problem
    ref = problem.reference
    return {
        "answer_id": answer.id,
        "submission": submission.id,
        "assignment": submission.assignment_id,
        "student": submission.student,
        "problem": answer.position,
        "statement": problem.statement,
        "reason": reason,
        "message": REASONS[reason],
        "answer": answer.text,
        "interpreted": grade.interpreted,
        "status": grade.status,
        "score": None if grade.status == "needs_review" else grade.score,
        "points": problem.points,
        "feedback": grade.feedback,
        "key": problem.answer_key,
        "model_answer": ref.final_answer if ref is not None else None,
        "model_agreement": ref.agreement if ref is not None else None,
        "proposed_score": _proposed(answer, grade) if proposed is None else proposed,
    }


def _proposed(answer: Answer, grade: Grade) -> float | None:
    """The score accepting would give: the grader's own, or against the model's answer for `no_key`."""
    if grade.status != "needs_review":
        return grade.score
    model = answer.problem.reference.final_answer if answer.problem.reference is not None else None
    if not model:
        return None
    return round(_check(answer.text, model, answer.problem.policy).score * answer.problem.points, 4)


def _check(student: str, reference: str, policy: dict | None):
    from grader import check_answer

    pol = dict(policy or {})
    pol.setdefault("timeout", 1.0)
    return check_answer(student, reference, pol)


def _key_disagreements(session: Session, teacher_id: int, assignment_id: int | None, limit: int) -> list[dict]:
    """Answers whose grade against the key differs from their grade against the model's answer."""
    if limit <= 0:
        return []
    query = (
        select(Problem)
        .join(Assignment, Assignment.id == Problem.assignment_id)
        .where(Assignment.teacher_id == teacher_id, Problem.answer_key.is_not(None), Problem.reference_id.is_not(None))
    )
    if assignment_id is not None:
        query = query.where(Assignment.id == assignment_id)
    items: list[dict] = []
    for problem in session.scalars(query.order_by(Problem.assignment_id, Problem.position)):
        if not problem.key_disagrees:
            continue
        model = problem.reference.final_answer
        rows = session.execute(
            select(Answer, Grade, Submission)
            .join(Grade, Grade.answer_id == Answer.id)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(Answer.problem_id == problem.id, func.coalesce(Grade.reference_source, "") == "key")
            .order_by(Answer.id)
        ).all()
        verdicts: dict[str, bool] = {}
        for answer, grade, sub in rows:
            if answer.text not in verdicts:
                verdicts[answer.text] = _check(answer.text, model, problem.policy).correct
            if verdicts[answer.text] != (grade.status == "correct"):
                items.append(_item(answer, grade, sub, "key_disagrees", proposed=grade.score))
                if len(items) >= limit:
                    return items
    return items


def resolve(session: Session, teacher_id: int, answer: Answer, action: str, score=None, feedback=None) -> Changed:
    """Accept the proposed grade, or correct it, in one action; both settle it as the teacher's."""
    if action == "accept":
        grade = answer.grade
        proposed = _proposed(answer, grade) if grade is not None else None
        if proposed is None:
            raise OverrideError("action", "there is no grade to accept for this answer: send a score")
        return override_answer(session, teacher_id, answer, proposed, feedback, action="accept")
    if action == "correct":
        if score is None:
            raise OverrideError("score", "is required to correct a grade")
        return override_answer(session, teacher_id, answer, score, feedback)
    raise OverrideError("action", "must be accept or correct")


# --- regrade after a key or policy change ---------------------------------------------------


@dataclass
class RegradeReport:
    problem: int
    regraded: int = 0
    changed: list[dict] = field(default_factory=list)
    passback: list[int] = field(default_factory=list)
    waiting: int = 0

    def to_dict(self) -> dict:
        n = len(self.changed)
        return {
            "problem": self.problem,
            "regraded": self.regraded,
            "changed_count": n,
            "message": f"{n} answer{'s' if n != 1 else ''} changed",
            "changed": self.changed,
            "waiting": self.waiting,
        }


def regrade_problem(session: Session, problem: Problem, *, timeout: float = 2.0) -> RegradeReport:
    """Grade again only this problem's answers (after its key or policy changed); report changes.

    Each distinct answer (normalised text and work) is checked once. Answers of submissions not
    graded yet are left to their grading task; overrides stand.
    """
    from sqlalchemy.orm import selectinload

    from store import grading
    from store.batches import _verdict as fresh_verdict
    from store.batches import _write
    from store.groups import normalise
    from store.overrides import apply_overrides

    report = RegradeReport(problem=problem.position)
    answers = session.scalars(
        select(Answer)
        .join(Submission, Submission.id == Answer.submission_id)
        .where(
            Answer.problem_id == problem.id,
            Submission.status.in_(
                [SubmissionStatus.graded.value, SubmissionStatus.needs_review.value, SubmissionStatus.failed.value]
            ),
        )
        .options(
            selectinload(Answer.grade),
            selectinload(Answer.submission).selectinload(Submission.answers).selectinload(Answer.grade),
        )
        .order_by(Answer.id)
    ).all()
    reference, source = grading.reference_for(problem)
    if source == "waiting":  # its model reference is being written; that task regrades them
        report.waiting = len(answers)
        return report
    before = {a.id: _verdict(a.grade) for a in answers}
    memo: dict[tuple, dict] = {}
    for answer in answers:
        key = (normalise(answer.text), tuple(answer.work or ()))
        if key not in memo:
            memo[key] = fresh_verdict(answer, reference, source, timeout)
        _write(answer, memo[key], source)
    apply_overrides(session, answers)
    touched = {a.submission_id: a.submission for a in answers}
    old_state = {sid: (s.score, s.status) for sid, s in touched.items()}
    for answer in answers:
        after = _verdict(answer.grade)
        if before[answer.id] != after:
            old = before[answer.id]
            report.changed.append(
                {
                    "answer_id": answer.id,
                    "submission": answer.submission_id,
                    "student": answer.submission.student,
                    "answer": answer.text,
                    "old": {"status": old[0], "score": old[1]},
                    "new": {"status": after[0], "score": after[1]},
                }
            )
    report.regraded = len(answers)
    for sub in touched.values():
        retotal(sub)
    session.commit()
    report.passback = sorted(
        sid for sid, s in touched.items() if s.source == "lms" and (s.score, s.status) != old_state[sid]
    )
    log.info(
        "regrade.problem problem=%s regraded=%d checks=%d changed=%d",
        problem.id,
        report.regraded,
        len(memo),
        len(report.changed),
    )
    return report


def _verdict(grade: Grade | None) -> tuple:
    if grade is None:
        return None, None
    return grade.status, (None if grade.status == "needs_review" else grade.score)


def update_problem(session: Session, problem: Problem, *, key=..., policy=..., timeout: float = 2.0) -> RegradeReport:
    """Change a problem's key and/or policy (validated by the caller), then regrade what it affects."""
    if key is not ...:
        problem.answer_key = key
    if policy is not ...:
        problem.policy = policy or {}
    refresh_disagreement(problem)  # stored when the key changes, not computed on page view
    session.flush()
    return regrade_problem(session, problem, timeout=timeout)
