"""Reference-solution rows as work items: claim a batch by urgency, store outcomes under a lease,
release rows after a device crash. No model code here (worker/reference.py runs the model).

Claim order: interactive rows (priority 0: a teacher or an LMS launch is waiting) before batch
rows (priority 1: nightly imports), then oldest first. Aging: a batch row waiting longer than
AGING_S competes as interactive, and then its age puts it ahead of newer interactive rows, so
batch work is never starved.

Lease: claiming sets status "running" and updated_at to the claim time; a worker's outcome is
stored only while the row still carries its claim. A worker that died (or froze) loses its rows
once they are older than the reasoning time limit (the generation deadline is shorter, so a live
worker always finishes first); the next claim takes them over, and a late write from the old
worker is dropped: one reference per row, never two writers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from store.models import ReferenceSolution, ReferenceStatus

log = logging.getLogger("stepwise.reasoning")

INTERACTIVE = 0
BATCH = 1
AGING_S = 15 * 60  # a batch row older than this is served like an interactive one
DEVICE_CRASH_PREFIX = "device error"  # marks a row whose batch killed a worker once already
TERMINAL = {
    ReferenceStatus.ready.value,
    ReferenceStatus.needs_review.value,
    ReferenceStatus.unavailable.value,
    ReferenceStatus.failed.value,  # a teacher's retry puts it back to pending
}


@dataclass(frozen=True)
class Claimed:
    id: int
    statement: str
    settings: dict[str, Any]
    claimed_at: datetime


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_stale(updated_at: datetime | None, stale: datetime) -> bool:
    value = _utc(updated_at)
    return value is None or value < stale


def claim_batch(
    session: Session, reference_id: int | None, *, limit: int, lease_s: float, at: datetime | None = None
) -> list[Claimed]:
    """Mark up to `limit` claimable rows "running": most urgent, then oldest, first (`reference_id` on a tie).

    Claimable: pending, or running with a lease older than `lease_s` (its worker is gone). The
    caller commits. `reference_id` None: whatever is most urgent (a running worker refilling).
    Rows locked by another claim right now are skipped (SKIP LOCKED on PostgreSQL).
    """
    at = at or now()
    stale = at - timedelta(seconds=lease_s)
    aged = at - timedelta(seconds=AGING_S)
    RS = ReferenceSolution
    claimable = or_(
        RS.status == ReferenceStatus.pending.value,
        (RS.status == ReferenceStatus.running.value) & (RS.updated_at < stale),
    )
    urgency = case(((RS.priority <= INTERACTIVE) | (RS.created_at < aged), 0), else_=1)
    rows = (
        session.execute(
            select(RS)
            .where(claimable)
            .order_by(urgency, RS.created_at, case((RS.id == (reference_id or -1), 0), else_=1), RS.id)
            .limit(max(1, int(limit)))
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    claimed = []
    for row in rows:
        if row.status == ReferenceStatus.running.value and not _is_stale(row.updated_at, stale):
            continue  # SQLite has no row locks: re-check what the WHERE clause saw
        row.status = ReferenceStatus.running.value
        row.updated_at = at  # the lease; explicit, as a re-claimed stale row keeps its status
        claimed.append(Claimed(row.id, row.statement, dict(row.settings or {}), at))
    return claimed


def holds_lease(row: ReferenceSolution, claim: Claimed) -> bool:
    """Whether `row` is still running under `claim` (not taken over after a stale lease)."""
    return row.status == ReferenceStatus.running.value and _utc(row.updated_at) == _utc(claim.claimed_at)


def store_outcomes(session: Session, claims: Iterable[Claimed], outcomes: dict[int, dict]) -> dict[int, str]:
    """Write each outcome onto its row while the lease holds; returns {id: status} of the rows written."""
    statuses: dict[int, str] = {}
    for claim in claims:
        outcome = outcomes.get(claim.id)
        row = session.get(ReferenceSolution, claim.id, with_for_update=True)
        if row is None or outcome is None:
            continue
        if not holds_lease(row, claim):
            log.warning(
                "reasoning.lease_lost reference_id=%s status=%s",
                claim.id,
                row.status,
                extra={"event": "reasoning.lease_lost", "reference_id": claim.id},
            )
            continue
        for name, value in outcome.items():
            setattr(row, name, value)
        row.updated_at = now()
        statuses[claim.id] = row.status
        log.info(
            "reasoning.stored reference_id=%s status=%s agreement=%s answer=%r",
            claim.id,
            row.status,
            row.agreement,
            row.final_answer,
            extra={"event": "reasoning.stored", "reference_id": claim.id, "status": row.status},
        )
    return statuses


def release_after_crash(session: Session, claims: Iterable[Claimed], error: str) -> tuple[list[int], list[int]]:
    """After a fatal CUDA error: rows go back to pending once (to be re-queued), a second crash fails them."""
    retry: list[int] = []
    failed: list[int] = []
    for claim in claims:
        row = session.get(ReferenceSolution, claim.id, with_for_update=True)
        if row is None or not holds_lease(row, claim):
            continue
        if (row.error or "").startswith(DEVICE_CRASH_PREFIX):
            row.status = ReferenceStatus.failed.value
            row.error = f"{DEVICE_CRASH_PREFIX} (twice): {error}"[:2000]
            failed.append(claim.id)
        else:
            row.status = ReferenceStatus.pending.value
            row.error = f"{DEVICE_CRASH_PREFIX}: {error}"[:2000]
            retry.append(claim.id)
    return retry, failed


def raise_priority(row: ReferenceSolution, priority: int) -> None:
    """A pending row asked for again by more urgent work takes the more urgent priority (a running
    row is left alone: touching it would move its lease)."""
    if row.status != ReferenceStatus.pending.value:
        return
    if row.priority is None or priority < row.priority:
        row.priority = priority


__all__ = [
    "AGING_S",
    "BATCH",
    "DEVICE_CRASH_PREFIX",
    "INTERACTIVE",
    "TERMINAL",
    "Claimed",
    "claim_batch",
    "holds_lease",
    "raise_priority",
    "release_after_crash",
    "store_outcomes",
]
