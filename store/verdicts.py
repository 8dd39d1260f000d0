"""Verdicts shared by every grading worker, so each distinct answer to a problem is checked once
across workers and machines, not once per worker process.

A verdict (`store.grading.verdict`) depends only on the answer's text and work, the reference, the
problem's policy, the check time limit and the grader's version; those, hashed, are its key. With
Redis configured (`STEPWISE_REDIS_URL`, the production stack) the verdicts live there for a week;
on the embedded default they live in the SQLite file `verdicts.sqlite` beside the database, which
the worker processes of the one machine share. Either way the grader's own per-process cache
stays in front.

Only complete verdicts are shared: one that a time limit cut short (status "timeout", or a step
that ran out of time) is checked again next time, as the grader's cache does, so a verdict never
depends on how loaded the machine was when it was first made. The cache is an optimisation: when
it is unreachable, grading goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import redis

log = logging.getLogger("stepwise.verdicts")

TTL_S = 7 * 24 * 3600
MAX_KEYED_TEXT = 20_000  # longer inputs are checked every time rather than stored
PREFIX = "stepwise:verdict:"


def cache_key(text: str, work: Sequence[str], reference: str | None, policy: dict | None, timeout: float) -> str | None:
    """The verdict's key, or None when the inputs are too long to be worth storing."""
    from grader import GRADER_VERSION  # here, not at import: the web and the CLI never load sympy

    parts = [GRADER_VERSION, text, [str(w) for w in work or ()], reference, policy or {}, float(timeout)]
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    if len(raw) > MAX_KEYED_TEXT:
        return None
    return hashlib.sha256(raw.encode()).hexdigest()


def shareable(found: dict) -> bool:
    """False for a verdict a time limit cut short: it must be made again, not remembered."""
    if found.get("status") == "timeout":
        return False
    return not any(step.get("status") == "timeout" for step in found.get("steps", {}).get("steps", []))


class VerdictStore(Protocol):
    def get_many(self, keys: list[str]) -> list[dict | None]: ...

    def put_many(self, items: dict[str, dict]) -> None: ...


class RedisVerdicts:
    """One MGET per submission, one pipelined write of what was new; short socket timeouts."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._quiet_until = 0.0

    def get_many(self, keys: list[str]) -> list[dict | None]:
        try:
            raw = self.client.mget([PREFIX + k for k in keys])
        except redis.RedisError as exc:
            self._warn("get", exc)
            return [None] * len(keys)
        return [None if r is None else json.loads(r) for r in raw]

    def put_many(self, items: dict[str, dict]) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, found in items.items():
                pipe.set(PREFIX + key, json.dumps(found), ex=TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            self._warn("put", exc)

    def _warn(self, op: str, exc: Exception) -> None:
        if time.monotonic() >= self._quiet_until:  # once a minute while Redis is away
            log.warning("verdicts.unavailable op=%s error=%s", op, type(exc).__name__)
            self._quiet_until = time.monotonic() + 60


class FileVerdicts:
    """A SQLite file shared by the worker processes of one machine (the embedded default)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT, stored REAL)")
            conn.execute("CREATE INDEX IF NOT EXISTS verdicts_stored ON verdicts (stored)")  # expiry
            self._conn = conn
        return self._conn

    def get_many(self, keys: list[str]) -> list[dict | None]:
        try:
            marks = ",".join("?" * len(keys))
            rows = dict(self._db().execute(f"SELECT key, verdict FROM verdicts WHERE key IN ({marks})", keys))
        except sqlite3.Error as exc:
            log.warning("verdicts.unavailable op=get error=%s", type(exc).__name__)
            return [None] * len(keys)
        return [json.loads(rows[k]) if k in rows else None for k in keys]

    def put_many(self, items: dict[str, dict]) -> None:
        now = time.time()
        try:
            conn = self._db()
            conn.executemany(
                "INSERT OR REPLACE INTO verdicts (key, verdict, stored) VALUES (?, ?, ?)",
                [(k, json.dumps(v), now) for k, v in items.items()],
            )
            conn.execute("DELETE FROM verdicts WHERE stored < ?", (now - TTL_S,))
        except sqlite3.Error as exc:
            log.warning("verdicts.unavailable op=put error=%s", type(exc).__name__)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SharedVerdicts:
    """The process's shared verdict store, set by the worker at start (`configure`); unset, grading
    uses the grader's per-process cache alone."""

    def __init__(self) -> None:
        self.store: VerdictStore | None = None

    def configure(self, *, redis_url: str = "", directory: str = "") -> None:
        self.close()
        if redis_url:
            self.store = RedisVerdicts(redis_url)
        elif directory:
            self.store = FileVerdicts(Path(directory) / "verdicts.sqlite")

    def close(self) -> None:
        if isinstance(self.store, FileVerdicts):
            self.store.close()
        self.store = None

    def after_fork(self) -> None:
        """Connections are per process: a forked child opens its own."""
        if isinstance(self.store, FileVerdicts):
            self.store._conn = None  # (redis-py notices the fork by itself)

    def get_many(self, keys: list[str]) -> list[dict | None]:
        return self.store.get_many(keys) if self.store is not None and keys else [None] * len(keys)

    def put_many(self, items: dict[str, dict]) -> None:
        if self.store is not None and items:
            self.store.put_many(items)


shared = SharedVerdicts()
