"""A teacher's word over the grader's: overrides of one answer or of an answer group.

An override is written into the answer's Grade (so totals, CSV exports and LMS passback see it
with no special case) with `reference_source = "teacher"`, and kept in its own table so grading
again (a new key, a regrade, a batch) applies it once more. Every change is audited: who, when,
old -> new. Undoing an override grades the answer again with the grader.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import jobs
from store.models import Answer, Grade, Source, Submission, SubmissionStatus
from store.workflow import AnswerGroup, AnswerGroupText, AnswerOverride, OverrideAudit

log = logging.getLogger("stepwise.overrides")

TEACHER = "teacher"  # Grade.reference_source of an overridden grade
TEACHER_FEEDBACK = "Graded by your teacher."
MAX_FEEDBACK = 5000
MAX_EQUIVALENCE_GROUPS = 20  # overridden groups a new answer text is compared with


class OverrideError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Changed:
    """What an override (or its undo) changed: answers, and the LMS submissions to post again."""

    answers: int
    submissions: list[int]
    passback: list[int]


def _now() -> datetime:
    return datetime.now(UTC)


def status_for(score: float, points: float) -> str:
    if score >= points:
        return "correct"
    return "incorrect" if score <= 0 else "partial"


def validate(score, feedback, points: float) -> tuple[float, str | None]:
    """(score, feedback) checked against the problem's points; raises OverrideError."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
        raise OverrideError("score", "must be a number")
    if not 0 <= score <= points:
        raise OverrideError("score", f"must be between 0 and {points:g} (the problem's points)")
    if feedback is not None:
        if not isinstance(feedback, str):
            raise OverrideError("feedback", "must be a string")
        if len(feedback) > MAX_FEEDBACK or "\x00" in feedback:
            raise OverrideError("feedback", f"must be text of at most {MAX_FEEDBACK} characters")
        feedback = feedback.strip() or None
    return float(score), feedback


# --- applying (called by grading) -----------------------------------------------------------


def write_override(answer: Answer, score: float, feedback: str | None) -> None:
    grade = answer.grade
    if grade is None:
        grade = Grade(answer_id=answer.id, steps=[])
        answer.grade = grade
    grade.points = answer.problem.points
    grade.score = round(score, 4)
    grade.status = status_for(score, grade.points)
    grade.feedback = feedback or TEACHER_FEEDBACK
    grade.reference_source = TEACHER


def apply_overrides(session: Session, answers: list[Answer]) -> int:
    """Write the teacher's overrides over freshly graded answers; returns how many applied.

    An answer's own override wins; else its group's, found by normalised text or, for a spelling
    not seen before, by equivalence with an overridden group of the same problem.
    """
    if not answers:
        return 0
    ids = [a.id for a in answers]
    own = {o.answer_id: o for o in session.scalars(select(AnswerOverride).where(AnswerOverride.answer_id.in_(ids)))}
    applied = 0
    rest = []
    for answer in answers:
        o = own.get(answer.id)
        if o is not None:
            write_override(answer, o.score, o.feedback)
            applied += 1
        else:
            rest.append(answer)
    return applied + _apply_group_overrides(session, rest)


def _apply_group_overrides(session: Session, answers: list[Answer]) -> int:
    from store.groups import digest, equivalent

    problem_ids = {a.problem_id for a in answers}
    if not problem_ids:
        return 0
    overridden = session.scalars(
        select(AnswerGroup).where(AnswerGroup.problem_id.in_(problem_ids), AnswerGroup.override_score.is_not(None))
    ).all()
    if not overridden:
        return 0
    by_problem: dict[int, list[AnswerGroup]] = {}
    for g in overridden:
        by_problem.setdefault(g.problem_id, []).append(g)
    texts = dict(
        session.execute(
            select(AnswerGroupText.digest, AnswerGroupText.group_id).where(
                AnswerGroupText.problem_id.in_(list(by_problem))
            )
        ).all()
    )
    groups = {g.id: g for g in overridden}
    applied = 0
    for answer in answers:
        candidates = by_problem.get(answer.problem_id)
        if not candidates:
            continue
        key = digest(answer.text)
        if key in texts:
            group = groups.get(texts[key])  # None: its group is not overridden
        else:
            group = next(
                (
                    g
                    for g in candidates[:MAX_EQUIVALENCE_GROUPS]
                    if equivalent(answer.text, g.answer, answer.problem.policy)
                ),
                None,
            )
            if group is not None:
                _remember(session, group, key)
                texts[key] = group.id
        if group is not None:
            write_override(answer, group.override_score, group.override_feedback)
            applied += 1
    return applied


def _remember(session: Session, group: AnswerGroup, key: str) -> None:
    try:
        with session.begin_nested():
            session.add(AnswerGroupText(group_id=group.id, problem_id=group.problem_id, digest=key))
    except IntegrityError:
        pass


# --- totals ---------------------------------------------------------------------------------


def retotal(submission: Submission) -> None:
    """Recompute a graded submission's score and status from its grades."""
    grades = [a.grade for a in submission.answers]
    if any(g is None for g in grades):
        return  # not graded yet: grading will total it
    submission.score = round(sum(g.score for g in grades), 4)
    review = any(g.status == "needs_review" for g in grades)
    submission.status = (SubmissionStatus.needs_review if review else SubmissionStatus.graded).value
    submission.graded_at = _now()


def _finish(session: Session, answers: list[Answer]) -> Changed:
    submissions = {a.submission_id: a.submission for a in answers}
    for submission in submissions.values():
        retotal(submission)
    # A grading of these submissions that read them before this override must not write over it:
    # bumping its job's revision makes it drop its result (store.jobs.settle); the sweeper sends
    # the job again and that grading applies the override.
    jobs.bump_open(session, jobs.GRADE, list(submissions))
    session.commit()
    passback = sorted(s.id for s in submissions.values() if s.source == Source.lms.value)
    return Changed(len(answers), sorted(submissions), passback)


def _snapshot(grade: Grade | None) -> tuple:
    if grade is None:
        return None, None, None
    return grade.status, (None if grade.status == "needs_review" else grade.score), grade.feedback


def _audit(session: Session, teacher_id: int, kind: str, action: str, before: tuple, after: tuple, **ids) -> None:
    session.add(
        OverrideAudit(
            teacher_id=teacher_id,
            kind=kind,
            action=action,
            old_status=before[0],
            old_score=before[1],
            old_feedback=before[2],
            new_status=after[0],
            new_score=after[1],
            new_feedback=after[2],
            **ids,
        )
    )


# --- one answer -----------------------------------------------------------------------------


def override_answer(
    session: Session, teacher_id: int, answer: Answer, score, feedback=None, *, action: str = "set"
) -> Changed:
    """Set the teacher's grade of one answer (replacing an earlier override of it)."""
    score, feedback = validate(score, feedback, answer.problem.points)
    before = _snapshot(answer.grade)
    row = session.scalar(select(AnswerOverride).where(AnswerOverride.answer_id == answer.id))
    if row is None:
        row = AnswerOverride(answer_id=answer.id, score=score, feedback=feedback, teacher_id=teacher_id)
        session.add(row)
    row.score, row.feedback, row.teacher_id, row.created_at = score, feedback, teacher_id, _now()
    answer.problem.overridden = True  # grading looks overrides up for this problem from now on
    write_override(answer, score, feedback)
    _audit(
        session,
        teacher_id,
        "answer",
        action,
        before,
        _snapshot(answer.grade),
        answer_id=answer.id,
        problem_id=answer.problem_id,
        answers=1,
    )
    log.info("override.answer answer=%s teacher=%s score=%s", answer.id, teacher_id, score)
    return _finish(session, [answer])


def undo_answer_override(session: Session, teacher_id: int, answer: Answer, *, timeout: float = 2.0) -> Changed | None:
    """Remove the teacher's grade of one answer and grade it again; None when there was none."""
    row = session.scalar(select(AnswerOverride).where(AnswerOverride.answer_id == answer.id))
    if row is None:
        return None
    before = _snapshot(answer.grade)
    session.delete(row)
    session.flush()
    regrade_answers(session, [answer], timeout=timeout)
    _audit(
        session,
        teacher_id,
        "answer",
        "undo",
        before,
        _snapshot(answer.grade),
        answer_id=answer.id,
        problem_id=answer.problem_id,
        answers=1,
    )
    return _finish(session, [answer])


# --- a group --------------------------------------------------------------------------------


def _group_snapshot(answers: list[Answer]) -> tuple:
    from collections import Counter

    common = Counter(_snapshot(a.grade) for a in answers).most_common(1)
    return common[0][0] if common else (None, None, None)


def override_group(session: Session, teacher_id: int, group: AnswerGroup, score, feedback=None) -> Changed:
    """Grade every answer of the group (those without their own override), now and later."""
    from store.groups import group_answers
    from store.models import Problem

    problem = session.get(Problem, group.problem_id)
    score, feedback = validate(score, feedback, problem.points)
    members = group_answers(session, group)
    mine = (
        set(
            session.scalars(
                select(AnswerOverride.answer_id).where(AnswerOverride.answer_id.in_([a.id for a in members]))
            )
        )
        if members
        else set()
    )
    targets = [a for a in members if a.id not in mine]
    before = _group_snapshot(targets)
    group.override_score, group.override_feedback = score, feedback
    group.overridden_by, group.overridden_at = teacher_id, _now()
    problem.overridden = True  # grading looks overrides up for this problem from now on
    for answer in targets:
        write_override(answer, score, feedback)
    _audit(
        session,
        teacher_id,
        "group",
        "set",
        before,
        (status_for(score, problem.points), score, feedback),
        group_id=group.id,
        problem_id=group.problem_id,
        answers=len(targets),
    )
    log.info("override.group group=%s teacher=%s score=%s answers=%d", group.id, teacher_id, score, len(targets))
    return _finish(session, targets)


def undo_group_override(
    session: Session, teacher_id: int, group: AnswerGroup, *, timeout: float = 2.0
) -> Changed | None:
    """Remove the group's override and grade its answers again; None when it had none."""
    from store.groups import group_answers

    if group.override_score is None:
        return None
    members = group_answers(session, group)
    mine = (
        set(
            session.scalars(
                select(AnswerOverride.answer_id).where(AnswerOverride.answer_id.in_([a.id for a in members]))
            )
        )
        if members
        else set()
    )
    targets = [a for a in members if a.id not in mine]
    before = (None, group.override_score, group.override_feedback)
    group.override_score = group.override_feedback = group.overridden_by = group.overridden_at = None
    session.flush()
    regrade_answers(session, targets, timeout=timeout)
    _audit(
        session,
        teacher_id,
        "group",
        "undo",
        before,
        _group_snapshot(targets),
        group_id=group.id,
        problem_id=group.problem_id,
        answers=len(targets),
    )
    return _finish(session, targets)


def regrade_answers(session: Session, answers: list[Answer], *, timeout: float = 2.0) -> None:
    """Grade these answers again with the grader (overrides still standing applied after)."""
    from store.grading import grade_answer

    for answer in answers:
        grade_answer(session, answer, timeout=timeout)


def audit_log(
    session: Session, teacher_id: int, *, answer_id: int | None = None, group_id: int | None = None, limit: int = 200
) -> list[dict]:
    """The teacher's override history, newest first (optionally for one answer or group)."""
    query = select(OverrideAudit).where(OverrideAudit.teacher_id == teacher_id)
    if answer_id is not None:
        query = query.where(OverrideAudit.answer_id == answer_id)
    if group_id is not None:
        query = query.where(OverrideAudit.group_id == group_id)
    rows = session.scalars(query.order_by(OverrideAudit.id.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "teacher": r.teacher_id,
            "kind": r.kind,
            "action": r.action,
            "answer": r.answer_id,
            "group": r.group_id,
            "problem": r.problem_id,
            "answers": r.answers,
            "old": {"status": r.old_status, "score": r.old_score, "feedback": r.old_feedback},
            "new": {"status": r.new_status, "score": r.new_score, "feedback": r.new_feedback},
            "at": r.created_at.isoformat() if r.created_at else None,
        }
        for r in rows
    ]


def is_overridden(grade: Grade | None) -> bool:
    return grade is not None and grade.reference_source == TEACHER
