"""Shared fixtures: a real Postgres database and Redis for the session, the app, a real worker.

Postgres: a fresh database per test session, brought to head by the Alembic migrations; each test
starts from empty tables (TRUNCATE after every test that used the database). Redis: an empty
numbered database claimed for the session, so parallel runs and other users never collide. `celery_worker` starts a real worker process.
"""

from __future__ import annotations

import os
import secrets

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text
from support import private_redis_db, start_worker, stop_worker, worker_env

from store.db import db
from store.settings import Settings

PG_ADMIN = os.environ.get("STEPWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def database_url():
    """A throwaway Postgres database migrated to head; dropped at the end of the session."""
    name = f"stepwise_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    import migrations as migrate

    migrate.upgrade(url)
    yield url
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A tiny random Qwen2 with an R1-style trained tokenizer, saved once per session."""
    from tests.fixtures.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-r1") / "model")


@pytest.fixture(scope="session")
def redis_url():
    """An empty Redis database claimed for this test session alone (see `private_redis_db`)."""
    with private_redis_db() as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url, redis_url, tmp_path_factory) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-" + "x" * 32,
        instance_dir=str(tmp_path_factory.mktemp("instance")),
        lms_allow_private=True,
        model_enabled=False,
        max_body_bytes=256 * 1024,
    )


@pytest.fixture(scope="session")
def app(settings):
    from web import create_app

    app = create_app(settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Bind the shared session to the test database (another test may have rebound it), and
    empty every table after a test that touched the database."""
    if "database_url" not in request.fixturenames:
        yield
        return
    db.configure(request.getfixturevalue("database_url"))
    yield
    from store.metadata import target_metadata

    db.session.remove()
    names = ", ".join(f'"{t.name}"' for t in target_metadata.sorted_tables)
    engine = create_engine(request.getfixturevalue("database_url"))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def client(app):
    with app.test_client() as client:
        yield client


@pytest.fixture
def teacher(app):
    """A teacher with an API token in `teacher.token`."""
    from web.auth import create_teacher

    with app.app_context():
        row, token = create_teacher(f"t{secrets.token_hex(4)}@school.test", "correct horse", "Ms Test")
        row.token = token
        db.session.expunge(row)
    return row


@pytest.fixture
def auth(teacher):
    return {"Authorization": f"Bearer {teacher.token}"}


@pytest.fixture
def celery_worker(settings, redis_url, tmp_path):
    """A real Celery worker process on the grading and lms queues, against the test databases.

    One per test that asks for it: other tests enqueue without a worker and expect their
    submissions to stay queued, so stale messages are flushed before the worker starts.
    """
    with redis_lib.Redis.from_url(redis_url) as client:
        client.flushdb()
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(settings), "grading,lms", log)
    proc.log_path = log
    yield proc
    stop_worker(proc)
