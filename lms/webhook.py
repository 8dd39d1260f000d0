"""Webhook intake: parse a `submission.created` event and store it through `store.intake`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.net import BlockedTarget, check_url_syntax
from store.intake import IntakeError, parse_answers, parse_external_id, parse_student
from store.lms.models import Integration, LtiResourceLink
from store.models import Assignment, Source
from store.settings import Settings

EVENT_TYPES = ("submission.created",)


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class ParsedEvent:
    event_id: str | None
    assignment_id: int
    student: str
    external_id: str
    answers: list
    callback_url: str | None
    lti: dict[str, Any]


def _prefixed(exc: IntakeError, prefix: str) -> IntakeError:
    return IntakeError(f"{prefix}{exc.field}", exc.message)


def _url(value: Any, field: str, integration: Integration, settings: Settings) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise IntakeError(field, "must be a URL string")
    try:
        check_url_syntax(value, integration.allowed_hosts or [], allow_private=settings.lms_allow_private)
    except BlockedTarget as exc:
        raise IntakeError(field, str(exc)) from None
    return value.strip()


def parse_event(body: bytes, integration: Integration, settings: Settings) -> ParsedEvent:
    """Validate the JSON event; raises `IntakeError(field, message)` naming the bad field."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise IntakeError("body", "is not valid JSON") from None
    if not isinstance(event, dict):
        raise IntakeError("body", "must be a JSON object")
    if event.get("type") not in EVENT_TYPES:
        raise IntakeError("type", f"must be one of: {', '.join(EVENT_TYPES)}")
    event_id = event.get("id")
    if event_id is not None and (not isinstance(event_id, str) or len(event_id) > 255):
        raise IntakeError("id", "must be a string of at most 255 characters")
    data = event.get("data")
    if not isinstance(data, dict):
        raise IntakeError("data", "must be an object")

    ref = data.get("assignment")
    if isinstance(ref, dict):
        ref = ref.get("id")
    if isinstance(ref, str) and ref.strip().isdigit():
        ref = int(ref.strip())
    if isinstance(ref, bool) or not isinstance(ref, int) or not 0 < ref < 2**31:
        raise IntakeError("data.assignment", 'must be a Stepwise assignment id (or {"id": ...})')

    try:
        student = parse_student(data.get("student"))
        external_id = parse_external_id(data.get("external_id"))
    except IntakeError as exc:
        raise _prefixed(exc, "data.") from None
    if not external_id:
        raise IntakeError("data.external_id", "is required (the LMS's submission id)")
    namespaced = f"{integration.public_id}:{external_id}"
    if len(namespaced) > 255:
        raise IntakeError("data.external_id", "is too long")

    callback_url = _url(data.get("callback_url"), "data.callback_url", integration, settings)

    lti_raw = data.get("lti")
    lti: dict[str, Any] = {}
    if lti_raw is not None:
        if not isinstance(lti_raw, dict):
            raise IntakeError("data.lti", "must be an object")
        user_id = lti_raw.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255:
            raise IntakeError("data.lti.user_id", "is required: the LTI user id (sub) of the student")
        lti["user_id"] = user_id.strip()
        lineitem = _url(lti_raw.get("lineitem"), "data.lti.lineitem", integration, settings)
        if lineitem:
            lti["lineitem"] = lineitem
        if not integration.is_lti:
            raise IntakeError("data.lti", "this integration has no LTI 1.3 registration")

    # answers last: their validation needs the assignment's size (checked by the caller)
    return ParsedEvent(event_id, ref, student, external_id, data.get("answers"), callback_url, lti)


def prepare_event(session: Session, integration: Integration, parsed: ParsedEvent) -> tuple[Assignment, dict]:
    """The assignment and the intake fields of an event's submission (`web.intake.submit_answers`
    stores it, idempotent per assignment + external id); raises NotFound, IntakeError."""
    assignment = session.get(Assignment, parsed.assignment_id)
    if assignment is None or assignment.teacher_id != integration.teacher_id:
        raise NotFound("assignment")
    try:
        answers = parse_answers(parsed.answers, len(assignment.problems))
    except IntakeError as exc:
        raise _prefixed(exc, "data.") from None
    lti = dict(parsed.lti)
    if lti and "lineitem" not in lti:
        link = session.scalar(
            select(LtiResourceLink)
            .where(
                LtiResourceLink.integration_id == integration.id,
                LtiResourceLink.assignment_id == assignment.id,
                LtiResourceLink.lineitem_url.is_not(None),
            )
            .order_by(LtiResourceLink.updated_at.desc())
            .limit(1)
        )
        if link is None:
            raise IntakeError("data.lti.lineitem", "is required: no LTI launch has linked this assignment yet")
        lti["lineitem"] = link.lineitem_url
    context: dict[str, Any] = {"integration": integration.public_id, "external_id": parsed.external_id}
    if parsed.event_id:
        context["event_id"] = parsed.event_id
    if lti:
        context["lti"] = lti
    return assignment, dict(
        student=parsed.student,
        answers=answers,
        source=Source.lms,
        external_id=f"{integration.public_id}:{parsed.external_id}",
        callback_url=parsed.callback_url,
        integration_id=integration.id,
        lms_context=context,
    )
