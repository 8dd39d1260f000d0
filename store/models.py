"""SQLAlchemy 2 typed models: the database, not Celery, holds every piece of state."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Source(enum.StrEnum):
    dashboard = "dashboard"
    api = "api"
    lms = "lms"
    batch = "batch"


class SubmissionStatus(enum.StrEnum):
    queued = "queued"
    grading = "grading"  # kept for stored rows: grading now goes from queued to graded in one write
    graded = "graded"
    needs_review = "needs_review"
    failed = "failed"


class ReferenceStatus(enum.StrEnum):
    pending = "pending"  # waiting for a reasoning worker
    running = "running"
    ready = "ready"  # voted answer with enough agreement
    needs_review = "needs_review"  # low agreement or no answer: a teacher must decide
    unavailable = "unavailable"  # no model on this install
    failed = "failed"


class Teacher(Base):
    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # Named by every dashboard session; replaced at logout, which ends every copy of the session.
    session_nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="teacher", cascade="all, delete-orphan")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="teacher", cascade="all, delete-orphan")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the prefix helps a teacher tell tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    teacher: Mapped[Teacher] = relationship(back_populates="tokens")


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    teacher: Mapped[Teacher] = relationship(back_populates="assignments")
    problems: Mapped[list[Problem]] = relationship(
        back_populates="assignment", order_by="Problem.position", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(back_populates="assignment", cascade="all, delete-orphan")

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.problems)


class Problem(Base):
    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("assignment_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, as teachers number them
    statement: Mapped[str] = mapped_column(Text)
    answer_key: Mapped[str | None] = mapped_column(Text)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("reference_solutions.id", ondelete="SET NULL"))
    # The teacher's key and the model's voted answer differ (the key still wins); None: nothing to
    # compare. Stored when the key or the reference changes (store.grading), never on page view.
    key_disagrees: Mapped[bool | None]
    # A teacher overrode an answer of this problem, or one of its answer groups: grading looks
    # overrides up only for such problems (store.overrides sets it; it is never cleared).
    overridden: Mapped[bool] = mapped_column(default=False, server_default=false())

    assignment: Mapped[Assignment] = relationship(back_populates="problems")
    reference: Mapped[ReferenceSolution | None] = relationship()


class Submission(Base):
    __tablename__ = "submissions"
    # An external id names one submission per assignment and source: the same LMS file sent to a
    # second assignment is a new submission there.
    __table_args__ = (
        UniqueConstraint("assignment_id", "source", "external_id", name="uq_submissions_assignment_external"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"), index=True)
    student: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.queued.value, index=True)
    score: Mapped[float | None]
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    # LMS context: which integration delivered it and where its grade goes back.
    integration_id: Mapped[int | None] = mapped_column(Integer, index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    lms_context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    graded_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship(back_populates="submissions")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="Answer.position"
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("submission_id", "problem_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    work: Mapped[list[Any]] = mapped_column(default=list)

    submission: Mapped[Submission] = relationship(back_populates="answers")
    problem: Mapped[Problem] = relationship()
    grade: Mapped[Grade | None] = relationship(back_populates="answer", cascade="all, delete-orphan", uselist=False)


class Grade(Base):
    """One grade per answer (unique), so grading twice overwrites instead of adding."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # correct|partial|incorrect|invalid|timeout|needs_review
    score: Mapped[float] = mapped_column(Float, default=0.0)  # points awarded
    points: Mapped[float] = mapped_column(Float, default=1.0)  # points possible
    feedback: Mapped[str] = mapped_column(Text, default="")
    interpreted: Mapped[str | None] = mapped_column(Text)
    diagnosis: Mapped[str | None] = mapped_column(String(64))
    first_error: Mapped[int | None]
    steps: Mapped[list[Any]] = mapped_column(default=list)
    reference_source: Mapped[str | None] = mapped_column(String(16))  # "key" | "model"
    grader_version: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    answer: Mapped[Answer] = relationship(back_populates="grade")


class ReferenceSolution(Base):
    """Model-written solution, cached by (statement hash, model id, generation settings)."""

    __tablename__ = "reference_solutions"
    __table_args__ = (UniqueConstraint("cache_key", name="uq_reference_solutions_cache_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64))
    statement_hash: Mapped[str] = mapped_column(String(64), index=True)
    statement: Mapped[str] = mapped_column(Text)
    model_id: Mapped[str] = mapped_column(String(255))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ReferenceStatus.pending.value, index=True)
    # 0 interactive (a teacher or an LMS launch waits), 1 batch/nightly; claims take it with aging.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reasoning: Mapped[str | None] = mapped_column(Text)  # the chosen sample's full text, thinking included
    final_answer: Mapped[str | None] = mapped_column(Text)
    samples: Mapped[list[Any]] = mapped_column(default=list)  # [{text, answer, tokens, truncated, forced}]
    agreement: Mapped[float | None]
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    latency_s: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobStatus(enum.StrEnum):
    queued = "queued"  # stored; a message is (or will be, by the sweeper) on its way
    waiting = "waiting"  # parked until a model reference is written; that task reopens it
    running = "running"  # claimed by the task whose id is `task_id`
    done = "done"
    failed = "failed"
    superseded = "superseded"  # a newer job for the same subject made this one's work moot


class Job(Base):
    """Background work as the database sees it: status, attempts, timestamps, versions.

    The job row is the guard: a task claims it (queued, or running but stale) before working, so a
    duplicate message, a redelivery or a `stepwise requeue` never grades anything twice.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # grade | reason | passback
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # a JobStatus value
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped each time an open job is asked for again (store.jobs.open_job): a task finishes the
    # job only at the revision it read, so a key changed while it computed is not lost.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    task_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # When a message for this job was last handed to the broker; NULL: never (the broker was down).
    enqueued_at: Mapped[datetime | None]
