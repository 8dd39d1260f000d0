"""Request, query and response shapes of the workflow routes (web/api/workflow.py), declared once."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    field_validator,
    model_validator,
)

from store.overrides import MAX_FEEDBACK
from store.schemas import (
    KeyText,
    Strict,
    SubmissionIn,
    _fail,
    _policy_schema,
    check_policy,
)
from web.api.schemas import Out

MAX_ID = 2**31 - 1
Id = Field(ge=1, le=MAX_ID)


# --- requests ---------------------------------------------------------------------------------


class OverrideIn(Strict):
    """A teacher's grade: points awarded (0 to the problem's points) and optional feedback."""

    score: float = Field(ge=0, description="points awarded, from 0 to the problem's points")
    feedback: str | None = Field(default=None, max_length=MAX_FEEDBACK)


class ResolveIn(Strict):
    """Settle a review item: accept the proposed grade, or correct it with a score."""

    action: Literal["accept", "correct"]
    score: float | None = Field(default=None, ge=0, description="required to correct")
    feedback: str | None = Field(default=None, max_length=MAX_FEEDBACK)


class ProblemPatch(Strict):
    """A new key and/or policy; the problem's graded answers are graded again and the changes listed."""

    answer: KeyText = Field(default=None, description="the key; null removes it")
    policy: dict[str, Any] | None = Field(default=None, json_schema_extra=lambda schema: _policy_schema(schema))

    @field_validator("policy", mode="after")
    @classmethod
    def _policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_policy(value)

    @model_validator(mode="after")
    def _something(self) -> ProblemPatch:
        if not self.model_fields_set:
            raise _fail("send answer and/or policy")
        return self


class UploadIn(Strict):
    """Many students at once; a student already stored is replaced or skipped, never duplicated."""

    submissions: list[SubmissionIn] = Field(min_length=1, max_length=5000)
    on_duplicate: Literal["replace", "skip"] = Field(default="replace")
    preview: bool = Field(default=False, description="true: store nothing, say what would happen")


class SettingsIn(Strict):
    gradebook: Literal["latest", "best"] | None = Field(default=None, description="the submission a gradebook counts")


class BatchIn(Strict):
    assignment: int | None = Field(default=None, ge=1, le=MAX_ID, description="only this assignment")


# --- query strings (lax: the values arrive as text) -------------------------------------------------


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewQuery(Query):
    assignment: int | None = Field(default=None, ge=1, le=MAX_ID, description="only this assignment")


class HistoryQuery(Query):
    answer: int | None = Field(default=None, ge=1, le=MAX_ID, description="only this answer")
    group: int | None = Field(default=None, ge=1, le=MAX_ID, description="only this group")


class PickQuery(Query):
    pick: Literal["latest", "best"] | None = Field(default=None, description="default: your gradebook setting")


class GradebookQuery(PickQuery):
    format: Literal["generic", "canvas", "moodle"] = Field(default="generic", description="column layout")


# --- responses --------------------------------------------------------------------------------


class ProgressOut(Out):
    """Submissions by state."""

    total: int
    queued: int
    grading: int
    graded: int
    needs_review: int
    failed: int


class GroupOut(Out):
    id: int
    answer: str
    interpreted: str | None
    size: int
    status: str
    score: float | None
    points: float
    feedback: str | None
    overridden: bool


class GroupList(RootModel[list[GroupOut]]):
    """Answer groups of one problem, largest first."""


class ChangedOut(Out):
    """What changed: answers regraded or overridden, and their submissions."""

    answers: int
    submissions: list[int]
    group: int | None = None
    answer: int | None = None


class Verdict(Out):
    status: str | None
    score: float | None
    feedback: str | None = None


class AuditOut(Out):
    id: int
    teacher: int
    kind: Literal["answer", "group"]
    action: Literal["set", "undo", "accept"]
    answer: int | None
    group: int | None
    problem: int | None
    answers: int
    old: Verdict
    new: Verdict
    at: str | None


class AuditList(RootModel[list[AuditOut]]):
    """Override history, newest first: who, when, old -> new."""


class ReviewItem(Out):
    answer_id: int
    submission: int
    assignment: int
    student: str
    problem: int
    statement: str
    reason: Literal["no_key", "unreadable", "key_disagrees", "timeout"]
    message: str
    answer: str
    interpreted: str | None
    status: str
    score: float | None
    points: float
    feedback: str | None
    key: str | None
    model_answer: str | None
    model_agreement: float | None
    proposed_score: float | None


class ReviewList(RootModel[list[ReviewItem]]):
    """Every answer that needs a teacher, with the reason."""


class ChangedAnswer(Out):
    answer_id: int
    submission: int
    student: str
    answer: str
    old: Verdict
    new: Verdict


class RegradeOut(Out):
    """Regraded after a key or policy change; what changed."""

    problem: int
    regraded: int
    changed_count: int
    message: str = Field(description='e.g. "7 answers changed"')
    changed: list[ChangedAnswer]
    waiting: int


class LmsNote(Out):
    linked: int = Field(description="LMS-linked submissions among those deleted")
    message: str | None = Field(description="what happens to the LMS gradebook")
    lti_links: int | None = None


class DeletedOut(Out):
    """What was deleted, and what it means for an LMS gradebook."""

    submissions: int
    answers: int
    lms: LmsNote
    assignment: int | None = None
    problems: int | None = None


class ReportAnswer(Out):
    problem: int
    statement: str
    answer: str
    status: str
    score: float | None
    points: float
    feedback: str | None
    graded_by: str | None = None
    worked_solution: str | None = None


class ReportOut(Out):
    """A per-student feedback report."""

    assignment: dict[str, Any]
    student: str
    submission: int
    status: str
    score: float | None
    max_score: float
    graded_at: str | None
    answers: list[ReportAnswer]


class UploadOut(Out):
    """What the upload did (or, previewed, would do)."""

    created: int
    replaced: int
    unchanged: int
    skipped: int
    submissions: list[int] = Field(description="stored submission ids (empty for a preview)")
    duplicates: dict[str, int] = Field(default_factory=dict, description="student -> stored submission id")
    preview: bool = False


class SettingsOut(Out):
    """Your settings."""

    gradebook: Literal["latest", "best"]


class BatchOut(Out):
    """One batch: references, then grading, then LMS passback."""

    id: int
    status: Literal["running", "done"]
    stage: Literal["references", "grading", "passback", "done"]
    trigger: str
    assignment: int | None
    total: int
    graded: int
    needs_review: int
    failed: int
    pending: int
    started: str
    finished: str | None
    error: str | None = None


class BatchList(RootModel[list[BatchOut]]):
    """Your batches, newest first."""
