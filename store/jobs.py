"""Job rows: the one place that knows how background work is opened, claimed and closed.

A task never works from its message alone: it claims the subject's open job first. Only a job
that is `queued`, or `running` under the same task id (a redelivery after its worker died), or
`running` for longer than the hard time limit (its worker is gone), can be claimed. So duplicate
messages, redeliveries and `stepwise requeue` at any time grade nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.models import Job, JobStatus

GRADE = "grade"
OPEN = (JobStatus.queued.value, JobStatus.running.value, JobStatus.waiting.value)


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=UTC)
    return moment


def latest(session: Session, kind: str, subject_id: int, *, for_update: bool = False) -> Job | None:
    """The newest job of this kind for the subject (the one query every caller shares)."""
    query = select(Job).where(Job.kind == kind, Job.subject_id == subject_id).order_by(Job.id.desc()).limit(1)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def open_job(session: Session, kind: str, subject_id: int) -> Job:
    """A queued job for the subject: the existing one if it has not started, else a new one."""
    job = latest(session, kind, subject_id)
    if job is not None and job.status == JobStatus.queued.value:
        return job
    if job is not None and job.status == JobStatus.waiting.value:
        job.status = JobStatus.queued.value
        job.enqueued_at = now()
        return job
    job = Job(
        kind=kind,
        subject_id=subject_id,
        status=JobStatus.queued.value,
        enqueued_at=now(),
    )
    session.add(job)
    return job


def claim(
    session: Session,
    kind: str,
    subject_id: int,
    task_id: str | None,
    *,
    stale_after: float,
) -> Job | None:
    """Take the subject's newest open job for this task, or None when there is nothing to do."""
    job = latest(session, kind, subject_id, for_update=True)
    if job is None or job.status not in (
        JobStatus.queued.value,
        JobStatus.running.value,
    ):
        return None
    if job.status == JobStatus.running.value and job.task_id != task_id:
        started = _aware(job.started_at)
        if started is not None and started > now() - timedelta(seconds=stale_after):
            return None  # another worker is on it right now
    job.status, job.task_id = JobStatus.running.value, task_id
    job.attempts += 1
    job.started_at = now()
    return job


def is_current(session: Session, job: Job) -> bool:
    """False when a newer job for the same subject exists (a key changed while this one ran)."""
    newest = latest(session, job.kind, job.subject_id)
    return newest is None or newest.id == job.id


def finish(
    job: Job,
    status: JobStatus = JobStatus.done,
    *,
    error: str | None = None,
    versions: dict | None = None,
) -> None:
    job.status = status.value
    job.error = error[:2000] if error else None
    job.finished_at = now()
    if versions is not None:
        job.versions = versions


def due(
    session: Session,
    kind: str,
    *,
    requeue_after: float,
    stale_after: float,
    statuses: Iterable[str] = (JobStatus.queued.value, JobStatus.running.value),
) -> list[int]:
    """Subjects whose job waited too long: queued and never sent or sent `requeue_after` ago, or
    running past the hard time limit (the worker died). Marks them sent now."""
    moment = now()
    not_recent = Job.enqueued_at.is_(None) | (Job.enqueued_at < moment - timedelta(seconds=requeue_after))
    conditions = []
    if JobStatus.queued.value in statuses:
        conditions.append((Job.status == JobStatus.queued.value) & not_recent)
    if JobStatus.running.value in statuses:
        conditions.append(
            (Job.status == JobStatus.running.value)
            & (Job.started_at < moment - timedelta(seconds=stale_after))
            & not_recent
        )
    if not conditions:
        return []
    rows = session.execute(
        select(Job.id, Job.subject_id).where(Job.kind == kind, or_(*conditions)).order_by(Job.id)
    ).all()
    if rows:
        session.execute(update(Job).where(Job.id.in_([r.id for r in rows])).values(enqueued_at=moment))
    return sorted({r.subject_id for r in rows})


def open_subjects(session: Session, kind: str, statuses: Iterable[str]) -> list[int]:
    """Subjects with a job in one of `statuses` (what `stepwise requeue` sends again)."""
    return sorted(set(session.scalars(select(Job.subject_id).where(Job.kind == kind, Job.status.in_(list(statuses))))))


def mark_unsent(session: Session, kind: str, subject_ids: Iterable[int]) -> None:
    """The broker refused the message: NULL send time, so the next sweep sends it first."""
    ids = list(subject_ids)
    if ids:
        session.execute(
            update(Job)
            .where(
                Job.kind == kind,
                Job.subject_id.in_(ids),
                Job.status == JobStatus.queued.value,
            )
            .values(enqueued_at=None)
        )
