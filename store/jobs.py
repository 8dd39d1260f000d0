"""Job rows: the one place that knows how background work is opened, claimed and closed.

A task never works from its message alone: it claims the subject's open job first. Only a job
that is `queued`, or `running` under the same task id (a redelivery after its worker died), or
`running` for longer than the hard time limit (its worker is gone), can be claimed. So duplicate
messages, redeliveries and `stepwise requeue` at any time grade nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
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
    """A queued job for the subject: the existing one if it has not started (its revision bumped,
    so a task that read it before this change cannot finish it, see `settle`), else a new one."""
    job = latest(session, kind, subject_id)
    if job is not None and job.status in (JobStatus.queued.value, JobStatus.waiting.value):
        # Guarded: a task may finish the job between the read above and this write.
        reopened = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status.in_((JobStatus.queued.value, JobStatus.waiting.value)))
            .values(status=JobStatus.queued.value, revision=Job.revision + 1, enqueued_at=now())
            .execution_options(synchronize_session=False)
        )
        session.expire(job, ["status", "revision", "enqueued_at"])
        if reopened.rowcount == 1:
            return job
    job = Job(
        kind=kind,
        subject_id=subject_id,
        status=JobStatus.queued.value,
        enqueued_at=now(),
    )
    session.add(job)
    return job


def bump_open(session: Session, kind: str, subject_ids: list[int]) -> None:
    """Make any task that already read these subjects' queued jobs drop its result (see `settle`)."""
    if subject_ids:
        session.execute(
            update(Job)
            .where(Job.kind == kind, Job.subject_id.in_(subject_ids), Job.status == JobStatus.queued.value)
            .values(revision=Job.revision + 1)
            .execution_options(synchronize_session=False)
        )


def claimable(job: Job | None, task_id: str | None, *, stale_after: float) -> bool:
    """Whether `task_id` may work on this job: queued, or running under the same task id (a
    redelivery after its worker died) or for longer than `stale_after` seconds (the worker is gone)."""
    if job is None or job.status not in (JobStatus.queued.value, JobStatus.running.value):
        return False
    if job.status == JobStatus.running.value and job.task_id != task_id:
        started = _aware(job.started_at)
        return started is None or started <= now() - timedelta(seconds=stale_after)
    return True


def settle(
    session: Session,
    job: Job,
    task_id: str | None,
    status: JobStatus,
    *,
    versions: dict | None = None,
    error: str | None = None,
) -> bool:
    """Claim and close in one guarded UPDATE, for work done before it is written: the job moves to
    `status` only if it is still the subject's newest, at the status and revision the task read.
    False: someone else finished it, or it was asked for again meanwhile (drop the result)."""
    moment = now()
    newest = select(func.max(Job.id)).where(Job.kind == job.kind, Job.subject_id == job.subject_id)
    values: dict = {"status": status.value, "task_id": task_id, "attempts": Job.attempts + 1, "error": error}
    if status == JobStatus.waiting:
        values["started_at"] = moment
    else:
        values.update(started_at=moment, finished_at=moment, versions=versions or {})
    settled = session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == job.status,
            Job.revision == job.revision,
            Job.id == newest.scalar_subquery(),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return settled.rowcount == 1


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
    if not claimable(job, task_id, stale_after=stale_after):
        return None
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
