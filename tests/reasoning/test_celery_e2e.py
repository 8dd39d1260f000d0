"""End to end: a real `celery -A worker.app worker -Q reasoning -P solo` process, Postgres, Redis,
and the tiny model loaded by the worker from a local folder."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import stop_process

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("STEPWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url():
    import sqlalchemy

    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"stepwise_reasoning_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:  # no Postgres is a failure, like everywhere else in the suite
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_db(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # our own claimed database: drop messages earlier tests left
    client.url = redis_url
    yield client
    client.close()


def test_reasoning_worker_solves_a_batch(pg_url, redis_db, tiny_model_path, tmp_path):
    from celery import Celery
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from store.db import create_all
    from store.models import Answer, Assignment, Problem, ReferenceSolution, Submission, Teacher
    from store.settings import Settings
    from tasks import REASON_TASK
    from worker.keys import generation_settings, reference_cache_key

    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        STEPWISE_DATABASE_URL=pg_url,
        STEPWISE_REDIS_URL=redis_db.url,
        STEPWISE_INSTANCE_DIR=str(tmp_path),
        STEPWISE_SECRET_KEY="test",
        STEPWISE_MODEL=str(tiny_model_path),
        STEPWISE_MODEL_LOCAL_ONLY="1",
        STEPWISE_DEVICE="cpu",
        STEPWISE_MAX_NEW_TOKENS="12",
        STEPWISE_SAMPLES="3",
        STEPWISE_BATCH_SIZE="8",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    settings = Settings(
        model=str(tiny_model_path),
        max_new_tokens=12,
        samples=3,
        secret_key="x",
        database_url=pg_url,
        instance_dir=str(tmp_path),
    )
    gen = generation_settings(settings)

    engine = create_engine(pg_url)
    create_all(engine)
    statements = ["What is 1/3 + 1/6?", "Solve 2x + 3 = 7.", "Factor x^2 - 5x + 6."]
    with Session(engine) as s:
        refs = []
        for text in statements:
            key, s_hash = reference_cache_key(text, settings.model, gen)
            refs.append(
                ReferenceSolution(
                    cache_key=key, statement_hash=s_hash, statement=text, model_id=settings.model, settings=gen
                )
            )
        teacher = Teacher(email="t@example.org", password_hash="x")
        assignment = Assignment(teacher=teacher, title="HW")
        s.add_all(refs + [teacher, assignment])
        s.flush()
        problem = Problem(assignment=assignment, position=1, statement=statements[0], reference_id=refs[0].id)
        submission = Submission(assignment=assignment, teacher_id=teacher.id, student="ada", source="api")
        s.add_all([problem, submission])
        s.flush()
        s.add(Answer(submission_id=submission.id, problem_id=problem.id, position=1, text="1/2"))
        s.commit()
        ids = [r.id for r in refs]

    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                "worker",
                "-Q",
                "reasoning",
                "-P",
                "solo",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"reasoning-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        sender = Celery("sender", broker=redis_db.url)
        for ref_id in ids:
            sender.send_task(REASON_TASK, args=[ref_id], queue="reasoning")
        deadline = time.monotonic() + 150
        rows = []
        while time.monotonic() < deadline:
            with Session(engine) as s:
                rows = s.scalars(select(ReferenceSolution).order_by(ReferenceSolution.id)).all()
            if all(r.status in ("ready", "needs_review", "unavailable", "failed") for r in rows):
                break
            assert proc.poll() is None, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        worker_log = log_path.read_text(errors="replace")
        assert all(r.status in ("ready", "needs_review") for r in rows), ([r.status for r in rows], worker_log[-4000:])
        for row in rows:
            assert len(row.samples) == 3 and row.model_id == str(tiny_model_path)
            assert row.settings == gen and row.reasoning and row.latency_s > 0 and row.prompt_tokens > 0
            assert all({"text", "answer", "completion_tokens", "truncated", "forced"} <= set(x) for x in row.samples)
        # the first task claimed all three problems: one batch, the other deliveries were no-ops
        assert worker_log.count("reasoning.generated") == 1, worker_log[-4000:]
        # the waiting submission was queued for grading after the commit
        deadline = time.monotonic() + 10
        while redis_db.llen("grading") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert redis_db.llen("grading") == 1
    finally:
        stop_process(proc, group=True)
        engine.dispose()


def _start_reasoning_worker(env, log_path, name):
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                "worker",
                "-Q",
                "reasoning",
                "-P",
                "solo",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc):
    stop_process(proc, group=True)


class _StuckServer(ThreadingHTTPServer):
    """A completions server that answers the warm-up and then hangs, like a GPU stuck mid-generation."""

    daemon_threads = True
    release = threading.Event()


class _StuckHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["max_tokens"] > 4:
            self.server.release.wait(120)  # never answers while the test runs
            return
        data = json.dumps({"choices": [{"token_ids": [1], "finish_reason": "length"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_killed_reasoning_worker_s_problem_is_retried_once(pg_url, redis_db, tiny_model_path, tmp_path):
    """SIGKILL a reasoning worker (solo pool) stuck mid-generation: after its lease a second worker
    takes the problem over and writes the one reference; nothing is written twice. (A delivery while
    the lease is fresh is a no-op: tests/reasoning/test_task.py.)"""
    from celery import Celery
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from store.db import create_all
    from store.models import ReferenceSolution
    from store.settings import Settings
    from tasks import REASON_TASK
    from worker.keys import generation_settings, reference_cache_key

    lease = 6
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        STEPWISE_DATABASE_URL=pg_url,
        STEPWISE_REDIS_URL=redis_db.url,
        STEPWISE_INSTANCE_DIR=str(tmp_path),
        STEPWISE_SECRET_KEY="test",
        STEPWISE_MODEL=str(tiny_model_path),
        STEPWISE_MODEL_LOCAL_ONLY="1",
        STEPWISE_DEVICE="cpu",
        STEPWISE_MAX_NEW_TOKENS="12",
        STEPWISE_SAMPLES="3",
        STEPWISE_BATCH_SIZE="4",
        STEPWISE_REASONING_TIME_LIMIT=str(lease),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    settings = Settings(
        model=str(tiny_model_path),
        max_new_tokens=12,
        samples=3,
        secret_key="x",
        database_url=pg_url,
        instance_dir=str(tmp_path),
    )
    gen = generation_settings(settings)
    engine = create_engine(pg_url)
    create_all(engine)
    key, s_hash = reference_cache_key("What is 6 times 7?", settings.model, gen)
    with Session(engine) as s:
        ref = ReferenceSolution(
            cache_key=key, statement_hash=s_hash, statement="What is 6 times 7?", model_id=settings.model, settings=gen
        )
        s.add(ref)
        s.commit()
        ref_id = ref.id

    def rows():
        with Session(engine) as s:
            return s.scalars(select(ReferenceSolution)).all()

    stuck = _StuckServer(("127.0.0.1", 0), _StuckHandler)
    threading.Thread(target=stuck.serve_forever, daemon=True).start()
    sender = Celery("sender", broker=redis_db.url)
    # The first worker's engine hangs (a stuck GPU server); its deadline would end it after the lease,
    # but it is killed before that.
    first = _start_reasoning_worker(
        dict(
            env,
            STEPWISE_ENGINE="openai",
            STEPWISE_REASONING_TIME_LIMIT="120",
            STEPWISE_ENGINE_URL=f"http://127.0.0.1:{stuck.server_address[1]}",
        ),
        tmp_path / "first.log",
        "doomed",
    )
    second = None
    try:
        sender.send_task(REASON_TASK, args=[ref_id], queue="reasoning")
        deadline = time.monotonic() + 90
        while rows()[0].status != "running":  # claimed: the worker is generating (and stuck)
            assert time.monotonic() < deadline and first.poll() is None, (tmp_path / "first.log").read_text()
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        assert rows()[0].status == "running"  # stranded with the dead worker
        second = _start_reasoning_worker(env, tmp_path / "second.log", "heir")
        time.sleep(lease + 1)  # the dead worker's lease runs out
        sender.send_task(REASON_TASK, args=[ref_id], queue="reasoning")  # as the sweeper or a redelivery would
        deadline = time.monotonic() + 120
        while rows()[0].status == "running":
            assert time.monotonic() < deadline and second.poll() is None, (tmp_path / "second.log").read_text()[-4000:]
            time.sleep(0.3)
        found = rows()
        second_log = (tmp_path / "second.log").read_text(errors="replace")
        assert len(found) == 1 and found[0].status in ("ready", "needs_review"), second_log[-4000:]
        assert len(found[0].samples) == 3
        assert "reasoning.stored" not in (tmp_path / "first.log").read_text(errors="replace")
        assert second_log.count(f"reasoning.stored reference_id={ref_id} ") == 1
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
        stuck.release.set()
        stuck.shutdown()
        stuck.server_close()
        engine.dispose()
