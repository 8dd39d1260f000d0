"""The `reasoning` queue: write model reference solutions (worker/reference.py does the work).

Thin: the task takes a reference id, reads the settings, and hands over. The message is a
wake-up: the service claims the most urgent pending rows (interactive before batch, with aging),
oldest first, so no row waits behind the queue's FIFO order. Safe to run
twice. No torch at import.
"""

from __future__ import annotations

import logging
import os
import sys

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from tasks import GRADE_TASK, REASON_TASK, send
from tasks.celery_app import app_settings

log = logging.getLogger("stepwise.reasoning")


# Celery's limits (Settings.reasoning_time_limit, set in tasks/celery_app.py) are a backstop for prefork
# pools; under the GPU worker's solo pool they never fire, and the generation loop's own deadline
# (the same setting) is what stops a stuck run.
@shared_task(name=REASON_TASK, bind=True, acks_late=True)
def solve(self, reference_id: int) -> dict:
    """Write the reference solution `reference_id` (and whatever else is most urgent, as one batch)."""
    from worker.reference import (
        solve_reference,  # the model side loads only in the reasoning worker
    )

    return solve_reference(
        reference_id,
        app_settings(self.app),
        enqueue_grading=_enqueue_grading,
        enqueue_reasoning=_enqueue_reasoning,
        exit_process=_exit_worker,
    )


def _exit_worker(code: int) -> None:
    """A CUDA error poisons the context: end the process so the supervisor restarts it."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


def _enqueue_grading(submission_id: int) -> None:
    send(GRADE_TASK, [submission_id])  # called after the commit; a refused send is left to the sweeper


def _enqueue_reasoning(reference_id: int) -> None:
    send(REASON_TASK, [reference_id])


@worker_process_shutdown.connect
@worker_shutdown.connect
def _release_model(**_kwargs) -> None:
    runtime = sys.modules.get("worker.runtime")  # only if this process ever used the model
    if runtime is not None:
        runtime.shutdown_runner()


__all__ = ["solve"]
