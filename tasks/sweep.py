"""The sweeper: Celery beat runs it every `sweep_interval` seconds on the grading queue.

It re-sends whatever waited too long: grading jobs still queued (never sent because the broker was
down, or sent to a Redis that lost its data) or still running past the hard time limit (their
worker died), and model references still pending. Sending twice is harmless: the task claims its
job row first. `stepwise requeue` is the same code with no waiting time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import jobs
from store.db import db, safe_rollback
from store.models import JobStatus, ReferenceSolution, ReferenceStatus, Submission
from store.settings import Settings
from tasks import GRADE_TASK, REASON_TASK, send
from tasks.celery_app import SWEEP_TASK, app_settings, grading_stale_after

log = logging.getLogger("stepwise.sweep")
JOB_STATUS_FOR = {
    "queued": JobStatus.queued.value,
    "grading": JobStatus.running.value,
}  # submission -> job


def sweep(
    session: Session,
    settings: Settings,
    *,
    requeue_after: float | None = None,
    statuses: tuple[str, ...] | None = None,
    references: bool = True,
) -> dict[str, list[int]]:
    """Find what waited too long, mark it sent, commit, then send. Returns the ids sent."""
    wait = settings.requeue_after if requeue_after is None else requeue_after
    job_statuses = (JobStatus.queued.value, JobStatus.running.value)
    if statuses is not None:  # `stepwise requeue --status queued grading ...`
        job_statuses = tuple(JOB_STATUS_FOR[s] for s in statuses if s in JOB_STATUS_FOR)
    grading = jobs.due(
        session,
        jobs.GRADE,
        requeue_after=wait,
        stale_after=grading_stale_after(settings),
        statuses=job_statuses,
    )
    reasoning = _due_references(session, settings, wait) if references else []
    session.commit()
    sent = {"grading": grading, "reasoning": reasoning}
    send(GRADE_TASK, grading)
    send(REASON_TASK, reasoning)
    if grading or reasoning:
        log.info("sweep.sent grading=%d reasoning=%d", len(grading), len(reasoning))
    return sent


def requeue(
    session: Session,
    settings: Settings,
    *,
    statuses: tuple[str, ...] = ("queued",),
    references: bool = False,
) -> dict[str, list[int]]:
    """`stepwise requeue`: send again every open job now, whatever its send time. Safe at any time
    and with any backlog: a running job is re-sent only once it is stale, and every task claims
    its job row before it works, so nothing is graded twice. With `references`, model references
    that failed or found no model go back to pending first (after installing the weights)."""
    finished = [s for s in statuses if s not in JOB_STATUS_FOR]
    if finished:  # e.g. `--status failed`: grade those again, under a new job each
        for submission_id in session.scalars(select(Submission.id).where(Submission.status.in_(finished))):
            jobs.open_job(session, jobs.GRADE, submission_id)
        session.flush()
    if references:
        stuck = (ReferenceStatus.failed.value, ReferenceStatus.unavailable.value)
        session.execute(
            update(ReferenceSolution)
            .where(ReferenceSolution.status.in_(stuck))
            .values(
                status=ReferenceStatus.pending.value,
                error=None,
                updated_at=jobs.now() - timedelta(days=1),
            )
        )
    return sweep(session, settings, requeue_after=0, statuses=statuses, references=references)


def _due_references(session: Session, settings: Settings, wait: float) -> list[int]:
    """Pending references not touched for `wait` seconds, and running ones past the reasoning
    limit (their worker died); `updated_at` is stamped so each is sent once per window."""
    if not settings.model_enabled:
        return []
    RS = ReferenceSolution
    moment = jobs.now()
    rows = session.scalars(
        select(RS.id)
        .where(
            ((RS.status == ReferenceStatus.pending.value) & (RS.updated_at < moment - timedelta(seconds=wait)))
            | (
                (RS.status == ReferenceStatus.running.value)
                & (RS.updated_at < moment - timedelta(seconds=settings.reasoning_time_limit + 300))
            )
        )
        .order_by(RS.id)
    ).all()
    pending = list(rows)
    if pending:
        session.execute(
            update(RS).where(RS.id.in_(pending), RS.status == ReferenceStatus.pending.value).values(updated_at=moment)
        )
    return pending


@shared_task(name=SWEEP_TASK, bind=True, acks_late=True, ignore_result=True)
def sweep_task(self) -> dict[str, int]:
    settings = app_settings(self.app)
    session = db.session()
    try:
        sent = sweep(session, settings)
    except Exception:
        safe_rollback(session)
        raise  # beat sends the next sweep on schedule; nothing to retry here
    return {kind: len(ids) for kind, ids in sent.items()}


__all__ = ["grading_stale_after", "sweep", "sweep_task"]
