"""The overnight batch on the queue: beat's nightly start and tick, the driver, one item's grading.

Thin tasks around store.batches; every one is safe to run twice and to be killed at any point.
`configure_beat` is called by tasks.celery_app.make_celery to put the schedule on the app.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.schedules import crontab
from sqlalchemy.exc import OperationalError

from store import batches, metrics
from store.db import db
from tasks import celery_app, enqueue_passback, enqueue_reasoning

log = logging.getLogger("stepwise.batch")

ADVANCE_TASK = "stepwise.batch.advance"
GRADE_ITEM_TASK = "stepwise.batch.grade"
GRADE_CHUNK_TASK = "stepwise.batch.grade_chunk"
TICK_TASK = "stepwise.batch.tick"
NIGHTLY_TASK = "stepwise.batch.nightly"
_TIME = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)(?:\s+(\S+))?\s*$")


def parse_batch_at(value: str, default_zone: str = "UTC") -> tuple[int, int, str]:
    """`"02:00"` or `"02:00 Europe/Paris"` -> (hour, minute, zone); ValueError when unreadable."""
    match = _TIME.match(value or "")
    if not match:
        raise ValueError(f"STEPWISE_BATCH_AT must look like 02:00 or '02:00 Europe/Paris', not {value!r}")
    zone = match.group(3) or default_zone or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Paris)") from None
    return int(match.group(1)), int(match.group(2)), zone


def configure_beat(app, settings) -> None:
    """Add to the beat schedule: the nightly job at STEPWISE_BATCH_AT (if set) and the batch tick."""
    schedule = dict(app.conf.beat_schedule or {})
    schedule["stepwise-batch-tick"] = {"task": TICK_TASK, "schedule": timedelta(seconds=settings.batch_tick)}
    zone = settings.timezone or "UTC"
    if settings.batch_at:
        hour, minute, zone = parse_batch_at(settings.batch_at, zone)
        schedule["stepwise-nightly-batch"] = {"task": NIGHTLY_TASK, "schedule": crontab(hour=hour, minute=minute)}
    app.conf.update(beat_schedule=schedule, timezone=zone, enable_utc=True)


def _settings(app):
    from tasks.celery_app import app_settings

    return app_settings(app)


def enqueue(task_name: str, *args) -> None:
    """Send now (what it depends on is committed); a broker outage only logs: beat's tick sends again."""
    try:
        celery_app().send_task(task_name, args=list(args))
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # any broker failure: the batch's next tick re-sends what is not done
        metrics.record_failure("enqueue")
        log.warning("batch.send_failed task=%s args=%s", task_name, args)


def senders() -> batches.Senders:
    return batches.Senders(
        grade=lambda batch_id, sid: enqueue(GRADE_ITEM_TASK, batch_id, sid),
        reason=enqueue_reasoning,
        passback=enqueue_passback,
        grade_chunk=lambda batch_id, ids: enqueue(GRADE_CHUNK_TASK, batch_id, ids),
    )


def _stale(settings) -> float:
    from tasks.celery_app import grading_stale_after

    return grading_stale_after(settings)


def advance_batch(batch_id: int, settings) -> str:
    chunk = settings.batch_chunk if settings.batch_grouping else 1
    return batches.advance(
        db.session(),
        batch_id,
        senders(),
        resend_after=settings.batch_resend,
        reference_wait=settings.reasoning_time_limit,
        model_enabled=settings.model_enabled,
        chunk=chunk,
    )


@shared_task(
    name=ADVANCE_TASK,
    bind=True,
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def advance(self, batch_id: int) -> str:
    """Move one batch on (send what is missing, change stage)."""
    return advance_batch(int(batch_id), _settings(self.app))


@shared_task(name=TICK_TASK, bind=True, acks_late=True, soft_time_limit=120, time_limit=180, ignore_result=True)
def tick(self) -> int:
    """Beat, every STEPWISE_BATCH_TICK seconds: move every running batch on (after any crash too)."""
    settings = _settings(self.app)
    ids = batches.running(db.session())
    for batch_id in ids:
        advance_batch(batch_id, settings)
    return len(ids)


@shared_task(name=NIGHTLY_TASK, bind=True, acks_late=True, soft_time_limit=120, time_limit=180, ignore_result=True)
def nightly(self) -> list[int]:
    """Beat, at STEPWISE_BATCH_AT: one batch per teacher with pending work (each sees their own)."""
    settings = _settings(self.app)
    ids = []
    for teacher_id in batches.teachers_with_pending(db.session()):
        batch = batches.start_batch(db.session(), trigger="schedule", teacher_id=teacher_id)
        advance_batch(batch.id, settings)
        ids.append(batch.id)
    log.info("batch.nightly batches=%s", ids)
    return ids


@shared_task(
    name=GRADE_ITEM_TASK,
    bind=True,
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def grade_item(self, batch_id: int, submission_id: int) -> str:
    """Grade one submission of a batch, exactly once; the last one moves the batch on."""
    settings = _settings(self.app)
    session = db.session()
    try:
        result = batches.grade_item(
            session, batch_id, submission_id, timeout=settings.check_timeout, stale_after=_stale(settings)
        )
    except SoftTimeLimitExceeded:
        metrics.record_failure("grading")
        batches.record_failure(session, batch_id, submission_id, "Grading took too long; ask your teacher to retry.")
        return "failed"
    except OperationalError:
        session.rollback()
        raise
    except Exception as exc:  # a grader bug: the submission is failed, the batch goes on
        log.exception("batch.grade_failed batch=%s submission=%s", batch_id, submission_id)
        metrics.record_failure("grading")
        batches.record_failure(session, batch_id, submission_id, f"Grading failed: {type(exc).__name__}")
        result = "failed"
    if result in ("done", "failed", "already") and batches.remaining(session, batch_id) == 0:
        enqueue(ADVANCE_TASK, batch_id)
    return result


@shared_task(
    name=GRADE_CHUNK_TASK,
    bind=True,
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def grade_chunk(self, batch_id: int, submission_ids: list[int]) -> dict:
    """Grade a chunk of a batch, each distinct answer once; a failing chunk falls back to one by one."""
    settings = _settings(self.app)
    session = db.session()
    ids = [int(i) for i in submission_ids]
    try:
        result = batches.grade_chunk(
            session, int(batch_id), ids, timeout=settings.check_timeout, stale_after=_stale(settings)
        )
    except OperationalError:
        session.rollback()
        raise
    except (SoftTimeLimitExceeded, Exception):  # too slow, or a grader bug: one by one, so only that one fails
        log.exception("batch.chunk_failed batch=%s", batch_id)
        session.rollback()
        for sid in ids:
            enqueue(GRADE_ITEM_TASK, batch_id, sid)
        return {"fallback": len(ids)}
    if batches.remaining(session, batch_id) == 0:
        enqueue(ADVANCE_TASK, batch_id)
    return result
