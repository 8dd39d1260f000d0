"""The one way submissions and assignments enter Stepwise, shared by every intake path.

Dashboard, API, LMS webhook and batch all call these functions: validate, store, commit, and
only then hand the ids to the queue, so a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from store.grading import refresh_disagreement
from store.jobs import GRADE as GRADE_JOB
from store.jobs import now as jobs_now
from store.models import (
    Answer,
    Assignment,
    Job,
    JobStatus,
    Problem,
    ReferenceSolution,
    ReferenceStatus,
    Source,
    Submission,
    SubmissionStatus,
    Teacher,
)
from store.reasoning import raise_priority
from store.refkeys import reference_cache_key
from store.schemas import (  # the shapes live in store.schemas; IntakeError and the limits are re-exported
    MAX_PROBLEMS,
    MAX_STUDENT,
    MAX_TEXT,
    MAX_TITLE,
    MAX_WORK_LINES,
    POLICY,
    PROBLEMS,
    AnswersIn,
    IntakeError,
    SubmissionIn,
    validate,
)
from store.schemas import ExternalId as _ExternalId
from store.schemas import Student as _Student
from store.schemas import Title as _Title
from store.schemas import text_field as _text_type


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


# --- validation: the shapes are declared once in store.schemas ------------------------------


def parse_problems(raw: Any) -> list[ProblemIn]:
    """Validate the `problems` list of an assignment payload."""
    return problems_in(validate(PROBLEMS, raw, prefix="problems"))


def problems_in(problems) -> list[ProblemIn]:
    return [ProblemIn(p.statement, p.answer, p.points, p.policy) for p in problems]


def parse_answers(raw: Any, problem_count: int) -> list[AnswerIn]:
    """Validate the `answers` list of a submission payload against the assignment's size."""
    parsed = validate(AnswersIn, {"answers": raw}, problems=problem_count)
    return answers_in(parsed.answers)


def answers_in(answers) -> list[AnswerIn]:
    return [AnswerIn(problem=a.problem, answer=a.answer, work=tuple(a.work)) for a in answers]


def parse_student(raw: Any) -> str:
    return validate(_STUDENT, raw, prefix="student")


def parse_external_id(raw: Any) -> str | None:
    return validate(_EXTERNAL_ID, raw, prefix="external_id")


def _text(value: Any, field: str, *, limit: int = MAX_TEXT, required: bool = True, numbers: bool = False):
    """One text value checked by the declared text rules (kept for callers of the old helper)."""
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return validate(TypeAdapter(_text_type(limit, required=required), config=_STRICT), value, prefix=field)


def _policy(raw: Any, field: str) -> dict[str, Any] | None:
    """A teacher-set policy checked by the grader's Policy (kept for callers of the old helper)."""
    return validate(POLICY, raw, prefix=field)


_STRICT = ConfigDict(strict=True)
_STUDENT = TypeAdapter(_Student, config=_STRICT)
_EXTERNAL_ID = TypeAdapter(_ExternalId, config=_STRICT)
_TITLE = TypeAdapter(_Title, config=_STRICT)


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
    """Add an assignment (flushed, not committed); returns it and the ids of reference solutions
    that need a model run. The caller (the intake service) enqueues them and commits.

    `reference_settings` gives (model id, generation settings) when a model may be asked; when it
    is None, problems without a key are marked for teacher review instead. Keyed problems use no
    GPU unless the teacher asks for `worked_solutions`. `priority`: 0 interactive, 1 batch/nightly
    (store/reasoning.py claims interactive rows first, with aging).
    """
    assignment = Assignment(teacher_id=teacher.id, title=validate(_TITLE, title, prefix="title"))
    session.add(assignment)
    to_solve: list[ReferenceSolution] = []
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
            elif p.answer and reference.final_answer:  # a cached model answer to compare the key with
                refresh_disagreement(problem)
    session.flush()
    return assignment, [r.id for r in to_solve if r.status == ReferenceStatus.pending.value]


def _reference_for(
    session: Session, statement: str, reference_settings, priority: int = 0
) -> tuple[ReferenceSolution, bool]:
    """Get or create the cached reference solution for this statement and model settings."""
    if reference_settings is None:
        model_id, gen = "none", {}
    else:
        model_id, gen = reference_settings()
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


@dataclass(frozen=True)
class Target:
    """What storing a submission needs of its assignment, read in one query (`intake_target`)."""

    id: int
    teacher_id: int
    problem_ids: dict[int, int]  # position -> problem id
    max_score: float


def intake_target(session: Session, assignment_id: int, teacher_id: int | None = None) -> Target | None:
    """The assignment's owner and problems as plain values (no ORM objects: intake reads nothing
    else); None when it does not exist or belongs to another teacher."""
    rows = session.execute(
        select(Assignment.teacher_id, Problem.position, Problem.id, Problem.points)
        .join(Problem, Problem.assignment_id == Assignment.id)
        .where(Assignment.id == assignment_id)
    ).all()
    if not rows or (teacher_id is not None and rows[0].teacher_id != teacher_id):
        return None
    return Target(assignment_id, rows[0].teacher_id, {r.position: r.id for r in rows}, sum(r.points for r in rows))


def _target_of(assignment: Assignment | Target) -> Target:
    if isinstance(assignment, Target):
        return assignment
    problems = {p.position: p.id for p in assignment.problems}
    return Target(assignment.id, assignment.teacher_id, problems, assignment.max_score)


def create_submission(
    session: Session,
    assignment: Assignment | Target,
    *,
    student: str,
    answers: list[AnswerIn],
    source: Source,
    external_id: str | None = None,
    callback_url: str | None = None,
    integration_id: int | None = None,
    lms_context: dict[str, Any] | None = None,
) -> tuple[Submission, bool]:
    """Add a submission and its queued grading job (flushed, not committed); returns
    (submission, created). The same (assignment, source, external id) again returns the stored one.
    """
    store = _insert_in_one_statement if session.get_bind().dialect.name == "postgresql" else _insert_portably
    new = NewSubmission(student, source, external_id, callback_url, integration_id, lms_context or {})
    return store(session, _target_of(assignment), answers, new)


@dataclass(frozen=True)
class NewSubmission:
    """A submission's own fields, as the intake path received them."""

    student: str
    source: Source
    external_id: str | None
    callback_url: str | None
    integration_id: int | None
    lms_context: dict[str, Any]

    def columns(self, assignment: Target) -> dict[str, Any]:
        """Its `submissions` columns (all but the id and the timestamps) for this assignment."""
        return {
            "assignment_id": assignment.id,
            "teacher_id": assignment.teacher_id,
            "student": self.student,
            "source": self.source.value,
            "external_id": self.external_id,
            "status": SubmissionStatus.queued.value,
            "max_score": assignment.max_score,
            "integration_id": self.integration_id,
            "callback_url": self.callback_url,
            "lms_context": self.lms_context,
        }


def _insert_portably(
    session: Session, assignment: Target, answers: list[AnswerIn], new: NewSubmission
) -> tuple[Submission, bool]:
    """Any database: the submission (its id from the flush), its answers in one executemany, its job."""
    external_id = new.external_id
    if external_id:
        existing = find_external(session, assignment.id, new.source, external_id)
        if existing is not None:
            return existing, False
    submission = Submission(**new.columns(assignment))
    if not external_id:  # nothing unique to collide on: no savepoint needed
        session.add(submission)
        session.flush()
    else:
        try:
            with session.begin_nested():  # a concurrent duplicate loses here, not the whole transaction
                session.add(submission)
                session.flush()
        except IntegrityError:
            existing = find_external(session, assignment.id, new.source, external_id)
            if existing is None:
                raise
            return existing, False
    # The answers and the job as two plain INSERTs (one executemany for the answers), not as ORM
    # objects: intake is a handful of statements, and no time goes to tracking rows not read again.
    rows = [
        {
            "submission_id": submission.id,
            "problem_id": assignment.problem_ids[a.problem],
            "position": a.problem,
            "text": a.answer,
            "work": list(a.work),
        }
        for a in answers
    ]
    if rows:
        session.execute(insert(Answer), rows)
    job = {"kind": GRADE_JOB, "subject_id": submission.id, "status": JobStatus.queued.value, "enqueued_at": jobs_now()}
    session.execute(insert(Job).values(**job))
    return submission, True


# Postgres stores a submission, its answers and its grading job in one statement (one round trip):
# data-modifying CTEs, the answers as parallel arrays through unnest. A duplicate external id
# inserts nothing (ON CONFLICT on the unique constraint, also against a concurrent duplicate) and
# the stored submission is returned instead. Other databases take the portable path above;
# tests/test_intake_paths.py checks on Postgres that both store the same rows.
_ONE_STATEMENT = text(
    """
    WITH s AS (
        INSERT INTO submissions (assignment_id, teacher_id, student, source, external_id, status,
                                 max_score, integration_id, callback_url, lms_context, created_at, updated_at)
        VALUES (:assignment_id, :teacher_id, :student, :source, :external_id, :status,
                :max_score, :integration_id, :callback_url, CAST(:lms_context AS JSON), :now, :now)
        ON CONFLICT ON CONSTRAINT uq_submissions_assignment_external DO NOTHING
        RETURNING id
    ), a AS (
        INSERT INTO answers (submission_id, problem_id, position, text, work)
        SELECT s.id, x.problem_id, x.position, x.text, CAST(x.work AS JSON)
        FROM s, unnest(CAST(:problem_ids AS INTEGER[]), CAST(:positions AS INTEGER[]),
                       CAST(:texts AS TEXT[]), CAST(:works AS TEXT[])) AS x(problem_id, position, text, work)
    ), j AS (
        INSERT INTO jobs (kind, subject_id, status, attempts, revision, versions, created_at, enqueued_at)
        SELECT :kind, s.id, :job_status, 0, 0, CAST('{}' AS JSON), :now, :now FROM s
    )
    SELECT id FROM s
    """
)


def _insert_in_one_statement(
    session: Session, assignment: Target, answers: list[AnswerIn], new: NewSubmission
) -> tuple[Submission, bool]:
    moment = jobs_now()
    columns = new.columns(assignment)
    submission_id = (
        session.connection()
        .execute(
            _ONE_STATEMENT,
            {
                **columns,
                "lms_context": json.dumps(new.lms_context),
                "now": moment,
                "problem_ids": [assignment.problem_ids[a.problem] for a in answers],
                "positions": [a.problem for a in answers],
                "texts": [a.answer for a in answers],
                "works": [json.dumps(list(a.work)) for a in answers],
                "kind": GRADE_JOB,
                "job_status": JobStatus.queued.value,
            },
        )
        .scalar()
    )
    if submission_id is None:  # the external id is stored already (perhaps a moment ago, concurrently)
        existing = find_external(session, assignment.id, new.source, new.external_id or "")
        if existing is None:
            raise RuntimeError("a submission insert conflicted on something other than its external id")
        return existing, False
    # The row as stored, as a persistent ORM object without reading it back.
    submission = Submission(
        id=submission_id, **columns, score=None, error=None, graded_at=None, created_at=moment, updated_at=moment
    )
    make_transient_to_detached(submission)
    session.add(submission)
    return submission, True


def find_external(session: Session, assignment_id: int, source: Source, external_id: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.assignment_id == assignment_id,
            Submission.source == source.value,
            Submission.external_id == external_id,
        )
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


__all__ = [
    "MAX_PROBLEMS",
    "MAX_STUDENT",
    "MAX_TEXT",
    "MAX_TITLE",
    "MAX_WORK_LINES",
    "AnswerIn",
    "IntakeError",
    "ProblemIn",
    "SubmissionIn",
    "Target",
    "answers_in",
    "create_assignment",
    "create_submission",
    "find_external",
    "intake_target",
    "parse_answers",
    "parse_external_id",
    "parse_problems",
    "parse_student",
    "problems_in",
    "token_hash",
]
