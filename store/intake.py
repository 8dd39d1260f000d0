"""The one way submissions and assignments enter Stepwise, shared by every intake path.

Dashboard, API, LMS webhook and batch all call these functions: validate, store, commit, and
only then hand the ids to the queue, so a worker never looks for a row that is not there yet.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import (
    Answer,
    Assignment,
    Job,
    Problem,
    ReferenceSolution,
    ReferenceStatus,
    Source,
    Submission,
    SubmissionStatus,
    Teacher,
)
from store.reasoning import raise_priority

MAX_TEXT = 10_000  # characters in one answer, statement or key
MAX_WORK_LINES = 100
MAX_PROBLEMS = 500
MAX_STUDENT = 255
MAX_TITLE = 500
REQUIREMENTS = {"simplified", "factored", "expanded", "exact"}


class IntakeError(ValueError):
    """Bad input; `field` names the part of the payload at fault (e.g. `answers[2].answer`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ProblemIn:
    statement: str
    answer: str | None = None
    points: float = 1.0
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class AnswerIn:
    problem: int  # 1-based position in the assignment
    answer: str
    work: tuple[str, ...] = ()


# --- validation -----------------------------------------------------------------------------


def _text(
    value: Any, field: str, *, limit: int = MAX_TEXT, required: bool = True, numbers: bool = False
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise IntakeError(field, "is required")
        return None
    kinds = (str, int, float) if numbers else (str,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise IntakeError(field, "must be a string" + (" or a number" if numbers else ""))
    text = unicodedata.normalize("NFC", str(value))
    if "\x00" in text:
        raise IntakeError(field, "must not contain NUL characters")
    if len(text) > limit:
        raise IntakeError(field, f"is longer than {limit} characters")
    if required and not text.strip():
        raise IntakeError(field, "must not be empty")
    return text


def parse_problems(raw: Any) -> list[ProblemIn]:
    """Validate the `problems` list of an assignment payload."""
    if not isinstance(raw, list) or not raw:
        raise IntakeError("problems", "must be a non-empty list")
    if len(raw) > MAX_PROBLEMS:
        raise IntakeError("problems", f"has more than {MAX_PROBLEMS} problems")
    problems = []
    for i, item in enumerate(raw):
        where = f"problems[{i}]"
        if not isinstance(item, dict):
            raise IntakeError(where, "must be an object")
        points = item.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not 0 < points <= 1000:
            raise IntakeError(f"{where}.points", "must be a number between 0 and 1000")
        problems.append(
            ProblemIn(
                statement=_text(item.get("statement"), f"{where}.statement"),
                answer=_text(item.get("answer"), f"{where}.answer", required=False),
                points=float(points),
                policy=_policy(item.get("policy"), f"{where}.policy"),
            )
        )
    return problems


def _policy(raw: Any, field: str) -> dict[str, Any] | None:
    """Check a grading policy's shape here, so a bad one is refused at the door, not at grading."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise IntakeError(field, "must be an object")
    checks = {
        "mode": lambda v: v in ("equivalent", "numeric"),
        "rel_tol": lambda v: _number(v) and v >= 0,
        "abs_tol": lambda v: _number(v) and v >= 0,
        "sigfigs": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 15,
        "require": lambda v: isinstance(v, list) and all(isinstance(r, str) and r in REQUIREMENTS for r in v),
        "ordered": lambda v: isinstance(v, bool),
        "partial_credit": lambda v: isinstance(v, bool),
    }
    for key, value in raw.items():
        if key not in checks:
            raise IntakeError(f"{field}.{key}", "is not a policy setting")
        if not checks[key](value):
            raise IntakeError(f"{field}.{key}", "has a value that is not allowed")
    return dict(raw)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def parse_answers(raw: Any, problem_count: int) -> list[AnswerIn]:
    """Validate the `answers` list of a submission payload against the assignment's size."""
    if not isinstance(raw, list) or not raw:
        raise IntakeError("answers", "must be a non-empty list")
    if len(raw) > problem_count:
        raise IntakeError("answers", f"has more answers than the assignment's {problem_count} problems")
    answers, seen = [], set()
    for i, item in enumerate(raw):
        where = f"answers[{i}]"
        if not isinstance(item, dict):
            raise IntakeError(where, "must be an object")
        position = item.get("problem")
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= problem_count:
            raise IntakeError(f"{where}.problem", f"must be a problem number from 1 to {problem_count}")
        if position in seen:
            raise IntakeError(f"{where}.problem", f"problem {position} is answered twice")
        seen.add(position)
        if "answer" not in item:
            raise IntakeError(f"{where}.answer", "is required (it may be an empty string)")
        answer = _text(item["answer"], f"{where}.answer", required=False, numbers=True) or ""
        work = item.get("work", [])
        if not isinstance(work, list) or len(work) > MAX_WORK_LINES:
            raise IntakeError(f"{where}.work", f"must be a list of at most {MAX_WORK_LINES} lines")
        lines = tuple(_text(line, f"{where}.work[{j}]", limit=2000) for j, line in enumerate(work))
        answers.append(AnswerIn(problem=position, answer=answer, work=lines))
    return answers


def parse_student(raw: Any) -> str:
    return _text(raw, "student", limit=MAX_STUDENT).strip()


def parse_external_id(raw: Any) -> str | None:
    value = _text(raw, "external_id", limit=255, required=False)
    return value.strip() if value else None


# --- storing --------------------------------------------------------------------------------


def create_assignment(
    session: Session,
    teacher: Teacher,
    title: Any,
    problems: Iterable[ProblemIn],
    *,
    reference_settings: Callable[[], tuple[str, dict]] | None = None,
    worked_solutions: bool = False,
    priority: int = 0,
) -> tuple[Assignment, list[int]]:
    """Store an assignment; returns it and the ids of reference solutions that need a model run.

    `reference_settings` gives (model id, generation settings) when a model may be asked; when it
    is None, problems without a key are marked for teacher review instead. Keyed problems use no
    GPU unless the teacher asks for `worked_solutions`. `priority`: 0 interactive, 1 batch/nightly
    (store/reasoning.py claims interactive rows first, with aging).
    """
    assignment = Assignment(teacher_id=teacher.id, title=_text(title, "title", limit=MAX_TITLE).strip())
    session.add(assignment)
    to_solve: list[int] = []
    for position, p in enumerate(problems, start=1):
        problem = Problem(
            position=position, statement=p.statement, answer_key=p.answer, points=p.points, policy=p.policy or {}
        )
        assignment.problems.append(problem)
        # [reasoning, issue 10] A keyed problem is graded against its key and costs no GPU time,
        # unless the teacher asked for worked solutions (shown next to the grade; the dashboard
        # flags a key the model disagrees with). Keyed problems never wait either way.
        if p.answer is None or (worked_solutions and reference_settings is not None):
            reference, fresh = _reference_for(session, p.statement, reference_settings, priority)
            problem.reference = reference
            if fresh:
                to_solve.append(reference)
    session.commit()
    return assignment, [r.id for r in to_solve if r.status == ReferenceStatus.pending.value]


def _reference_for(session: Session, statement: str, reference_settings,
                   priority: int = 0) -> tuple[ReferenceSolution, bool]:
    """Get or create the cached reference solution for this statement and model settings."""
    if reference_settings is None:
        model_id, gen = "none", {}
    else:
        model_id, gen = reference_settings()
    from worker.keys import reference_cache_key

    cache_key, statement_hash = reference_cache_key(statement, model_id, gen)
    existing = session.scalar(select(ReferenceSolution).where(ReferenceSolution.cache_key == cache_key))
    if existing is not None:
        # Cached: already solved, or already queued. Only a failed run is worth another try.
        if existing.status == ReferenceStatus.failed.value and reference_settings is not None:
            existing.status, existing.error, existing.priority = ReferenceStatus.pending.value, None, priority
            return existing, True
        raise_priority(existing, priority)  # [reasoning] queued as batch work, now someone waits
        return existing, False
    status = ReferenceStatus.pending if reference_settings else ReferenceStatus.unavailable
    reference = ReferenceSolution(
        cache_key=cache_key,
        statement_hash=statement_hash,
        statement=statement,
        model_id=model_id,
        settings=gen,
        status=status.value,
        priority=priority,
        error=None if reference_settings else "Reference reasoning is turned off on this install.",
    )
    session.add(reference)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request created it first; use theirs.
        session.expunge(reference)
        return session.scalar(select(ReferenceSolution).where(ReferenceSolution.cache_key == cache_key)), False
    return reference, True


def create_submission(
    session: Session,
    assignment: Assignment,
    *,
    student: str,
    answers: list[AnswerIn],
    source: Source,
    external_id: str | None = None,
    callback_url: str | None = None,
    integration_id: int | None = None,
    lms_context: dict[str, Any] | None = None,
) -> tuple[Submission, bool]:
    """Store a submission and its grading job, committed; returns (submission, created).

    The same (teacher, source, external id) again returns the stored submission untouched.
    """
    if external_id:
        existing = find_external(session, assignment.teacher_id, source, external_id)
        if existing is not None:
            return existing, False
    problems = {p.position: p for p in assignment.problems}
    submission = Submission(
        assignment_id=assignment.id,
        teacher_id=assignment.teacher_id,
        student=student,
        source=source.value,
        external_id=external_id,
        status=SubmissionStatus.queued.value,
        max_score=assignment.max_score,
        callback_url=callback_url,
        integration_id=integration_id,
        lms_context=lms_context or {},
    )
    for a in answers:
        submission.answers.append(
            Answer(problem_id=problems[a.problem].id, position=a.problem, text=a.answer, work=list(a.work))
        )
    session.add(submission)
    try:
        session.flush()
        session.add(Job(kind="grade", subject_id=submission.id))
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_external(session, assignment.teacher_id, source, external_id) if external_id else None
        if existing is None:
            raise
        return existing, False
    return submission, True


def find_external(session: Session, teacher_id: int, source: Source, external_id: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.teacher_id == teacher_id,
            Submission.source == source.value,
            Submission.external_id == external_id,
        )
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
