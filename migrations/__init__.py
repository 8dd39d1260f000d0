"""Alembic migration scripts, shipped inside the installed package (package data), and the code
that runs them from Python: `stepwise db upgrade` and the tests use the same functions.

This package sits above `store/` (its `env.py` reads the models); nothing below imports it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent  # the checkout's folder or the installed package's


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def not_ready(url: str) -> str | None:
    """Why the database at `url` cannot serve yet (missing, empty, behind), or None when at head.
    Never creates a SQLite file."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return (
            f"no Stepwise database at {parsed.database}; run `stepwise db upgrade` (or `stepwise run`) "
            "here first, or set STEPWISE_INSTANCE_DIR / STEPWISE_DATABASE_URL to an existing install"
        )
    try:
        revision = current(url)
    except Exception as exc:
        return f"cannot open the database {parsed.render_as_string(hide_password=True)}: {type(exc).__name__}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if revision != head:
        return (
            f"the database {parsed.render_as_string(hide_password=True)} is at {revision or 'no revision'}, "
            f"not {head}; run `stepwise db upgrade`"
        )
    return None


def current(url: str) -> str | None:
    engine = make_engine(url)
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return rev
