"""The overnight batch: missing references first, then grading what is pending, then LMS passback.

A batch is a row and its items; the driver (`advance`) is idempotent and may be called by anyone
at any time (the beat tick, a finished grading task, `stepwise batch --run --wait`): it looks at
the rows and sends what is missing. Each item is graded by `grade_item`, which locks the item and
records the grading in the same transaction as the grades, so killing workers or beat halfway and
starting them again finishes the batch with every submission graded exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import (
    Answer,
    Problem,
    ReferenceSolution,
    ReferenceStatus,
    Source,
    Submission,
    SubmissionStatus,
)
from store.reasoning import BATCH
from store.workflow import Batch, BatchItem

log = logging.getLogger("stepwise.batch")

PENDING = (SubmissionStatus.queued.value, SubmissionStatus.grading.value)
FINAL = (SubmissionStatus.graded.value, SubmissionStatus.needs_review.value, SubmissionStatus.failed.value)
REFERENCE_WAIT = (ReferenceStatus.pending.value, ReferenceStatus.running.value)
REFERENCE_NUDGE = timedelta(minutes=10)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite hands back naive UTC
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class Senders:
    """How the driver reaches the queues (tasks.* in production; tests may record)."""

    grade: Callable[[int, int], object]  # (batch id, submission id)
    reason: Callable[[int], object]  # reference id
    passback: Callable[[int], object]  # submission id
    grade_chunk: Callable[[int, list[int]], object] | None = None  # (batch id, submission ids)


def start_batch(
    session: Session, *, trigger: str, teacher_id: int | None = None, assignment_id: int | None = None
) -> Batch:
    """A batch of every pending submission (of one teacher / assignment, or all); committed."""
    query = select(Submission.id).where(Submission.status.in_(PENDING))
    if teacher_id is not None:
        query = query.where(Submission.teacher_id == teacher_id)
    if assignment_id is not None:
        query = query.where(Submission.assignment_id == assignment_id)
    ids = session.scalars(query.order_by(Submission.id)).all()
    batch = Batch(teacher_id=teacher_id, assignment_id=assignment_id, trigger=trigger, total=len(ids))
    session.add(batch)
    session.flush()
    session.add_all(BatchItem(batch_id=batch.id, submission_id=sid) for sid in ids)
    session.commit()
    log.info("batch.started batch=%s trigger=%s total=%d", batch.id, trigger, len(ids))
    return batch


def teachers_with_pending(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Submission.teacher_id)
            .where(Submission.status.in_(PENDING))
            .distinct()
            .order_by(Submission.teacher_id)
        )
    )


def counts(session: Session, batch_id: int) -> dict:
    rows = session.execute(
        select(Submission.status, func.count())
        .join(BatchItem, BatchItem.submission_id == Submission.id)
        .where(BatchItem.batch_id == batch_id)
        .group_by(Submission.status)
    ).all()
    by = dict(rows)
    total = sum(by.values())
    graded, review, failed = (by.get(s, 0) for s in FINAL)
    return {"graded": graded, "needs_review": review, "failed": failed, "pending": total - graded - review - failed}


def batch_json(session: Session, batch: Batch) -> dict:
    c = counts(session, batch.id)
    return {
        "id": batch.id,
        "status": batch.status,
        "stage": batch.stage,
        "trigger": batch.trigger,
        "assignment": batch.assignment_id,
        "total": batch.total,
        **c,
        "started": _aware(batch.started_at).isoformat(),
        "finished": _aware(batch.finished_at).isoformat() if batch.finished_at else None,
        "error": batch.error,
    }


def running(session: Session) -> list[int]:
    return list(session.scalars(select(Batch.id).where(Batch.status == "running").order_by(Batch.id)))


# --- the driver -------------------------------------------------------------------------------


def _lock_batch(session: Session, batch_id: int) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.id == batch_id).with_for_update(skip_locked=True))


def advance(
    session: Session,
    batch_id: int,
    senders: Senders,
    *,
    resend_after: float = 120.0,
    reference_wait: float = 3600.0,
    model_enabled: bool = True,
    chunk: int = 1,
) -> str:
    """Move the batch on as far as it can go now; returns its stage afterwards ("busy" if another
    driver holds it). Sends happen after the commit of what they depend on."""
    batch = _lock_batch(session, batch_id)
    if batch is None:
        session.rollback()
        return "busy"
    now = _now()
    previous, batch.advanced_at = _aware(batch.advanced_at), now
    sends: list[Callable[[], object]] = []
    if batch.stage == "references":
        waiting = _references(session, batch, model_enabled, retry_failed=previous is None)
        started = _aware(batch.stage_started_at)
        if waiting and now - started <= timedelta(seconds=reference_wait):
            # Reasoning tasks are idempotent: send on the first look, then every 10 minutes.
            if previous is None or (now - started) // REFERENCE_NUDGE > (previous - started) // REFERENCE_NUDGE:
                sends += [lambda r=r: senders.reason(r) for r in waiting]
        else:
            _next(batch, "grading", now)
    if batch.stage == "grading":
        due = _grading_due(session, batch, now, resend_after)
        if due is None:
            _next(batch, "passback", now)
        elif chunk > 1 and senders.grade_chunk is not None:
            parts = [due[i : i + chunk] for i in range(0, len(due), chunk)]
            sends += [lambda p=p: senders.grade_chunk(batch.id, p) for p in parts]
        else:
            sends += [lambda s=s: senders.grade(batch.id, s) for s in due]
    if batch.stage == "passback":
        for item, sub in _passback_due(session, batch):
            item.passback_at = now
            sends.append(lambda s=sub.id: senders.passback(s))
        _next(batch, "done", now)
        batch.status, batch.finished_at = "done", now
        log.info("batch.finished batch=%s %s", batch.id, counts(session, batch.id))
    stage = batch.stage
    session.commit()
    for send in sends:
        send()
    return stage


def _next(batch: Batch, stage: str, now: datetime) -> None:
    batch.stage, batch.stage_started_at = stage, now


def _references(session: Session, batch: Batch, model_enabled: bool, *, retry_failed: bool) -> list[int]:
    """Ids of reference solutions the batch's keyless problems still wait for (failed ones retried)."""
    if not model_enabled:
        return []
    problem_ids = (
        select(Answer.problem_id)
        .join(BatchItem, BatchItem.submission_id == Answer.submission_id)
        .where(BatchItem.batch_id == batch.id)
    )
    reference_ids = select(Problem.reference_id).where(Problem.id.in_(problem_ids), Problem.answer_key.is_(None))
    refs = session.scalars(
        select(ReferenceSolution)
        .where(
            ReferenceSolution.id.in_(reference_ids),
            ReferenceSolution.status.in_([*REFERENCE_WAIT, ReferenceStatus.failed.value]),
        )
        .order_by(ReferenceSolution.id)
    ).all()
    for ref in refs:
        if ref.status == ReferenceStatus.failed.value and retry_failed:
            # One more try per batch, as batch work: an interactive request claims the GPU first.
            ref.status, ref.error, ref.priority = ReferenceStatus.pending.value, None, BATCH
    return [r.id for r in refs if r.status in REFERENCE_WAIT]


def _grading_due(session: Session, batch: Batch, now: datetime, resend_after: float) -> list[int] | None:
    """Submission ids to send for grading now; None when every item is done."""
    rows = session.execute(
        select(BatchItem, Submission.status)
        .join(Submission, Submission.id == BatchItem.submission_id)
        .where(BatchItem.batch_id == batch.id, BatchItem.done_at.is_(None))
    ).all()
    cutoff = now - timedelta(seconds=resend_after)
    due, left = [], 0
    for item, status in rows:
        if status in FINAL:  # graded by the regular path meanwhile (its job row saw to once)
            item.done_at = now
            continue
        left += 1
        if item.sent_at is None or _aware(item.sent_at) < cutoff:
            item.sent_at = now
            due.append(item.submission_id)
    return due if left else None


def _passback_due(session: Session, batch: Batch):
    return session.execute(
        select(BatchItem, Submission)
        .join(Submission, Submission.id == BatchItem.submission_id)
        .where(
            BatchItem.batch_id == batch.id,
            BatchItem.passback_at.is_(None),
            Submission.source == Source.lms.value,
            Submission.status.in_([SubmissionStatus.graded.value, SubmissionStatus.needs_review.value]),
        )
    ).all()


# --- grading items, each distinct answer once ----------------------------------------------------


def grade_item(
    session: Session, batch_id: int, submission_id: int, *, timeout: float = 2.0, stale_after: float = 660.0
) -> str:
    """Grade one submission of a batch exactly once: done | already | busy | waiting."""
    result = grade_chunk(session, batch_id, [submission_id], timeout=timeout, group=False, stale_after=stale_after)
    for outcome in ("done", "already", "waiting"):
        if result[outcome]:
            return outcome
    return "busy"


def record_failure(session: Session, batch_id: int, submission_id: int, error: str) -> None:
    """A grading that raised: the submission is failed, and the item done (it ran once)."""
    from store import grading

    grading.mark_failed(session, submission_id, error)
    item = session.scalar(
        select(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.submission_id == submission_id)
    )
    if item is not None and item.done_at is None:
        item.done_at, item.runs = _now(), item.runs + 1
    session.commit()


def remaining(session: Session, batch_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(BatchItem)
            .where(BatchItem.batch_id == batch_id, BatchItem.done_at.is_(None))
        )
        or 0
    )


def grade_chunk(
    session: Session,
    batch_id: int,
    submission_ids: list[int],
    *,
    timeout: float = 2.0,
    group: bool = True,
    stale_after: float = 660.0,
) -> dict:
    """Grade several submissions of a batch in one transaction, exactly once each.

    Each item row is locked (items another worker holds are left to it) and each submission's
    grading job is claimed (store.jobs: the regular grading task then skips it); grades, the job's
    end and the item's `done_at` are committed together, so a worker killed halfway leaves them to
    do. With `group`, each distinct (problem, normalised answer, work) is checked once and its
    verdict copied to every student who wrote it.
    """
    from sqlalchemy.orm import selectinload

    from store import jobs
    from store.overrides import apply_overrides, retotal

    out = {"graded": 0, "answers": 0, "checks": 0, "done": 0, "already": 0, "waiting": 0}
    items = {
        i.submission_id: i
        for i in session.scalars(
            select(BatchItem)
            .where(
                BatchItem.batch_id == batch_id, BatchItem.submission_id.in_(submission_ids), BatchItem.done_at.is_(None)
            )
            .order_by(BatchItem.submission_id)
            .with_for_update(skip_locked=True)
        )
    }
    if not items:
        session.rollback()
        out["already"] = (
            session.scalar(
                select(func.count())
                .select_from(BatchItem)
                .where(
                    BatchItem.batch_id == batch_id,
                    BatchItem.submission_id.in_(submission_ids),
                    BatchItem.done_at.is_not(None),
                )
            )
            or 0
        )
        return out
    subs = session.scalars(
        select(Submission)
        .where(Submission.id.in_(list(items)))
        .order_by(Submission.id)
        .options(
            selectinload(Submission.answers).selectinload(Answer.grade),
            selectinload(Submission.answers).selectinload(Answer.problem).selectinload(Problem.reference),
        )
    ).all()
    now, memo, steps_memo, sources, graded, answers = _now(), {}, {}, {}, [], []
    task_id = f"batch-{batch_id}"
    for sub in subs:
        item = items[sub.id]
        for a in sub.answers:
            if a.problem_id not in sources:
                sources[a.problem_id] = _reference(a.problem)
        if any(sources[a.problem_id][1] == "waiting" for a in sub.answers):
            out["waiting"] += 1
            continue
        job = _claim(session, sub, task_id, stale_after)
        if job is None:
            if sub.status in FINAL:  # graded by another path (its job is closed): not again
                item.done_at = now
                out["already"] += 1
            continue  # another worker has it right now: a later send finds it finished
        for answer in sub.answers:
            reference, source = sources[answer.problem_id]
            key = (answer.problem_id, _normalised(answer.text) if group else answer.id, tuple(answer.work or ()))
            if key not in memo:
                work = (answer.problem_id, key[2])  # the steps' verdict depends on the work and the policy
                if work not in steps_memo:
                    steps_memo[work] = _steps(key[2], answer.problem.policy, timeout)
                memo[key] = _verdict(answer, reference, source, timeout, steps=steps_memo[work])
            _write(answer, memo[key], source)
            answers.append(answer)
        item.done_at, item.runs = now, item.runs + 1
        graded.append((sub, job))
    apply_overrides(session, answers)
    for sub, job in graded:
        retotal(sub)
        sub.error = None
        jobs.finish(job, versions={"grader": _grader_version()})
    session.commit()
    out.update(graded=len(graded), done=len(graded), answers=len(answers), checks=len(memo))
    return out


def _claim(session: Session, sub: Submission, task_id: str, stale_after: float):
    """The submission's grading job, claimed for this batch; None when another worker has it, or
    when it is graded already. A pending submission without an open job gets one."""
    from store import jobs
    from store.models import JobStatus

    job = jobs.claim(session, jobs.GRADE, sub.id, task_id, stale_after=stale_after)
    if job is not None or sub.status in FINAL:
        return job
    latest = jobs.latest(session, jobs.GRADE, sub.id)
    if latest is not None and latest.status == JobStatus.running.value:
        return None
    jobs.open_job(session, jobs.GRADE, sub.id)
    session.flush()
    return jobs.claim(session, jobs.GRADE, sub.id, task_id, stale_after=stale_after)


def _reference(problem: Problem) -> tuple[str | None, str]:
    from store import grading

    return grading.reference_for(problem)


def _grader_version() -> str:
    from grader import GRADER_VERSION

    return GRADER_VERSION


def _normalised(text: str) -> str:
    from store.groups import normalise

    return normalise(text)


def _steps(work: tuple, policy: dict | None, timeout: float) -> dict:
    from store import grading

    return grading._check_work(list(work), policy, timeout)


def _verdict(answer: Answer, reference: str | None, source: str, timeout: float, *, steps: dict | None = None) -> dict:
    """Everything a grade holds that depends on the answer's text and work, not on the student
    (store.grading.verdict, with the step findings memoised per distinct work)."""
    from store import grading

    return grading.verdict(answer, reference, timeout, steps=steps)


def _write(answer: Answer, verdict: dict, source: str) -> None:
    from grader import GRADER_VERSION
    from store.models import Grade

    grade = answer.grade
    if grade is None:
        grade = Grade(answer_id=answer.id)
        answer.grade = grade
    points = answer.problem.points
    grade.points = points
    grade.status = verdict["status"]
    grade.score = round(verdict["fraction"] * points, 4)
    grade.feedback = verdict["feedback"]
    grade.interpreted, grade.diagnosis = verdict["interpreted"], verdict["diagnosis"]
    grade.steps, grade.first_error = verdict["steps"]["steps"], verdict["steps"]["first_error"]
    grade.reference_source = source if source in ("key", "model") else None
    grade.grader_version = GRADER_VERSION
    grade.created_at = _now()
