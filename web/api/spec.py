"""How an API route declares its shapes, once: `@operation(...)` names the request and response
models; `request_body()` validates against the declared model; the OpenAPI document
(`web.api.openapi`) is generated from the same declarations; and under test every JSON answer is
checked against its declared model.

    @bp.post("/assignments")
    @operation("createAssignment", body=AssignmentIn, responses={201: AssignmentCreated}, errors=BODY_ERRORS)
    def create_assignment():
        body = request_body()          # an AssignmentIn, or a 400/413/415 ApiError
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from store.schemas import as_intake_error
from web.errors import ApiError

# Error statuses a route may answer; 401 is added to every operation that needs a token.
BODY_ERRORS = (400, 413, 415)
NOT_FOUND = (404,)
ERROR_TEXT = {
    400: "Invalid payload; `field` names the part at fault (e.g. `answers[1].problem`)",
    401: "Missing or invalid API token",
    403: "Not allowed",
    404: "Not found, or another teacher's",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Body is not application/json",
    503: "A service it needs is down; retry after `Retry-After` seconds",
}


@dataclass(frozen=True)
class Media:
    """A non-JSON answer (a CSV file, say): its media type and a description."""

    media_type: str
    description: str


@dataclass(frozen=True)
class Operation:
    operation_id: str
    responses: dict[int, type[BaseModel] | Media]
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    public: bool = False
    summary: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    query: type[BaseModel] | None = None  # query-string parameters (workflow routes), see `request_query`


def operation(
    operation_id: str,
    *,
    responses: dict[int, type[BaseModel] | Media],
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    public: bool = False,
    summary: str | None = None,
    tags: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
) -> Callable:
    """Declare a view's request body, success responses and error statuses (put it under `@bp.get/post`)."""
    op = Operation(operation_id, dict(responses), body, tuple(errors), public, summary, tuple(tags), query)

    def declare(view: Callable) -> Callable:
        view.__api_operation__ = op  # type: ignore[attr-defined]
        return view

    return declare


def operation_of(view: Callable | None) -> Operation | None:
    return getattr(view, "__api_operation__", None)


def current_operation() -> Operation | None:
    return operation_of(current_app.view_functions.get(request.endpoint or ""))


def request_body(**context: Any) -> Any:
    """The JSON body validated against the current route's declared `body` model.

    `context` reaches the model's validators (e.g. `problems=3` bounds answer positions).
    """
    op = current_operation()
    if op is None or op.body is None:
        raise RuntimeError(f"{request.endpoint} declares no request body")
    data = json_body()
    try:
        return op.body.model_validate(data, context=context)
    except ValidationError as exc:
        error = as_intake_error(exc)
        raise ApiError(400, "invalid_payload", f"{error.field} {error.message}.", field=error.field) from None


def request_query() -> Any:
    """The query string validated against the current route's declared `query` model (400 with the
    parameter's name as `field` for an unknown, repeated or bad one)."""
    op = current_operation()
    if op is None or op.query is None:
        raise RuntimeError(f"{request.endpoint} declares no query model")
    values = request.args.to_dict(flat=False)
    repeated = next((k for k, v in values.items() if len(v) > 1), None)
    if repeated is not None:
        raise ApiError(400, "invalid_payload", f"{repeated} is given more than once.", field=repeated)
    try:
        return op.query.model_validate({k: v[0] for k, v in values.items()})
    except ValidationError as exc:
        error = as_intake_error(exc)
        raise ApiError(400, "invalid_payload", f"{error.field} {error.message}.", field=error.field) from None


def json_body() -> dict:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body = parse_json(request.get_data(cache=True))
    if body is None:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_payload", "The body must be a JSON object.")
    return body


def parse_json(data: bytes) -> Any:
    """Decode a JSON body; None when it is not JSON (or nested deeper than Python can follow)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def check_response(response):
    """Under test, a JSON answer must match the model its route declares for that status."""
    op = current_operation()
    if op is None or not response.is_json:
        return response
    from web.api.schemas import ErrorOut

    model = op.responses.get(response.status_code) or (ErrorOut if response.status_code >= 400 else None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        try:
            model.model_validate(response.get_json())
        except ValidationError as exc:
            message = f"{request.endpoint} answered {response.status_code} off its declared model: {exc}"
            raise AssertionError(message) from None
    return response
