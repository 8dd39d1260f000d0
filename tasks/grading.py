"""The `grading` queue: grade one stored submission by id. Thin: the work is `store.grading.grade`,
guarded by the submission's job row, so running it twice grades once."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from store import grading, metrics
from store.db import db, is_transient, safe_rollback
from tasks import GRADE_TASK, PASSBACK_TASK, send
from tasks.celery_app import app_settings, grading_stale_after
from tasks.retry import retry_transient

log = logging.getLogger("stepwise.tasks")


@shared_task(name=GRADE_TASK, bind=True, acks_late=True)
def grade_submission(self, submission_id: int) -> str:
    """Grade submission `submission_id` and, for LMS submissions, queue the grade passback.
    Time limits come from Settings through the app's configuration."""
    settings = app_settings(self.app)
    session = db.session()
    started = time.perf_counter()
    try:
        outcome = grading.grade(
            session,
            submission_id,
            self.request.id,
            timeout=settings.check_timeout,
            stale_after=grading_stale_after(settings),
        )
    except SoftTimeLimitExceeded:
        log.error("grade.time_limit submission=%s", submission_id)
        metrics.record_failure("grading")
        grading.mark_failed(session, submission_id, "Grading took too long; ask your teacher to retry.")
        return "failed"
    except Exception as exc:
        safe_rollback(session)
        if is_transient(exc):  # the database is away: wait it out, up to the deadline
            raise retry_transient(self, exc, settings) from exc
        # A grader bug: record it on the submission, never lose the answers.
        log.exception("grade.failed submission=%s", submission_id)
        metrics.record_failure("grading")
        grading.mark_failed(session, submission_id, f"Grading failed: {type(exc).__name__}")
        return "failed"
    if outcome.status in ("skipped", "superseded", "missing", "waiting"):
        return outcome.status  # nothing graded by this task (a duplicate, or nothing to do yet)
    metrics.record_graded(outcome.latency_s, time.perf_counter() - started)
    if outcome.passback:
        send(PASSBACK_TASK, [submission_id])
    log.info("grade.done submission=%s status=%s", submission_id, outcome.status)
    return outcome.status
