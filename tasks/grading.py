"""The `grading` queue: grade one stored submission by id. Safe to run twice."""
from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from store import grading
from store.db import db
from tasks import GRADE_TASK, enqueue_passback

log = logging.getLogger("stepwise.tasks")


@shared_task(
    name=GRADE_TASK,
    bind=True,
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    max_retries=5,
    autoretry_for=(OperationalError,),  # a database blip is transient; a grader bug is not
    retry_backoff=True,
)
def grade_submission(self, submission_id: int) -> str:
    """Grade submission `submission_id` and, for LMS submissions, queue the grade passback."""
    from worker.celery_app import app_settings

    settings = app_settings(self.app)
    session = db.session()
    if not grading.mark_started(session, submission_id, self.request.id):
        log.warning("grade.missing submission=%s", submission_id)
        return "missing"
    try:
        outcome = grading.grade_submission(session, submission_id, timeout=settings.check_timeout)
    except SoftTimeLimitExceeded:
        grading.mark_failed(session, submission_id, "Grading took too long; ask your teacher to retry.")
        log.error("grade.time_limit submission=%s", submission_id)
        return "failed"
    except OperationalError:
        session.rollback()
        raise
    except Exception as exc:  # a grader bug: record it on the submission, never lose the answers
        log.exception("grade.failed submission=%s", submission_id)
        grading.mark_failed(session, submission_id, f"Grading failed: {type(exc).__name__}")
        return "failed"
    if outcome.passback:
        enqueue_passback(submission_id)
    log.info("grade.done submission=%s status=%s", submission_id, outcome.status)
    return outcome.status
