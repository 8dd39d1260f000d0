"""Celery tasks: thin, take ids, safe to run twice. Enqueue only after the commit."""
from __future__ import annotations

from celery import current_app

GRADE_TASK = "stepwise.grading.grade_submission"
REASON_TASK = "stepwise.reasoning.solve"
PASSBACK_TASK = "stepwise.lms.passback"


def enqueue(task_name: str, *args, **options) -> str:
    """Send a task by name through the current Celery app; returns the Celery task id."""
    result = current_app.send_task(task_name, args=list(args), **options)
    return result.id


def enqueue_grading(submission_id: int) -> str:
    return enqueue(GRADE_TASK, submission_id)


def enqueue_reasoning(reference_id: int) -> str:
    return enqueue(REASON_TASK, reference_id)


def enqueue_passback(submission_id: int) -> str:
    return enqueue(PASSBACK_TASK, submission_id)
