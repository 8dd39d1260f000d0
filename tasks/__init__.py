"""Celery tasks: thin, take ids, safe to run twice. Enqueue only after the commit."""
from __future__ import annotations

from celery import current_app

GRADE_TASK = "stepwise.grading.grade_submission"
REASON_TASK = "stepwise.reasoning.solve"
PASSBACK_TASK = "stepwise.lms.passback"


def celery_app():
    """The Celery app of the running Flask app when there is one, else Celery's current app.

    Several apps can live in one process (tests, the CLI); the Flask app's own broker is the one
    its requests must reach.
    """
    from flask import current_app as flask_app, has_app_context

    if has_app_context() and "celery" in flask_app.extensions:
        return flask_app.extensions["celery"]
    return current_app


def enqueue(task_name: str, *args, **options) -> str:
    """Send a task by name; returns the Celery task id."""
    result = celery_app().send_task(task_name, args=list(args), **options)
    return result.id


def enqueue_grading(submission_id: int) -> str:
    return enqueue(GRADE_TASK, submission_id)


def enqueue_reasoning(reference_id: int) -> str:
    return enqueue(REASON_TASK, reference_id)


def enqueue_passback(submission_id: int) -> str:
    return enqueue(PASSBACK_TASK, submission_id)
