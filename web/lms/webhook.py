"""`POST /lms/webhook`: a signed `submission.created` event from an LMS (see docs/lms.md)."""

from __future__ import annotations

from flask import jsonify, request

from lms import crypto
from lms.integrations import find_by_public_id, webhook_secret
from lms.kv import rate_limit
from lms.webhook import NotFound, parse_event, prepare_event
from store.db import db
from store.intake import IntakeError
from web.intake import submit_answers
from web.lms import bp
from web.lms.common import log, settings


def _error(status: int, error: str, message: str, field: str | None = None, **headers):
    body = {"error": error, "message": message}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _read_body(limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (checked before and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


@bp.post("/webhook")
def webhook():
    cfg = settings()
    body = _read_body(cfg.max_body_bytes)
    if body is None:
        log.info("lms.webhook.rejected reason=%s", "too_large")
        return _error(413, "payload_too_large", f"The request body is larger than {cfg.max_body_bytes} bytes.")

    session = db.session()
    public_id = request.headers.get(crypto.INTEGRATION_HEADER, "").strip()
    integration = find_by_public_id(session, public_id)
    if integration is None:
        log.info("lms.webhook.rejected reason=%s", "unknown_integration")
        return _error(401, "unauthorized", "Unknown integration or bad signature.")
    try:
        crypto.verify(webhook_secret(integration, cfg), body, request.headers.get(crypto.SIGNATURE_HEADER))
    except crypto.SignatureError as exc:
        log.info("lms.webhook.rejected reason=%s integration=%s", str(exc), integration.public_id)
        message = (
            "Signature timestamp is too old or too far in the future."
            if str(exc) == "stale timestamp"
            else "Unknown integration or bad signature."
        )
        return _error(401, "unauthorized", message)

    wait = rate_limit(cfg, f"webhook:{integration.public_id}", cfg.webhook_rate_limit)
    if wait is not None:
        log.info("lms.webhook.rate_limited integration=%s", integration.public_id)
        return _error(
            429, "rate_limited", "Too many deliveries for this integration; retry later.", Retry_After=str(wait)
        )

    try:
        parsed = parse_event(body, integration, cfg)
        assignment, fields = prepare_event(session, integration, parsed)
        submission, created = submit_answers(assignment, **fields)
    except IntakeError as exc:
        session.rollback()
        log.info("lms.webhook.invalid integration=%s field=%s", integration.public_id, exc.field)
        return _error(400, "invalid_request", exc.message, field=exc.field)
    except NotFound:
        session.rollback()
        log.info("lms.webhook.unknown_assignment integration=%s", integration.public_id)
        return _error(404, "not_found", "No such assignment for this integration's teacher.", field="data.assignment")

    log.info(
        "lms.webhook.accepted integration=%s submission=%s created=%s", integration.public_id, submission.id, created
    )
    response = jsonify(
        {"id": submission.id, "status": submission.status, "url": f"/api/v1/submissions/{submission.id}"}
    )
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/submissions/{submission.id}"
    return response


@bp.get("/jwks")
def jwks():
    """The tool's public keys: platforms verify our client assertions and deep-link responses."""
    from lms.integrations import tool_jwks

    response = jsonify(tool_jwks(db.session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
