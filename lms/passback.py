"""Grade passback: build the score, skip unchanged grades, send it, record every attempt.

`deliver()` is the whole job, called by the Celery task `stepwise.lms.passback`; it does one
attempt and tells the task whether (and when) to retry. Targets:

* AGS (LTI 1.3): the submission's `lms_context["lti"]` has `user_id` and `lineitem` and the
  integration is an LTI one: a score object is POSTed to `<lineitem>/scores` with an OAuth2
  client-credentials token (pylti1p3's ServiceConnector / AssignmentsGradesService).
* Webhook: the submission has a `callback_url`: a signed `submission.graded` event is POSTed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade as LtiGrade
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lms import crypto
from lms.integrations import registration_for, webhook_secret
from lms.net import DEFAULT_TIMEOUT, BlockedTarget, GuardedSession
from store.lms.models import Delivery, DeliveryAttempt, DeliveryStatus, Integration
from store.models import Source, Submission, SubmissionStatus
from store.settings import Settings

log = logging.getLogger("stepwise.lms")

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
MAX_ATTEMPTS = 8
COMMENT_LIMIT = 1000
_LOCK_KEY = 7411  # pg advisory lock namespace for passbacks


@dataclass(frozen=True)
class Backoff:
    base: float = BACKOFF_BASE_S
    cap: float = BACKOFF_CAP_S
    max_attempts: int = MAX_ATTEMPTS

    def delay(self, attempts_done: int) -> float:
        """Seconds before the next try after `attempts_done` failed attempts (1 → base)."""
        return min(self.cap, self.base * 2 ** max(0, attempts_done - 1))


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | skipped | retry | failed
    reason: str = ""
    delivery_id: int | None = None
    response_code: int | None = None
    countdown: float | None = None  # set when status == "retry"


@dataclass(frozen=True)
class Target:
    channel: str  # "ags" | "webhook"
    url: str
    payload: dict[str, Any]
    fingerprint: str
    lineitem: str | None = None


# --- payloads -------------------------------------------------------------------------------


def _timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_feedback(submission: Submission) -> str:
    """One line per answer, e.g. `1: correct (1/1)`; truncated to fit an LMS comment."""
    lines = []
    for answer in submission.answers:
        grade = answer.grade
        if grade is None:
            continue
        line = f"{answer.position}: {grade.status} ({_num(grade.score)}/{_num(grade.points)})"
        if grade.feedback:
            line += " " + " ".join(grade.feedback.split())[:160]
        lines.append(line)
    comment = "\n".join(lines)
    return comment if len(comment) <= COMMENT_LIMIT else comment[: COMMENT_LIMIT - 1] + "…"


def _num(value: float | None) -> str:
    if value is None:
        return "0"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def grading_progress(submission: Submission) -> str:
    return "PendingManual" if submission.status == SubmissionStatus.needs_review.value else "FullyGraded"


def score_object(submission: Submission, user_id: str) -> dict[str, Any]:
    """The AGS score (application/vnd.ims.lis.v1.score+json) for this submission."""
    return {
        "userId": str(user_id),
        "scoreGiven": float(submission.score or 0.0),
        "scoreMaximum": float(submission.max_score or 0.0),
        "activityProgress": "Completed",
        "gradingProgress": grading_progress(submission),
        "timestamp": _timestamp(submission.graded_at or submission.updated_at),
        "comment": short_feedback(submission),
    }


def webhook_event(submission: Submission, settings: Settings) -> dict[str, Any]:
    ctx = submission.lms_context or {}
    return {
        "type": "submission.graded",
        "id": "evt_" + secrets.token_hex(12),
        "created": int(time.time()),
        "data": {
            "submission_id": submission.id,
            "external_id": ctx.get("external_id", submission.external_id),
            "student": submission.student,
            "assignment": submission.assignment_id,
            "status": submission.status,
            "score": submission.score,
            "max_score": submission.max_score,
            "grading_progress": grading_progress(submission),
            "feedback": short_feedback(submission),
            "url": f"{settings.public_url.rstrip('/')}/api/v1/submissions/{submission.id}",
        },
    }


def _fingerprint(channel: str, url: str, values: dict[str, Any]) -> str:
    blob = json.dumps([channel, url, values], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def scores_url(lineitem: str) -> str:
    """`<lineitem>/scores`, keeping any query string (Moodle and Canvas line items have one)."""
    path, sep, query = lineitem.partition("?")
    return path.rstrip("/") + "/scores" + (sep + query if sep else "")


def target_for(submission: Submission, integration: Integration, settings: Settings) -> Target | None:
    ctx = submission.lms_context or {}
    lti = ctx.get("lti") or {}
    if integration.is_lti and lti.get("user_id") and lti.get("lineitem"):
        score = score_object(submission, lti["user_id"])
        stable = {k: v for k, v in score.items() if k != "timestamp"}
        url = scores_url(lti["lineitem"])
        return Target("ags", url, score, _fingerprint("ags", url, stable), lti["lineitem"])
    if submission.callback_url:
        event = webhook_event(submission, settings)
        data = event["data"]
        stable = {k: data[k] for k in ("status", "score", "max_score", "grading_progress", "feedback")}
        return Target(
            "webhook", submission.callback_url, event, _fingerprint("webhook", submission.callback_url, stable)
        )
    return None


# --- sending --------------------------------------------------------------------------------


class SendError(Exception):
    def __init__(self, message: str, *, code: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


def _retryable_code(code: int) -> bool:
    return code >= 500 or code in (408, 429)


def _send_webhook(target: Target, integration: Integration, settings: Settings, http: GuardedSession) -> int:
    body = json.dumps(target.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        crypto.SIGNATURE_HEADER: crypto.sign(webhook_secret(integration, settings), body),
        crypto.INTEGRATION_HEADER: integration.public_id,
        crypto.EVENT_HEADER: target.payload["type"],
    }
    response = http.post(target.url, data=body, headers=headers)
    if not response.ok:
        raise SendError(
            f"HTTP {response.status_code}", code=response.status_code, retryable=_retryable_code(response.status_code)
        )
    return response.status_code


def _send_ags(target: Target, integration: Integration, settings: Settings, http: GuardedSession) -> int:
    registration = registration_for(integration, settings)
    connector = ServiceConnector(registration, requests_session=http)
    ags = AssignmentsGradesService(connector, {"scope": [SCORE_SCOPE], "lineitem": target.lineitem})
    grade = (
        LtiGrade()
        .set_user_id(target.payload["userId"])
        .set_score_given(target.payload["scoreGiven"])
        .set_score_maximum(target.payload["scoreMaximum"])
        .set_activity_progress(target.payload["activityProgress"])
        .set_grading_progress(target.payload["gradingProgress"])
        .set_timestamp(target.payload["timestamp"])
        .set_comment(target.payload["comment"])
    )
    try:
        ags.put_grade(grade)
    except LtiServiceException as exc:
        code = exc.response.status_code
        where = "token" if (exc.response.url or "").split("?")[0] == integration.auth_token_url else "scores"
        raise SendError(f"{where} endpoint answered HTTP {code}", code=code, retryable=_retryable_code(code)) from None
    except (KeyError, ValueError, LtiException) as exc:
        raise SendError(f"unexpected platform answer ({type(exc).__name__})", retryable=True) from None
    return http.last_status or 200


def _send(target: Target, integration: Integration, settings: Settings, timeout) -> int:
    http = GuardedSession(integration.allowed_hosts or [], allow_private=settings.lms_allow_private, timeout=timeout)
    try:
        if target.channel == "ags":
            return _send_ags(target, integration, settings, http)
        return _send_webhook(target, integration, settings, http)
    except BlockedTarget as exc:
        raise SendError(f"blocked: {exc}", retryable=False) from None
    except crypto.SecretError:
        raise SendError(
            "the integration's stored keys cannot be decrypted (encryption key changed?)", retryable=False
        ) from None
    except requests.Timeout:
        raise SendError("timed out", retryable=True) from None
    except requests.ConnectionError:
        raise SendError("connection failed", retryable=True) from None
    except requests.RequestException as exc:
        raise SendError(f"request failed ({type(exc).__name__})", retryable=True) from None
    finally:
        http.close()


# --- the job --------------------------------------------------------------------------------


def _lock(session: Session, submission_id: int) -> None:
    """Serialise passbacks of one submission (Postgres); SQLite serialises writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k, :id)"), {"k": _LOCK_KEY, "id": submission_id})


def deliver(
    session: Session,
    submission_id: int,
    settings: Settings,
    *,
    retries_done: int = 0,
    backoff: Backoff = Backoff(),
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
) -> Outcome:
    """One passback attempt for a submission. Safe to run twice.

    Claims, commits, then sends: the delivery is claimed (`sending`) in a short transaction, the
    HTTP call runs with no transaction or lock open, and the outcome is recorded in a second short
    transaction. `retries_done` is how many times the calling task has already retried (Celery's
    `request.retries`); the outcome is "retry" (with `countdown`) while attempts remain.
    """
    claimed = _claim(session, submission_id, settings)
    if isinstance(claimed, Outcome):
        return claimed
    delivery_id, number, target, integration = claimed
    try:
        code = _send(target, integration, settings, timeout)  # no transaction open here
    except SendError as exc:
        return _record_failure(session, submission_id, delivery_id, number, exc, retries_done, backoff)
    return _record_sent(session, submission_id, delivery_id, number, target, code)


SENDING_STALE_S = 300  # a delivery `sending` for longer than this lost its worker mid-call


def _claim(session: Session, submission_id: int, settings: Settings):
    """Pick (or create) the delivery for the submission's current grade and mark it `sending`;
    commits. Returns (delivery id, attempt number, target, integration) or an Outcome to stop."""
    _lock(session, submission_id)  # held only while claiming
    submission = session.get(Submission, submission_id)
    if submission is None or submission.source != Source.lms.value or submission.integration_id is None:
        session.rollback()
        return Outcome("skipped", "not an LMS submission")
    if submission.status not in (SubmissionStatus.graded.value, SubmissionStatus.needs_review.value):
        session.rollback()
        return Outcome("skipped", f"submission is {submission.status}")
    integration = session.get(Integration, submission.integration_id)
    if integration is None or integration.disabled_at is not None or integration.teacher_id != submission.teacher_id:
        session.rollback()
        return Outcome("skipped", "integration gone")
    target = target_for(submission, integration, settings)
    if target is None:
        session.rollback()
        return Outcome("skipped", "no passback target")

    latest = session.scalar(
        select(Delivery)
        .where(
            Delivery.submission_id == submission.id,
            Delivery.target == target.url,
            Delivery.status != DeliveryStatus.skipped,
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    now = datetime.now(UTC)
    if latest is not None and latest.payload_hash == target.fingerprint:
        if latest.status == DeliveryStatus.sent:
            session.rollback()
            log.info("lms.passback.unchanged submission=%s delivery=%s", submission.id, latest.id)
            return Outcome("skipped", "unchanged", latest.id, latest.response_code)
        if latest.status == DeliveryStatus.sending and _aware(latest.updated_at) > now - timedelta(
            seconds=SENDING_STALE_S
        ):
            session.rollback()
            return Outcome("skipped", "another worker is sending it", latest.id)
        delivery = latest  # same grade still pending or failed (or its sender died): try it again
    else:
        if latest is not None and latest.status in (DeliveryStatus.pending, DeliveryStatus.failed):
            latest.status = DeliveryStatus.skipped
            latest.last_error = "superseded by a newer grade"
            latest.next_try_at = None
        delivery = Delivery(
            submission_id=submission.id,
            integration_id=integration.id,
            channel=target.channel,
            target=target.url,
            payload_hash=target.fingerprint,
        )
        session.add(delivery)
    delivery.status = DeliveryStatus.sending
    delivery.updated_at = now
    delivery.score_sent = submission.score
    delivery.grading_progress = grading_progress(submission)
    delivery.attempts = (delivery.attempts or 0) + 1
    number = delivery.attempts
    session.commit()  # the claim is visible; the lock is released before any network call
    return delivery.id, number, target, integration


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record_failure(
    session: Session,
    submission_id: int,
    delivery_id: int,
    number: int,
    exc: SendError,
    retries_done: int,
    backoff: Backoff,
) -> Outcome:
    retry = exc.retryable and retries_done + 1 < backoff.max_attempts
    countdown = backoff.delay(retries_done + 1) if retry else None
    now = datetime.now(UTC)
    delivery = session.get(Delivery, delivery_id)
    delivery.status = DeliveryStatus.pending if retry else DeliveryStatus.failed
    delivery.response_code = exc.code
    delivery.last_error = str(exc)[:500]
    delivery.next_try_at = now + timedelta(seconds=countdown) if retry else None
    session.add(
        DeliveryAttempt(
            delivery=delivery,
            number=number,
            outcome="retry" if retry else "failed",
            response_code=exc.code,
            error=str(exc)[:500],
            next_try_at=delivery.next_try_at,
        )
    )
    session.commit()
    log.warning(
        "%s submission=%s delivery=%s attempt=%s response_code=%s reason=%s",
        "lms.passback.retry" if retry else "lms.passback.failed",
        submission_id,
        delivery.id,
        number,
        exc.code,
        str(exc)[:200],
    )
    return Outcome("retry" if retry else "failed", str(exc), delivery.id, exc.code, countdown)


def _record_sent(
    session: Session, submission_id: int, delivery_id: int, number: int, target: Target, code: int
) -> Outcome:
    delivery = session.get(Delivery, delivery_id)
    delivery.status = DeliveryStatus.sent
    delivery.response_code = code
    delivery.last_error = None
    delivery.next_try_at = None
    delivery.sent_at = datetime.now(UTC)
    session.add(DeliveryAttempt(delivery=delivery, number=number, outcome="sent", response_code=code))
    session.commit()
    log.info(
        "lms.passback.sent submission=%s delivery=%s channel=%s attempt=%s",
        submission_id,
        delivery.id,
        target.channel,
        number,
    )
    return Outcome("sent", "", delivery.id, code)


def reset_for_retry(session: Session, delivery: Delivery) -> None:
    """Dashboard retry: a failed delivery becomes pending again (the task then re-sends it)."""
    delivery.status = DeliveryStatus.pending
    delivery.next_try_at = datetime.now(UTC)
    session.commit()
