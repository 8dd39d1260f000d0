"""Response shapes of `/api/v1`, declared once; request shapes live in `store.schemas` (every
intake path shares them). Routes name these in `@operation(...)`; the OpenAPI document and the
test-time response check are generated from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store.models import Source, SubmissionStatus
from store.schemas import AssignmentIn, SubmissionIn

__all__ = [
    "AnswerOut",
    "AssignmentCreated",
    "AssignmentIn",
    "AssignmentList",
    "AssignmentOut",
    "ErrorOut",
    "SubmissionAccepted",
    "SubmissionIn",
    "SubmissionOut",
]

GradeStatus = Literal["pending", "correct", "partial", "incorrect", "invalid", "timeout", "needs_review"]


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")  # answers may grow fields; clients ignore what they don't know


class ErrorOut(Out):
    error: str = Field(description="A short code, e.g. `invalid_payload`")
    message: str
    field: str | None = Field(default=None, description="The part of the payload at fault, e.g. `answers[1].problem`")


class ProblemRef(Out):
    id: int
    position: int


class AssignmentCreated(Out):
    id: int
    title: str
    url: str
    problems: list[ProblemRef]


class AssignmentSummary(Out):
    id: int
    title: str
    problems: int = Field(description="How many problems")


class AssignmentList(Out):
    assignments: list[AssignmentSummary]


class ReferenceOut(Out):
    status: str
    final_answer: str | None
    agreement: float | None
    samples: int
    model: str | None
    disagrees_with_key: bool | None


class ProblemOut(Out):
    id: int
    position: int
    statement: str
    answer: str | None
    points: float
    policy: dict[str, Any]
    reference: ReferenceOut | None


class AssignmentOut(Out):
    id: int
    title: str
    max_score: float
    created_at: str | None
    problems: list[ProblemOut]


class AnswerOut(Out):
    problem: int
    answer: str
    work: list[str]
    status: GradeStatus
    score: float | None
    points: float
    feedback: str | None
    interpreted: str | None
    first_error: int | None
    diagnosis: str | None
    steps: list[dict[str, Any]]
    reference: Literal["key", "model", "teacher"] | None = Field(
        description="What the grade was checked against: the key, the model's answer, or a teacher's override"
    )
    overridden: bool = Field(default=False, description="a teacher's override set this grade")
    graded_by: Literal["teacher", "grader"] | None = Field(default=None, description="teacher: say so to the student")


class SubmissionOut(Out):
    id: int
    assignment: int
    student: str
    source: Source
    external_id: str | None
    status: SubmissionStatus
    score: float | None = Field(description="null while an answer needs the teacher (never 0 for it)")
    needs_review: int = Field(default=0, description="answers waiting for the teacher")
    max_score: float
    created_at: str | None
    graded_at: str | None
    answers: list[AnswerOut]


class SubmissionAccepted(Out):
    id: int
    status: SubmissionStatus
    url: str
    created: bool = Field(description="false: the stored submission for a repeated external_id")
