"""Celery tasks and the one way to enqueue them.

Every intake path calls `enqueue_on_commit(session, TASK, ids)`: the messages go out after the
session's commit, never before. One failure policy: if the broker refuses, the rows stay stored and
`queued`, a warning is logged, and the sweeper (Celery beat, `tasks/sweep.py`) sends them again.
No request fails because the broker is down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from store import jobs, metrics
from store.db import after_commit, db
from tasks.celery_app import REASON_TASK

GRADE_TASK = "stepwise.grading.grade_submission"
PASSBACK_TASK = "stepwise.lms.passback"
JOB_KINDS = {GRADE_TASK: jobs.GRADE}  # tasks guarded by a job row: a failed send clears its send time

log = logging.getLogger("stepwise.queue")


def celery_app():
    """The Celery app of the running Flask app when there is one, else Celery's current app
    (inside a worker: the app it was started with)."""
    from flask import current_app as flask_app
    from flask import has_app_context

    if has_app_context() and "celery" in flask_app.extensions:
        return flask_app.extensions["celery"]
    return current_app


def enqueue_on_commit(session: Session, task_name: str, ids: Iterable[int]) -> None:
    """Send `task_name(id)` for each id once `session` commits (nothing if it rolls back)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    app = celery_app()
    bind = session.get_bind()
    after_commit(session, lambda: send(task_name, ids, app=app, bind=bind))


def send(task_name: str, ids: Iterable[int], *, app=None, bind=None) -> list[int]:
    """Send now (the rows are committed); returns the ids the broker refused, after logging them."""
    app = app or celery_app()
    refused = []
    for object_id in ids:
        try:
            app.send_task(task_name, args=[object_id])
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            refused.append(object_id)
            error = f"{type(exc).__name__}: {exc}"[:300]
    if refused:
        metrics.record_failure("enqueue", len(refused))
        log.warning(
            "queue.send_failed task=%s ids=%s error=%s: stored and queued, the sweeper re-sends them",
            task_name,
            refused,
            error,
        )
        _mark_unsent(task_name, refused, bind)
    return refused


def _mark_unsent(task_name: str, ids: list[int], bind) -> None:
    kind = JOB_KINDS.get(task_name)
    if kind is None:
        return
    try:
        with Session(bind or db.engine) as session, session.begin():
            jobs.mark_unsent(session, kind, ids)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.warning("queue.mark_unsent_failed task=%s ids=%s", task_name, ids)


# Immediate sends, for code that has already committed (kept for callers written before the
# after-commit helper; same failure policy).
def enqueue_grading(submission_id: int) -> None:
    send(GRADE_TASK, [submission_id])


def enqueue_reasoning(reference_id: int) -> None:
    send(REASON_TASK, [reference_id])


def enqueue_passback(submission_id: int) -> None:
    send(PASSBACK_TASK, [submission_id])
