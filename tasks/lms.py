"""`stepwise.lms.passback`: send a graded LMS submission's score back. Thin: `lms.passback.deliver`
claims, commits, sends and records; transient failures (5xx, 429, timeouts, connection errors) are
retried by Celery with exponential backoff from Settings; 4xx and blocked targets fail at once."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from lms.passback import Backoff, deliver
from store import metrics
from store.db import db, is_transient, safe_rollback
from tasks import PASSBACK_TASK
from tasks.celery_app import app_settings
from tasks.retry import retry_transient

log = logging.getLogger("stepwise.lms")


@shared_task(name=PASSBACK_TASK, bind=True, acks_late=True, ignore_result=True)
def passback(self, submission_id: int) -> str:
    """One delivery attempt; every attempt is recorded in `lms_delivery_attempts`, and an unchanged
    grade is not posted again."""
    settings = app_settings(self.app)
    backoff = Backoff(
        base=settings.passback_backoff_base,
        cap=settings.passback_backoff_cap,
        max_attempts=settings.passback_max_attempts,
    )
    session = db.session()
    try:
        outcome = deliver(session, int(submission_id), settings, retries_done=self.request.retries, backoff=backoff)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        safe_rollback(session)
        if is_transient(exc):
            raise retry_transient(self, exc, settings) from exc
        metrics.record_failure("passback")
        raise
    finally:
        session.close()
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.countdown, max_retries=backoff.max_attempts)
    if outcome.status == "failed":  # a 4xx, a blocked target, or the last attempt
        metrics.record_failure("passback")
    return outcome.status
