"""Input shapes, declared once (pydantic v2): every intake path validates with these models, and the
API's OpenAPI document is generated from the same declarations, so the two cannot disagree.

A validation failure becomes `IntakeError(field, message)`, with `field` a path such as
`answers[1].problem` and a short readable message.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo
from pydantic import field_validator as _field_validator
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

MAX_TEXT = 10_000  # characters in one answer, statement or key
MAX_WORK_LINES = 100
MAX_WORK_LINE = 2_000
MAX_PROBLEMS = 500
MAX_STUDENT = 255
MAX_TITLE = 500
MAX_POINTS = 1000
# Policy settings a teacher may set; the grader's own Policy decides their values.
API_POLICY_EXCLUDED = {"timeout", "max_length"}  # operational limits stay with the install

M = TypeVar("M")


class IntakeError(ValueError):
    """Bad input; `field` names the part of the payload at fault (e.g. `answers[2].answer`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _fail(message: str, at: str = "") -> PydanticCustomError:
    """A validation error with our own message; `at` extends the field path (".mode", "[1].problem")."""
    return PydanticCustomError("intake", "{message}", {"message": message, "at": at})


def _clean(limit: int, *, required: bool):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        text = unicodedata.normalize("NFC", value)
        if "\x00" in text:
            raise _fail("must not contain NUL characters")
        if len(text) > limit:
            raise _fail(f"is longer than {limit} characters")
        if not text.strip():
            if required:
                raise _fail("must not be empty")
            return None
        return text

    return check


def text_field(limit: int, *, required: bool = True, strip: bool = False):
    """A string field: NFC-normalised, no NUL, at most `limit` characters, non-blank when required."""
    after = [AfterValidator(_clean(limit, required=required))]
    if strip:
        after.append(AfterValidator(lambda v: v.strip() if v else v))
    schema: dict[str, Any] = {"maxLength": limit}
    if required:
        schema.update(minLength=1, pattern=r"\S")
        return Annotated[str, Field(json_schema_extra=schema), *after]
    return Annotated[str | None, Field(json_schema_extra=schema), *after]


Statement = text_field(MAX_TEXT)
Title = text_field(MAX_TITLE, strip=True)
Student = text_field(MAX_STUDENT, strip=True)
ExternalId = text_field(255, required=False, strip=True)
KeyText = text_field(MAX_TEXT, required=False)
WorkLine = text_field(MAX_WORK_LINE)


def check_policy(raw: dict[str, Any]) -> dict[str, Any]:
    """The one gate for teacher-set policies: the grader's own `Policy.from_dict` decides, so its
    limits are written once. Operational keys (`timeout`, `max_length`) are the install's, not a teacher's."""
    from grader import Policy, PolicyError

    for key in raw:
        if key in API_POLICY_EXCLUDED:
            raise _fail("is not a policy setting", f".{key}")
    try:
        Policy.from_dict(raw)
    except PolicyError as exc:
        if exc.field:
            raise _fail(exc.message, f".{exc.field}") from None
        raise _fail(exc.message) from None
    return dict(raw)


def _policy_schema(schema: dict[str, Any]) -> None:
    """Document the policy from the grader's own Policy fields, so the document follows the grader."""
    from grader import Policy

    generated = TypeAdapter(Policy).json_schema()
    settings = {k: v for k, v in generated["properties"].items() if k not in API_POLICY_EXCLUDED}
    policy = {"type": "object", "additionalProperties": False, "properties": settings}
    schema.clear()
    schema.update(
        anyOf=[policy, {"type": "null"}],
        default=None,
        description="How answers are compared (the grader's Policy; it decides the allowed values).\n\n"
        + generated.get("description", ""),
    )


POLICY = TypeAdapter(Annotated[dict[str, Any], AfterValidator(check_policy)] | None, config=ConfigDict(strict=True))


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, frozen=True)


class ProblemIn(Strict):
    """One problem of an assignment: the statement, an optional key, points and a grading policy."""

    statement: Statement
    answer: KeyText = Field(default=None, description="The answer key; without one a model solves it")
    points: float = Field(default=1.0, gt=0, le=MAX_POINTS)
    policy: dict[str, Any] | None = Field(default=None, json_schema_extra=lambda schema: _policy_schema(schema))

    @_field_validator("policy", mode="after")
    @classmethod
    def _policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_policy(value)

    @_model_validator(mode="after")
    def _key_is_readable(self) -> ProblemIn:
        """A key the grader cannot read is refused at the door, in the grader's words, rather than
        stored and then failing every student's answer."""
        check_key(self.answer, self.policy, at=".answer")
        return self


def check_key(key: str | None, policy: dict[str, Any] | None, *, at: str = "") -> None:
    """Refuse an answer key the grader cannot read (API, form, CSV and key edits all come here)."""
    if key is None or not key.strip():
        return
    from grader import read_key

    reading = read_key(key, policy)
    if not reading.ok:
        raise _fail(reading.message or "could not be read", at)


class AssignmentIn(Strict):
    title: Title
    problems: list[ProblemIn] = Field(min_length=1, max_length=MAX_PROBLEMS)
    worked_solutions: bool = Field(
        default=False,
        description="Also have the model write worked solutions for problems that have a key "
        "(problems without a key always get one when a model is installed)",
    )


class AnswerIn(Strict):
    problem: int = Field(ge=1, description="1-based problem position")
    answer: Annotated[str, Field(max_length=MAX_TEXT)] | int | float | None = Field(
        description="The final answer (may be empty)"
    )
    work: list[WorkLine] = Field(default_factory=list, max_length=MAX_WORK_LINES, description="Lines of working")

    @_field_validator("problem", mode="after")
    @classmethod
    def _in_range(cls, value: int, info: ValidationInfo) -> int:
        count = (info.context or {}).get("problems")
        if count is not None and value > count:
            raise _fail(f"must be a problem number from 1 to {count}")
        return value

    @_field_validator("answer", mode="after")
    @classmethod
    def _answer_text(cls, value: str | int | float | None) -> str:
        if value is None:
            return ""
        return _clean(MAX_TEXT, required=False)(str(value)) or ""


def _fits(value: list[AnswerIn], info: ValidationInfo) -> list[AnswerIn]:
    """Context checks on a list of answers: no more than the assignment's problems, none twice."""
    count = (info.context or {}).get("problems")
    if count is not None and len(value) > count:
        raise _fail(f"has more answers than the assignment's {count} problems")
    seen: set[int] = set()
    for i, answer in enumerate(value):
        if answer.problem in seen:
            raise _fail(f"problem {answer.problem} is answered twice", f"[{i}].problem")
        seen.add(answer.problem)
    return value


Answers = Annotated[list[AnswerIn], Field(min_length=1), AfterValidator(_fits)]


class AnswersIn(Strict):
    answers: Answers


class SubmissionIn(Strict):
    student: Student
    external_id: ExternalId = None
    answers: Answers


# --- turning pydantic's errors into ours ---------------------------------------------------


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "finite_number": "must be a finite number",
}


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "intake":
        return ctx["message"]
    if error.get("input", "") is None and kind.endswith("_type"):
        return "is required"
    if kind in ("too_short", "list_too_short") and ctx.get("min_length") == 1:
        return "must be a non-empty list"
    if kind in ("too_long", "list_too_long"):
        return f"has more than {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    return error["msg"].replace("Input should be", "must be").replace("Value error, ", "")


def as_intake_error(exc: ValidationError, prefix: str = "") -> IntakeError:
    """The first error, as `IntakeError(field path, message)`; unions report their first branch."""
    error = exc.errors(include_url=False)[0]
    loc = list(error["loc"])
    # A union (`str | int | float | None`) names its branch in the path: drop that part.
    loc = [p for p in loc if not (isinstance(p, str) and ("[" in p or p in _BRANCHES))]
    message = _message(error)
    if error["type"] in ("string_type", "int_type", "float_type") and error["loc"] != tuple(loc):
        message = "must be a string or a number"
    at = (error.get("ctx") or {}).get("at", "") if error["type"] == "intake" else ""
    return IntakeError(field_path(tuple(loc), prefix) + at, message)


_BRANCHES = {"str", "int", "float", "none", "constrained-str", "function-after"}


def validate(model: type[M] | TypeAdapter, data: Any, *, prefix: str = "", **context: Any) -> M:
    """Validate `data` against `model` (a model class or a TypeAdapter); raises IntakeError."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data, context=context)
        return model.model_validate(data, context=context)  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise as_intake_error(exc, prefix) from None


PROBLEMS = TypeAdapter(
    Annotated[list[ProblemIn], Field(min_length=1, max_length=MAX_PROBLEMS)], config=ConfigDict(strict=True)
)
