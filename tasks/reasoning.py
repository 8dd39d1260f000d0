"""The `reasoning` queue: write a model reference solution for problems without a key.

Thin Celery task around `solve_reference`, which claims a batch of pending reference solutions
(the requested one first; `FOR UPDATE SKIP LOCKED` on PostgreSQL), generates k samples for each in
one batched model call, votes, stores every outcome in one transaction and, after the commit,
queues the grading of submissions that were waiting. Safe to run twice. No torch at import.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_shutdown, worker_shutdown
from sqlalchemy import case, or_, select

from store.db import db
from store.models import ReferenceSolution, ReferenceStatus
from tasks import GRADE_TASK, REASON_TASK, send
from tasks.celery_app import app_settings

log = logging.getLogger("stepwise.reasoning")

TERMINAL = {
    ReferenceStatus.ready.value,
    ReferenceStatus.needs_review.value,
    ReferenceStatus.unavailable.value,
    ReferenceStatus.failed.value,  # a teacher's retry puts it back to pending
}
DEVICE_CRASH_PREFIX = "device error"  # marks a row whose batch killed a worker once already

_logged_unavailable: set[str] = set()


def _now() -> datetime:
    return datetime.now(timezone.utc)


@shared_task(name=REASON_TASK, bind=True, acks_late=True)  # limits: Settings.reasoning_time_limit (celery_app)
def solve(self, reference_id: int) -> dict:
    """Write the reference solution `reference_id` (and whatever else is pending, as one batch)."""
    settings = app_settings(self.app)
    return solve_reference(reference_id, settings, exit_process=_exit_worker)


def _exit_worker(code: int) -> None:
    """A CUDA error poisons the context: end the process so the supervisor restarts it."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


def _enqueue_grading(submission_id: int) -> None:
    send(GRADE_TASK, [submission_id])  # after the commit; a refused send is left to the sweeper


def _enqueue_reasoning(reference_id: int) -> None:
    send(REASON_TASK, [reference_id])


def solve_reference(
    reference_id: int,
    settings: Any,
    *,
    runner: Any = None,
    enqueue_grading: Callable[[int], Any] = _enqueue_grading,
    enqueue_reasoning: Callable[[int], Any] = _enqueue_reasoning,
    exit_process: Callable[[int], Any] | None = None,
) -> dict:
    """Claim, generate, vote, store, resume waiting submissions. Returns {reference_id: status}.

    `exit_process` is called with 1 after a fatal CUDA error (the Celery task passes os._exit);
    without it the FatalDeviceError is raised to the caller.
    """
    claimed = _claim(reference_id, settings)
    if not claimed:
        log.info("reasoning.skipped reference_id=%s", reference_id,
                 extra={"event": "reasoning.skipped", "reference_id": reference_id})
        return {}
    ids = [row_id for row_id, _statement, _gen in claimed]
    log.info("reasoning.claimed reference_id=%s batch=%s", reference_id, ids,
             extra={"event": "reasoning.claimed", "reference_id": reference_id, "batch": ids})

    from worker.keys import generation_settings
    from worker.runtime import FatalDeviceError, ModelUnavailable, get_runner

    runner = runner or get_runner(settings)
    try:
        runner.ensure_ready()
    except ModelUnavailable as exc:
        if exc.message not in _logged_unavailable:  # say it once per process, clearly
            _logged_unavailable.add(exc.message)
            log.error("reasoning.model_unavailable %s", exc.message,
                      extra={"event": "reasoning.model_unavailable", "reference_id": reference_id})
        return _finish(ids, {i: {"status": ReferenceStatus.unavailable.value, "error": exc.message} for i in ids},
                       enqueue_grading)

    # One generate call per distinct generation setting (normally exactly one).
    groups: dict[str, list[tuple[int, str, dict]]] = defaultdict(list)
    for row_id, statement, gen in claimed:
        gen = gen or generation_settings(settings)
        groups[json.dumps(gen, sort_keys=True)].append((row_id, statement, gen))

    outcomes: dict[int, dict] = {}
    try:
        for rows in groups.values():
            gen = rows[0][2]
            started = time.perf_counter()
            results = runner.generate(
                [statement for _id, statement, _gen in rows],
                samples=int(gen.get("samples", settings.samples)),
                max_new_tokens=int(gen.get("max_new_tokens", settings.max_new_tokens)),
                temperature=float(gen.get("temperature", settings.temperature)),
                top_p=float(gen.get("top_p", settings.top_p)),
                repetition_penalty=float(gen.get("repetition_penalty", settings.repetition_penalty)),
            )
            elapsed = time.perf_counter() - started
            log.info("reasoning.generated batch=%s samples=%s seconds=%.2f", [r[0] for r in rows],
                     gen.get("samples"), elapsed, extra={"event": "reasoning.generated"})
            for (row_id, _statement, gen_used), samples in zip(rows, results):
                outcomes[row_id] = _outcome(samples, gen_used, runner.model_id, settings.agreement)
    except FatalDeviceError as exc:
        log.critical("reasoning.device_error batch=%s: %s", ids, exc,
                     extra={"event": "reasoning.device_error", "reference_id": reference_id})
        retry, failed = _release_after_crash(ids, str(exc))
        if failed:  # their waiting submissions go to teacher review now
            _finish(failed, {}, enqueue_grading, resume_only=True)
        if exit_process is None:
            raise
        for row_id in retry:
            try:
                enqueue_reasoning(row_id)
            except Exception:  # the broker may be gone too; the stale-running rule recovers
                log.exception("reasoning.requeue_failed reference_id=%s", row_id)
        exit_process(1)
        return {}
    except (SoftTimeLimitExceeded, Exception) as exc:
        log.exception("reasoning.failed batch=%s", ids, extra={"event": "reasoning.failed", "reference_id": reference_id})
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _finish(ids, {i: {"status": ReferenceStatus.failed.value, "error": error} for i in ids}, enqueue_grading)
        raise
    return _finish(ids, outcomes, enqueue_grading)


def _stale_before(settings: Any) -> datetime:
    return _now() - timedelta(seconds=int(settings.reasoning_time_limit))


def _claim(reference_id: int, settings: Any) -> list[tuple[int, str, dict]]:
    """Mark the requested row and up to batch_size-1 other claimable rows "running"; commit."""
    stale = _stale_before(settings)
    RS = ReferenceSolution
    claimable = or_(
        RS.status == ReferenceStatus.pending.value,
        (RS.status == ReferenceStatus.running.value) & (RS.updated_at < stale),
    )
    with db.transaction() as session:
        first = session.execute(
            select(RS).where(RS.id == reference_id).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if first is None:  # gone, or another worker is claiming it right now
            return []
        if first.status in TERMINAL:
            return []
        if first.status == ReferenceStatus.running.value and not _is_stale(first.updated_at, stale):
            return []  # another worker has it
        rows = [first]
        limit = max(1, int(settings.batch_size)) - 1
        if limit > 0:
            rows += session.execute(
                select(RS)
                .where(claimable, RS.id != reference_id)
                .order_by(case((RS.status == ReferenceStatus.pending.value, 0), else_=1), RS.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars().all()
        now = _now()
        for row in rows:
            row.status = ReferenceStatus.running.value
            row.updated_at = now  # explicit: a re-claimed stale row keeps the same status
        return [(row.id, row.statement, dict(row.settings or {})) for row in rows]


def _is_stale(updated_at: datetime | None, stale: datetime) -> bool:
    if updated_at is None:
        return True
    if updated_at.tzinfo is None:  # SQLite hands back naive UTC
        updated_at = updated_at.replace(tzinfo=timezone.utc)
    return updated_at < stale


def _outcome(samples: list, gen: dict, model_id: str, agreement_needed: float) -> dict:
    from worker.voting import vote

    result = vote([s.answer for s in samples])
    members = result.members
    chosen = samples[members[0]] if members else (samples[0] if samples else None)
    ready = result.answer is not None and result.agreement >= float(agreement_needed)
    return {
        "status": ReferenceStatus.ready.value if ready else ReferenceStatus.needs_review.value,
        "final_answer": result.answer,
        "agreement": result.agreement,
        "samples": [s.to_dict() for s in samples],
        "reasoning": chosen.text if chosen else None,
        "prompt_tokens": samples[0].prompt_tokens if samples else 0,
        "completion_tokens": sum(s.completion_tokens for s in samples),
        "latency_s": max((s.latency_s for s in samples), default=0.0),
        "settings": dict(gen),
        "model_id": model_id,
        "error": None if result.answer is not None else "no sample reached a final answer",
    }


def _finish(ids: list[int], outcomes: dict[int, dict], enqueue_grading: Callable[[int], Any], *,
            resume_only: bool = False) -> dict:
    """Write every outcome in one transaction, collect waiting submissions, enqueue after commit."""
    from store import grading

    to_grade: list[int] = []
    statuses: dict[int, str] = {}
    with db.transaction() as session:
        for row_id in ids if resume_only else ():
            statuses[row_id] = ReferenceStatus.failed.value
        for row_id in () if resume_only else ids:
            outcome = outcomes.get(row_id)
            row = session.get(ReferenceSolution, row_id)
            if row is None or outcome is None:
                continue
            for field, value in outcome.items():
                setattr(row, field, value)
            row.updated_at = _now()
            statuses[row_id] = row.status
            log.info("reasoning.stored reference_id=%s status=%s agreement=%s answer=%r", row_id, row.status,
                     row.agreement, row.final_answer,
                     extra={"event": "reasoning.stored", "reference_id": row_id, "status": row.status})
        session.flush()
        for row_id in statuses:
            to_grade.extend(grading.resume_waiting(session, row_id))
    for submission_id in dict.fromkeys(to_grade):
        enqueue_grading(submission_id)
    return statuses


def _release_after_crash(ids: list[int], error: str) -> tuple[list[int], list[int]]:
    """After a fatal CUDA error: rows go back to pending once (re-queued), a second crash fails them."""
    retry: list[int] = []
    failed: list[int] = []
    with db.transaction() as session:
        for row_id in ids:
            row = session.get(ReferenceSolution, row_id)
            if row is None or row.status != ReferenceStatus.running.value:
                continue
            if (row.error or "").startswith(DEVICE_CRASH_PREFIX):
                row.status = ReferenceStatus.failed.value
                row.error = f"{DEVICE_CRASH_PREFIX} (twice): {error}"[:2000]
                failed.append(row_id)
            else:
                row.status = ReferenceStatus.pending.value
                row.error = f"{DEVICE_CRASH_PREFIX}: {error}"[:2000]
                retry.append(row_id)
    return retry, failed


@worker_process_shutdown.connect
@worker_shutdown.connect
def _release_model(**_kwargs) -> None:
    runtime = sys.modules.get("worker.runtime")  # only if this process ever used the model
    if runtime is not None:
        runtime.shutdown_runner()


__all__ = ["solve", "solve_reference"]
