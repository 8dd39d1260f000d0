"""Retry policy shared by every task: only transient errors, exponential backoff, a deadline."""

from __future__ import annotations

import logging

from store.settings import Settings

log = logging.getLogger("stepwise.tasks")

BACKOFF_CAP_S = 30


def backoff(retries: int, cap: float = BACKOFF_CAP_S) -> float:
    return min(cap, 2.0**retries)


def retries_within(deadline_s: float, cap: float = BACKOFF_CAP_S) -> int:
    """How many retries at `backoff()` intervals fit in `deadline_s` seconds."""
    total, n = 0.0, 0
    while total < deadline_s:
        total += backoff(n, cap)
        n += 1
    return max(1, n)


def retry_transient(task, exc: BaseException, settings: Settings):
    """Celery's retry for a database outage: backoff up to 30 s, until `db_retry_deadline`. After
    that the job row is still open and the sweeper sends the task again once the database is back."""
    retries = task.request.retries
    countdown = backoff(retries)
    log.warning(
        "task.retry_transient task=%s id=%s retry=%s countdown=%s error=%s",
        task.name,
        task.request.id,
        retries,
        countdown,
        type(exc).__name__,
    )
    return task.retry(
        exc=exc,
        countdown=countdown,
        max_retries=retries_within(settings.db_retry_deadline),
    )


__all__ = ["backoff", "retries_within", "retry_transient"]
