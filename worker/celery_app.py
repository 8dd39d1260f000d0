"""Build the one Celery app from Stepwise settings."""
from __future__ import annotations

from celery import Celery
from celery.signals import task_postrun, worker_process_init, worker_process_shutdown
from kombu import Exchange, Queue

from store.db import db
from store.settings import Settings

GRADING_QUEUE = "grading"  # CPU: sympy checks, LMS passback
REASONING_QUEUE = "reasoning"  # GPU: the model
LMS_QUEUE = "lms"  # network: grade passback to LMSs

TASK_MODULES = ["tasks.grading", "tasks.reasoning", "tasks.lms", "tasks.batch"]


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app whose broker is Redis when configured, else the embedded SQLite transport."""
    settings = settings or Settings.from_env()
    app = Celery("stepwise", include=TASK_MODULES)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=None,  # Postgres holds job state, not a result store
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=GRADING_QUEUE,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in (GRADING_QUEUE, REASONING_QUEUE, LMS_QUEUE)],
        task_routes={
            "stepwise.grading.*": {"queue": GRADING_QUEUE},
            "stepwise.reasoning.*": {"queue": REASONING_QUEUE},
            "stepwise.lms.*": {"queue": LMS_QUEUE},
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Redis redelivers an unacked task after this; longer than the longest reasoning run.
        broker_transport_options=(
            {} if settings.embedded_broker else {"visibility_timeout": settings.reasoning_time_limit + 600}
        ),
        stepwise_settings=settings,
    )
    db.configure(settings.database_url)
    _configure_beat(app, settings)
    return app


def _configure_beat(app: Celery, settings: Settings) -> None:
    # Workflow (issue 9): the nightly batch at STEPWISE_BATCH_AT and its tick; see tasks/batch.py.
    from tasks.batch import configure_beat

    configure_beat(app, settings)


def app_settings(app: Celery) -> Settings:
    return app.conf.stepwise_settings


@worker_process_init.connect
def _after_fork(**_kwargs) -> None:
    # Connections inherited from the parent must not be shared across processes.
    if db.engine is not None:
        db.engine.dispose(close=False)


@task_postrun.connect
def _release_session(**_kwargs) -> None:
    db.session.remove()


@worker_process_shutdown.connect
def _shutdown(**_kwargs) -> None:
    db.dispose()
