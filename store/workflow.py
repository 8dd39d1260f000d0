"""Tables of the teacher workflow (issue 9): answer groups, overrides and their audit, batches, settings.

Kept apart from store/models.py so the core schema and this one evolve without stepping on each
other; store/metadata.py imports this module so Alembic and create_all see the tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class AnswerGroup(Base):
    """Answers to one problem that read the same (normalised text) or the grader finds equal.

    A teacher's override of the group lives here and applies to every member, present and future.
    """

    __tablename__ = "answer_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(Text)  # the representative, as the first student wrote it
    override_score: Mapped[float | None]  # points awarded to every member; None: no override
    override_feedback: Mapped[str | None] = mapped_column(Text)
    overridden_by: Mapped[int | None] = mapped_column(Integer)  # teacher id
    overridden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerGroupText(Base):
    """One normalised answer text (by digest) of a problem, and the group it belongs to."""

    __tablename__ = "answer_group_texts"
    __table_args__ = (UniqueConstraint("problem_id", "digest", name="uq_answer_group_texts_problem_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("answer_groups.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised text


class AnswerOverride(Base):
    """A teacher's own grade for one answer; wins over a group override and over the grader."""

    __tablename__ = "answer_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), unique=True)
    score: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str | None] = mapped_column(Text)
    teacher_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OverrideAudit(Base):
    """Every override set or undone: who, when, what, old -> new. Never updated, never deleted
    with the answer (plain ids, no foreign keys), so the record outlives what it describes."""

    __tablename__ = "override_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # answer | group
    action: Mapped[str] = mapped_column(String(16))  # set | undo | accept
    answer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    group_id: Mapped[int | None] = mapped_column(Integer, index=True)
    problem_id: Mapped[int | None] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer, default=0)  # how many answers it changed
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    old_score: Mapped[float | None]
    new_score: Mapped[float | None]
    old_feedback: Mapped[str | None] = mapped_column(Text)
    new_feedback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """One run of the overnight job: references, then grading, then LMS passback."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int | None] = mapped_column(Integer, index=True)  # None: every teacher (nightly)
    assignment_id: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | cli | api
    stage: Mapped[str] = mapped_column(String(16), default="references")  # references|grading|passback|done
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)  # running | done
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    advanced_at: Mapped[datetime | None]  # last time a driver looked at it
    finished_at: Mapped[datetime | None]


class BatchItem(Base):
    """A submission in a batch. `runs` counts committed gradings: exactly one when all is well."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("batch_id", "submission_id", name="uq_batch_items_batch_submission"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    done_at: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]  # last time its grading task was sent
    passback_at: Mapped[datetime | None]


class TeacherSetting(Base):
    """Per-teacher choices of the workflow (which submission the gradebook counts, ...)."""

    __tablename__ = "teacher_settings"

    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"), primary_key=True)
    gradebook: Mapped[str] = mapped_column(String(16), default="latest")  # latest | best
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
