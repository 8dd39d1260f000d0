"""Alembic migrations reach head on Postgres and SQLite and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import migrations as migrate
from store.metadata import target_metadata


def _diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, target_metadata)
    engine.dispose()
    return diff


def test_postgres_migrated_database_matches_models(database_url):
    # `database_url` was brought to head by `migrations.upgrade` in conftest.
    assert _diff(database_url) == []
    assert migrate.current(database_url) is not None


def test_sqlite_upgrade_downgrade_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    migrate.upgrade(url)
    assert _diff(url) == []
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {t.name for t in target_metadata.sorted_tables} <= tables
    migrate.downgrade(url, "base")
    assert set(inspect(create_engine(url)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _diff(url) == []


def test_cli_db_upgrade_on_an_empty_sqlite(tmp_path, monkeypatch, capsys):
    from stepwise.cli import main

    monkeypatch.setenv("STEPWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("STEPWISE_INSTANCE_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert "database at" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_single_head():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
