"""Fixtures for the reasoning tests: a tiny random Qwen2 with R1's tokenizer shape, on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest


def make_settings(model: Path | str, tmp: Path, **overrides):
    from store.settings import Settings

    values = dict(
        database_url=f"sqlite:///{tmp / 'stepwise.sqlite'}",
        secret_key="test",
        instance_dir=str(tmp),
        model=str(model),
        model_local_only=True,
        device="cpu",
        max_new_tokens=12,
        samples=3,
        batch_size=4,
        agreement=0.6,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_factory(tmp_path):
    """make_settings(model, **overrides) bound to this test's tmp folder."""
    return lambda model, **overrides: make_settings(model, tmp_path, **overrides)


@pytest.fixture
def tiny_settings(tiny_model_path, tmp_path):
    return make_settings(tiny_model_path, tmp_path)


@pytest.fixture(scope="session")
def tiny_runner(tiny_model_path, tmp_path_factory):
    """One loaded runner for the session (loading costs seconds on 2 cores)."""
    from worker.runtime import ModelRunner

    runner = ModelRunner(make_settings(tiny_model_path, tmp_path_factory.mktemp("runner")))
    runner.ensure_ready()
    yield runner
    runner.shutdown()


@pytest.fixture
def sqlite_db(tmp_path):
    """The process-wide `db` bound to a fresh SQLite file with every table."""
    from store.db import create_all, db

    engine = db.configure(f"sqlite:///{tmp_path / 'stepwise.sqlite'}")
    create_all(engine)
    yield db
    db.dispose()
    db.engine = None
    db.url = None
