"""End to end: a real `celery -A worker.app worker -Q reasoning -P solo` process, Postgres, Redis,
and the tiny model loaded by the worker from a local folder."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    settings = Settings(model=str(tiny_model_path), max_new_tokens=12, samples=3, secret_key="x",
                        database_url=pg_url, instance_dir=str(tmp_path))
    gen = generation_settings(settings)

    engine = create_engine(pg_url)
    create_all(engine)
    statements = ["What is 1/3 + 1/6?", "Solve 2x + 3 = 7.", "Factor x^2 - 5x + 6."]
    with Session(engine) as s:
        refs = []
        for text in statements:
            key, s_hash = reference_cache_key(text, settings.model, gen)
            refs.append(ReferenceSolution(cache_key=key, statement_hash=s_hash, statement=text,
                                          model_id=settings.model, settings=gen))
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
            [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "reasoning", "-P", "solo",
             "--concurrency", "1", "--prefetch-multiplier", "1", "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"reasoning-test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        engine.dispose()
