"""Engine and session registry, bound at run time by the app factory, the worker or the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, scoped_session, sessionmaker


class Database:
    """Holds one engine per process; `session` is a thread/task-scoped session factory."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.url: str | None = None
        factory = sessionmaker(expire_on_commit=False)
        event.listen(factory, "after_commit", _run_after_commit)
        event.listen(factory, "after_soft_rollback", _drop_after_commit)
        self.session = scoped_session(factory)

    def configure(self, url: str) -> Engine:
        """Bind to `url`; calling it again with the same URL keeps the engine."""
        if self.engine is not None and self.url == url:
            return self.engine
        self.dispose()
        self.engine = make_engine(url)
        self.url = url
        self.session.configure(bind=self.engine)
        return self.engine

    def dispose(self) -> None:
        """Drop pooled connections: after a fork, and at shutdown."""
        self.session.remove()
        if self.engine is not None:
            self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.session()
        committed = False
        try:
            yield session
            session.commit()
            committed = True
        finally:
            if not committed:  # any error, a time limit or an interrupt: nothing half-written stays
                session.rollback()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction commits; a rollback drops it.

    Every enqueue goes through this (warehouse's after-commit hook): a worker never looks for a
    row that is not committed yet, and nothing is sent for work that was rolled back.
    """
    session.info.setdefault(_PENDING, []).append(callback)


_PENDING = "stepwise.after_commit"


def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_PENDING, [])
    for callback in callbacks:
        callback()


def _drop_after_commit(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def safe_rollback(session: Session) -> None:
    """Roll back; on a connection the server already dropped, just discard the session's state."""
    try:
        session.rollback()
    except (OperationalError, InterfaceError):
        session.close()


def is_transient(exc: BaseException) -> bool:
    """A database error worth retrying: the server is unreachable, restarting or dropped us."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def make_engine(url: str, **options) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **options)
    # Pessimistic disconnect handling, but only for connections that sat idle: a ping per checkout
    # (`pool_pre_ping`) is one more round trip on every request and every task. A connection used
    # in the last PING_IDLE_S seconds is trusted; if the server went away meanwhile, the first
    # statement fails as a disconnect, SQLAlchemy drops the whole pool, and the request answers 503
    # or the task retries, as during any outage.
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", _idle_ping(engine.dialect))
    return engine


PING_IDLE_S = 10.0


def _checked_in(_dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _idle_ping(dialect):
    driver_error = dialect.loaded_dbapi.Error

    def ping(dbapi_connection, record, _proxy) -> None:
        last = record.info.get("checked_in")
        if last is not None and time.monotonic() - last < PING_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs, here only after idling
        except driver_error as exc:  # the server is gone: the pool replaces this connection
            raise DisconnectionError(str(exc)) from exc

    return ping


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web process read while the worker writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_all(engine: Engine) -> None:
    """Tests and throwaway databases only: real installs run `stepwise db upgrade`."""
    from store.metadata import target_metadata

    target_metadata.create_all(engine)


db = Database()
