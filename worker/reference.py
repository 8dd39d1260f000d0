"""Write reference solutions: claim a batch, generate k samples each, vote, store, resume grading.

`solve_reference(id, settings)` is what the thin Celery task `stepwise.reasoning.solve` calls.
It claims the most urgent pending rows (store/reasoning.py: interactive before batch, with aging),
runs them through the runner in one engine call with a deadline inside the generation loop
(Celery's time limits do not fire under the solo pool), stores every outcome in one transaction
while the claim's lease holds, and after the commit queues the grading of waiting submissions.
Safe to run twice: a delivery that finds nothing claimable does nothing. No torch at import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from store import grading, metrics
from store import reasoning as rows
from store.db import db
from store.models import ReferenceStatus
from worker.engine import FatalDeviceError, GenerationTimeout
from worker.keys import generation_settings
from worker.voting import vote

log = logging.getLogger("stepwise.reasoning")

DEADLINE_MARGIN = 0.9  # the generation deadline is this share of the lease: a live worker always ends first
REFILL_SHARE = 0.5  # new problems join a running batch only in this first share of the lease

_logged_unavailable: set[str] = set()


def solve_reference(
    reference_id: int,
    settings: Any,
    *,
    runner: Any = None,
    enqueue_grading: Callable[[int], Any],
    enqueue_reasoning: Callable[[int], Any],
    exit_process: Callable[[int], Any] | None = None,
) -> dict:
    """Claim, generate, vote, store, resume waiting submissions. Returns {reference_id: status}.

    `exit_process` is called with 1 after a fatal CUDA error (the Celery task passes os._exit);
    without it the FatalDeviceError is raised to the caller.
    """
    lease_s = float(settings.reasoning_time_limit)
    from worker.runtime import ModelUnavailable, get_runner

    runner = runner or get_runner(settings)
    try:  # load before claiming: a worker that is still loading holds no rows
        runner.ensure_ready()
    except ModelUnavailable as exc:
        if exc.message not in _logged_unavailable:  # say it once per process, clearly
            _logged_unavailable.add(exc.message)
            log.error(
                "reasoning.model_unavailable %s",
                exc.message,
                extra={"event": "reasoning.model_unavailable", "reference_id": reference_id},
            )
        unavailable = exc
    except FatalDeviceError as exc:  # no rows are held yet: restart the process and let a fresh one load
        log.critical("reasoning.device_error at load: %s", exc, extra={"event": "reasoning.device_error"})
        if exit_process is None:
            raise
        exit_process(1)
        return {}
    else:
        unavailable = None
    with db.transaction() as session:
        claims = rows.claim_batch(session, reference_id, limit=int(settings.batch_size), lease_s=lease_s)
    if not claims:
        log.info(
            "reasoning.skipped reference_id=%s",
            reference_id,
            extra={"event": "reasoning.skipped", "reference_id": reference_id},
        )
        return {}
    log.info(
        "reasoning.claimed reference_id=%s batch=%s",
        reference_id,
        [c.id for c in claims],
        extra={"event": "reasoning.claimed", "reference_id": reference_id, "batch": [c.id for c in claims]},
    )
    deadline = time.monotonic() + lease_s * DEADLINE_MARGIN
    stream = _Stream(claims, settings, runner, enqueue_grading, lease_s)
    if unavailable is not None:
        stream.fail(ReferenceStatus.unavailable, unavailable.message)
        return stream.statuses
    try:
        runner.run([stream.job(c) for c in claims], more=stream.more, on_done=stream.done, deadline=deadline)
    except FatalDeviceError as exc:
        metrics.record_failure("reasoning", len(stream.open))
        log.critical(
            "reasoning.device_error batch=%s: %s",
            stream.open_ids,
            exc,
            extra={"event": "reasoning.device_error", "reference_id": reference_id},
        )
        with db.transaction() as session:
            retry, failed = rows.release_after_crash(session, stream.open_claims(), str(exc))
        if failed:  # their waiting submissions go to teacher review now
            _resume(failed, enqueue_grading)
        if exit_process is None:
            raise
        for row_id in retry:
            try:
                enqueue_reasoning(row_id)
            except Exception:  # the broker may be gone too; the stale-lease rule recovers
                log.exception("reasoning.requeue_failed reference_id=%s", row_id)
        exit_process(1)
        return stream.statuses
    except GenerationTimeout as exc:
        metrics.record_failure("reasoning", len(stream.open))
        log.error("reasoning.timeout batch=%s: %s", stream.open_ids, exc, extra={"event": "reasoning.timeout"})
        message = f"time limit: {exc} (STEPWISE_REASONING_TIME_LIMIT={settings.reasoning_time_limit}s)"
        stream.fail(ReferenceStatus.failed, message)
        return stream.statuses
    except (SoftTimeLimitExceeded, Exception) as exc:
        metrics.record_failure("reasoning", len(stream.open))
        log.exception(
            "reasoning.failed batch=%s",
            stream.open_ids,
            extra={"event": "reasoning.failed", "reference_id": reference_id},
        )
        stream.fail(ReferenceStatus.failed, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    log.info(
        "reasoning.generated batch=%s seconds=%.2f",
        sorted(stream.statuses),
        time.monotonic() - stream.started,
        extra={"event": "reasoning.generated"},
    )
    return stream.statuses


def _failure(status: ReferenceStatus, error: str) -> dict:
    return {"status": status.value, "error": error}


class _Stream:
    """The rows of one worker run: jobs for the runner, refills from the queue, each outcome stored
    the moment its samples end (its waiting submissions graded at once, not at the end of the batch)."""

    def __init__(
        self, claims: list, settings: Any, runner: Any, enqueue_grading: Callable[[int], Any], lease_s: float
    ) -> None:
        self.settings, self.runner, self.enqueue_grading, self.lease_s = settings, runner, enqueue_grading, lease_s
        self.claims = {c.id: c for c in claims}
        self.open = set(self.claims)
        self.statuses: dict[int, str] = {}
        self.started = time.monotonic()
        # New problems join only in the first part of the lease, so the last ones end before the deadline.
        self.refill_until = self.started + lease_s * REFILL_SHARE

    @property
    def open_ids(self) -> list[int]:
        return sorted(self.open)

    def open_claims(self) -> list:
        return [self.claims[i] for i in self.open_ids]

    def gen(self, claim: Any) -> dict:
        return claim.settings or generation_settings(self.settings)

    def job(self, claim: Any) -> Any:
        from worker.runtime import Job

        gen = self.gen(claim)
        return Job.of(
            claim.id,
            claim.statement,
            self.settings,
            samples=gen.get("samples"),
            max_new_tokens=gen.get("max_new_tokens"),
            temperature=gen.get("temperature"),
            top_p=gen.get("top_p"),
            repetition_penalty=gen.get("repetition_penalty"),
        )

    def more(self, wanted: int) -> list:
        """Claim up to `wanted` more rows (most urgent first) while the lease leaves time for them."""
        if wanted <= 0 or time.monotonic() >= self.refill_until:
            return []
        with db.transaction() as session:
            claims = rows.claim_batch(session, None, limit=wanted, lease_s=self.lease_s)
        for claim in claims:
            self.claims[claim.id] = claim
            self.open.add(claim.id)
        if claims:
            log.info("reasoning.claimed_more batch=%s", [c.id for c in claims], extra={"event": "reasoning.claimed"})
        return [self.job(c) for c in claims]

    def done(self, row_id: int, samples: list) -> None:
        claim = self.claims[row_id]
        gen = self.gen(claim)
        result = outcome(samples, gen, self.runner.model_id, float(gen.get("agreement", self.settings.agreement)))
        self.statuses.update(_finish([claim], {row_id: result}, self.enqueue_grading))
        self.open.discard(row_id)

    def fail(self, status: ReferenceStatus, error: str) -> None:
        claims = self.open_claims()
        self.statuses.update(_finish(claims, {c.id: _failure(status, error) for c in claims}, self.enqueue_grading))
        self.open.clear()


def outcome(samples: list, gen: dict, model_id: str, agreement_needed: float) -> dict:
    """The row fields for one problem's samples: the vote, the chosen sample's text, the usage."""
    result = vote([s.answer for s in samples])
    members = result.members
    chosen = samples[members[0]] if members else (samples[0] if samples else None)
    ready = result.answer is not None and result.agreement >= float(agreement_needed)
    if result.answer is not None:
        error = None
    elif result.rejected:
        error = f"no sample reached a final answer the grader can read ({len(result.rejected)} unreadable)"
    else:
        error = "no sample reached a final answer"
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
        "error": error,
    }


def _finish(claims: list, outcomes: dict[int, dict], enqueue_grading: Callable[[int], Any]) -> dict:
    """Write every outcome in one transaction (lease permitting), then queue waiting submissions."""
    to_grade: list[int] = []
    with db.transaction() as session:
        statuses = rows.store_outcomes(session, claims, outcomes)
        session.flush()
        for row_id in statuses:
            to_grade.extend(grading.resume_waiting(session, row_id))
    for submission_id in dict.fromkeys(to_grade):
        enqueue_grading(submission_id)
    return statuses


def _resume(ids: list[int], enqueue_grading: Callable[[int], Any]) -> None:
    to_grade: list[int] = []
    with db.transaction() as session:
        for row_id in ids:
            to_grade.extend(grading.resume_waiting(session, row_id))
    for submission_id in dict.fromkeys(to_grade):
        enqueue_grading(submission_id)


__all__ = ["outcome", "solve_reference"]
