"""Helpers for tests that run real worker processes: start, stop, poll."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis as redis_lib

from store.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REDIS_BASE = os.environ.get("STEPWISE_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_SECONDS = 4 * 3600  # a crashed run's claim lapses on its own


@contextmanager
def private_redis_db(base: str = REDIS_BASE) -> Iterator[str]:
    """A Redis database number that is empty and claimed for this test run alone.

    Claims live in DB 0 as `stepwise:test-claim:<n>` (set-if-absent, with an expiry), so runs in
    parallel, and whatever else shares the server, never see or flush each other's keys. The
    claimed database is flushed only at release, when it holds nothing but this run's keys.
    """
    control = redis_lib.Redis.from_url(f"{base}/0")
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    try:
        for number in range(1, 16):
            key = f"stepwise:test-claim:{number}"
            if not control.set(key, token, nx=True, ex=CLAIM_SECONDS):
                continue
            url = f"{base}/{number}"
            with redis_lib.Redis.from_url(url) as client:
                if client.dbsize() == 0:
                    break
            control.delete(key)  # someone's data without a claim: not ours to use
        else:
            raise RuntimeError("no empty, unclaimed Redis database (1-15) for the tests")
        try:
            yield url
        finally:
            with redis_lib.Redis.from_url(url) as client:
                client.flushdb()
            if control.get(key) == token.encode():
                control.delete(key)
    finally:
        control.close()


def worker_env(settings: Settings, **extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STEPWISE_DATABASE_URL=settings.database_url,
        STEPWISE_REDIS_URL=settings.redis_url,
        STEPWISE_SECRET_KEY=settings.secret_key,
        STEPWISE_INSTANCE_DIR=settings.instance_dir,
        STEPWISE_LMS_ALLOW_PRIVATE="1",
        STEPWISE_MODEL_ENABLED="0",
        PYTHONPATH=str(ROOT),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def worker_command(
    queues: str, name: str, *, pool: str = "prefork", concurrency: int = 2, beat_schedule: Path | None = None
) -> list[str]:
    """The `celery worker` command line the tests start (no gossip, mingle or heartbeat: faster
    start, nothing shared between test workers); with `beat_schedule`, beat runs embedded."""
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", queues, "-P", pool]
    cmd += ["--concurrency", str(concurrency), "--loglevel", "INFO", "-n", f"{name}@%h"]
    cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat_schedule is not None:
        cmd += ["--beat", "--schedule", str(beat_schedule)]
    return cmd


def start_worker(env: dict[str, str], queues: str, log: Path, *, pool: str = "prefork", concurrency: int = 2):
    """Start `celery worker` as a subprocess and wait until it says it is ready."""
    cmd = worker_command(queues, f"test-{queues}-{os.getpid()}", pool=pool, concurrency=concurrency)
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b" ready." in log.read_bytes():
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"worker not ready in 60 s:\n{log.read_text(errors='replace')[-4000:]}")


def stop_process(
    proc: subprocess.Popen, *, group: bool = False, term_group: bool | None = None, timeout: float = 20
) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; always reap the child.

    `group`: the SIGKILL goes to the whole process group (children started with
    `start_new_session=True`, with their pool processes). `term_group` (default: as `group`):
    whether the SIGTERM does too; False leaves a supervisor such as `stepwise run` to stop its
    own children.
    """

    def signal_(sig: int, to_group: bool) -> None:
        try:
            if to_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:
            pass

    if proc.poll() is None:
        signal_(signal.SIGTERM, group if term_group is None else term_group)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    if group or proc.poll() is None:
        signal_(signal.SIGKILL, group)  # a group's children may outlive their parent
    proc.wait()  # reaped: no zombie, no "still running" warning when the Popen is collected


def stop_worker(proc: subprocess.Popen) -> None:
    stop_process(proc)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll until `predicate()` is truthy; return its value or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
