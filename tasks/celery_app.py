"""The one Celery configuration: built from Stepwise settings (or a Flask app's), importable by
`web/` without the model worker. `worker/app.py` is the `celery -A` shim that calls it."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from celery import Celery, current_app
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    celeryd_init,
    task_postrun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SqlaTransport

from store import logs, verdicts
from store.db import db
from store.settings import Settings

GRADING_QUEUE = "grading"  # CPU: sympy checks, the sweeper
REASONING_QUEUE = "reasoning"  # GPU: the model
LMS_QUEUE = "lms"  # network: grade passback to LMSs
QUEUES = (GRADING_QUEUE, REASONING_QUEUE, LMS_QUEUE)

TASK_MODULES = ["tasks.grading", "tasks.reasoning", "tasks.lms", "tasks.sweep", "tasks.batch"]
SWEEP_TASK = "stepwise.grading.sweep"
REASON_TASK = "stepwise.reasoning.solve"


class EmbeddedTransport(SqlaTransport):
    """Kombu's SQLAlchemy transport, polling every 0.1 s instead of every second (its default), so
    the embedded install grades in well under a second. (Kombu hands every transport option to
    `create_engine`, so the interval cannot be passed as an option.)"""

    polling_interval = 0.1


TRANSPORT_ALIASES.setdefault("stepwise-sqla", "tasks.celery_app:EmbeddedTransport")


HARD_MARGIN_S = 30  # hard time limit = soft limit + this (reasoning: + 300)


def grading_stale_after(settings: Settings) -> float:
    """A grading job `running` for longer than this has lost its worker: Celery kills a task at
    the hard limit, so nothing live runs past it."""
    return settings.task_time_limit + HARD_MARGIN_S + 10


def visibility_timeouts(settings: Settings) -> dict[str, int]:
    """Seconds Redis waits before it hands an unacknowledged message to another worker, per queue:
    a little longer than the queue's hard time limit, so a live task is never delivered twice."""
    grading = settings.task_time_limit + HARD_MARGIN_S + 15
    return {
        GRADING_QUEUE: grading,
        LMS_QUEUE: grading,
        REASONING_QUEUE: settings.reasoning_time_limit + 360,
    }


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app whose broker is Redis when configured, else the embedded SQLite transport."""
    settings = settings or Settings.from_env()
    app = Celery("stepwise", include=TASK_MODULES, set_as_current=False)
    app.conf.update(
        broker_url=_broker_url(settings),
        result_backend=None,  # the database holds job state, not a result store
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=GRADING_QUEUE,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_routes={
            "stepwise.grading.*": {"queue": GRADING_QUEUE},
            "stepwise.reasoning.*": {"queue": REASONING_QUEUE},
            "stepwise.lms.*": {"queue": LMS_QUEUE},
        },
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + HARD_MARGIN_S,
        task_annotations={
            REASON_TASK: {
                "soft_time_limit": settings.reasoning_time_limit,
                "time_limit": settings.reasoning_time_limit + 300,
            }
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a Redis restart is waited out, never fatal
        task_publish_retry=False,  # intake must not hang on a dead broker; the sweeper re-sends
        worker_hijack_root_logger=False,
        broker_transport_options=_transport_options(settings, None),
        beat_schedule={"sweep": {"task": SWEEP_TASK, "schedule": float(settings.sweep_interval)}},
        stepwise_settings=settings,
    )
    db.configure(settings.database_url)
    # Verdicts shared across workers: in Redis when configured, else a file beside the database.
    verdicts.shared.configure(redis_url=settings.redis_url, directory=settings.instance_dir)
    _configure_beat(app, settings)
    return app


def _configure_beat(app: Celery, settings: Settings) -> None:
    # Workflow (issue 9): the nightly batch at STEPWISE_BATCH_AT and the batch tick; see tasks/batch.py.
    from tasks.batch import configure_beat

    configure_beat(app, settings)


def _transport_options(settings: Settings, queues: list[str] | None) -> dict:
    if settings.embedded_broker:
        return {}
    timeouts = visibility_timeouts(settings)
    chosen = [timeouts[q] for q in (queues or QUEUES) if q in timeouts] or list(timeouts.values())
    # Publishing must fail fast while Redis is down (the row stays queued, the sweeper re-sends).
    return {
        "visibility_timeout": max(chosen),
        "max_retries": 0,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }


def _broker_url(settings: Settings) -> str:
    if settings.embedded_broker:  # same SQLite file, through the faster-polling transport
        return settings.broker_url.replace("sqla+", "stepwise-sqla+", 1)
    return settings.broker_url


def app_settings(app: Celery) -> Settings:
    """The settings the app was built from (every Stepwise Celery app is built by make_celery)."""
    return app.conf.stepwise_settings


@celeryd_init.connect
def _size_visibility(sender=None, conf=None, options=None, **_kwargs) -> None:
    # Each worker restores unacknowledged messages after its own queues' timeout: a grading worker
    # does not wait the reasoning limit to recover a grading task whose worker died.
    settings = getattr(conf, "stepwise_settings", None) if conf is not None else None
    queues = (options or {}).get("queues")
    if settings is None or not queues:
        return
    if isinstance(queues, str):
        queues = queues.split(",")
    conf.broker_transport_options = _transport_options(settings, list(queues))


@worker_init.connect
def _warm_grader(**_kwargs) -> None:
    # Warm sympy once in the parent, before the pool forks: the first check in a fresh child then
    # takes the same path, and gives the same verdict, as every later one (issue 8, determinism).
    from grader import warm_up

    _warmed.append(warm_up())


_warmed: list[float] = []  # seconds the parent spent warming the grader, logged once logging is set up


@worker_ready.connect
def _log_warm_up(**_kwargs) -> None:
    if _warmed:
        logging.getLogger("stepwise.worker").info("grader.warm_up seconds=%.2f", _warmed[-1])


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_private_metrics_dir: list[str] = []  # the directory this worker made for itself, removed at shutdown


@worker_init.connect
def _metrics_directory(sender=None, **_kwargs) -> None:
    # STEPWISE_WORKER_METRICS_PORT: the worker's pool processes write their samples to one directory
    # per worker node (PROMETHEUS_MULTIPROC_DIR if set, emptied now, else a private temporary one),
    # which the parent serves. Set here, in the parent before the pool forks.
    if not app_settings(sender.app).worker_metrics_port:
        return
    from store import metrics

    directory = os.environ.get(METRICS_DIR)
    if directory:
        for stale in Path(directory).glob("*.db"):  # the last run's processes (their pids may be reused)
            stale.unlink(missing_ok=True)
    else:
        directory = tempfile.mkdtemp(prefix="stepwise-worker-metrics-")
        _private_metrics_dir.append(directory)
    metrics.use_multiprocess(directory)


@worker_ready.connect
def _serve_metrics(sender=None, **_kwargs) -> None:
    # Prometheus text on the port, from the parent process: every pool process's samples, summed.
    port = app_settings(sender.app).worker_metrics_port
    if not port:
        return
    from prometheus_client import start_http_server

    from store import metrics

    log = logging.getLogger("stepwise.worker")
    try:
        start_http_server(port, registry=metrics.multiprocess_registry())
    except OSError as exc:  # metrics are not worth refusing work for
        log.error("metrics.port_unavailable port=%s error=%s", port, exc)
        return
    log.info("metrics.serving port=%s directory=%s", port, os.environ[METRICS_DIR])


@worker_process_shutdown.connect
def _metrics_process_exit(pid=None, **_kwargs) -> None:
    # Runs in the exiting pool process: its counters stay in the directory, its live gauges go.
    if os.environ.get(METRICS_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@worker_shutdown.connect
def _remove_metrics_dir(**_kwargs) -> None:
    while _private_metrics_dir:
        shutil.rmtree(_private_metrics_dir.pop(), ignore_errors=True)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _worker_log_format(logger=None, **_kwargs) -> None:
    # STEPWISE_LOG_FORMAT for workers: Celery's handlers, which the stepwise loggers propagate to.
    # (In a worker the app is current by now: Celery sets it before it sets up logging.)
    settings = getattr(current_app.conf, "stepwise_settings", None)
    if settings is not None and logger is not None:
        logs.format_handlers(logger, settings.log_format)


@beat_init.connect
def _beat_log_format(sender=None, **_kwargs) -> None:
    # Beat sets its logging up before this signal, and without making its app current.
    settings = app_settings(sender.app)
    for name in ("", "celery.task"):
        logs.format_handlers(logging.getLogger(name), settings.log_format)


@worker_process_init.connect
def _after_fork(**_kwargs) -> None:
    # Connections inherited from the parent must not be shared across processes.
    if db.engine is not None:
        db.engine.dispose(close=False)
    verdicts.shared.after_fork()


@task_postrun.connect
def _release_session(**_kwargs) -> None:
    db.session.remove()


@worker_process_shutdown.connect
def _shutdown(**_kwargs) -> None:
    db.dispose()
