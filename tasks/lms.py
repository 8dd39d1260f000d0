"""`stepwise.lms.passback`: send a graded LMS submission's score back, with backoff retries."""

from __future__ import annotations

import logging

from celery import shared_task

from store.db import db
from lms.passback import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    MAX_ATTEMPTS,
    Backoff,
    deliver,
)
from store.settings import Settings
from tasks.celery_app import app_settings

log = logging.getLogger("stepwise.lms")


def _settings(app) -> Settings:
    return app_settings(app)


@shared_task(
    name="stepwise.lms.passback",
    bind=True,
    acks_late=True,
    max_retries=None,
    ignore_result=True,
)
def passback(
    self,
    submission_id: int,
    backoff_base: float = BACKOFF_BASE_S,
    backoff_cap: float = BACKOFF_CAP_S,
    max_attempts: int = MAX_ATTEMPTS,
    timeout: float | None = None,
) -> str:
    """One delivery attempt; on 5xx / 429 / timeout / connection error, retry after
    min(cap, base * 2**n) seconds until `max_attempts`; 4xx and blocked targets fail at once.
    Every attempt is recorded in `lms_delivery_attempts`; unchanged grades are not re-posted."""
    settings = _settings(self.app)
    backoff = Backoff(base=backoff_base, cap=backoff_cap, max_attempts=max_attempts)
    kwargs = {"timeout": (min(5.0, timeout), timeout)} if timeout else {}
    session = db.session()
    try:
        outcome = deliver(
            session,
            int(submission_id),
            settings,
            retries_done=self.request.retries,
            backoff=backoff,
            **kwargs,
        )
    finally:
        session.close()
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.countdown, max_retries=max_attempts)
    return outcome.status
