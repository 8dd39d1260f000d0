"""Intake followed by dispatch: store and commit through `store.intake`, then enqueue the ids."""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import current_app
from kombu.exceptions import KombuError

from store.db import db
from store.intake import AnswerIn, ProblemIn, create_assignment, create_submission
from store.models import Assignment, Source, Submission, Teacher
from store.settings import Settings
from tasks import enqueue_grading, enqueue_reasoning

log = logging.getLogger("stepwise.intake")


def reference_settings(settings: Settings):
    """How reference solutions are keyed on this install, or None when the model is off."""
    if not settings.model_enabled:
        return None
    from worker.keys import generation_settings

    return lambda: (settings.model, generation_settings(settings))


def submit_assignment(teacher: Teacher, title: Any, problems: list[ProblemIn], settings: Settings | None = None):
    settings = settings or current_app.config["STEPWISE"]
    assignment, to_solve = create_assignment(
        db.session, teacher, title, problems, reference_settings=reference_settings(settings)
    )
    for reference_id in to_solve:
        _dispatch(enqueue_reasoning, reference_id, "reference")
    log.info("assignment.created assignment=%s problems=%d to_solve=%d", assignment.id, len(problems), len(to_solve))
    return assignment


def submit_answers(
    assignment: Assignment, student: str, answers: list[AnswerIn], source: Source, **extra
) -> tuple[Submission, bool]:
    submission, created = create_submission(
        db.session, assignment, student=student, answers=answers, source=source, **extra
    )
    if created:
        _dispatch(enqueue_grading, submission.id, "submission")
        log.info("submission.queued submission=%s source=%s", submission.id, source.value)
    return submission, created


def _dispatch(enqueue: Callable[[int], str], object_id: int, kind: str) -> None:
    """Enqueue after the commit. If the broker is down the row is stored all the same and stays
    queued; `stepwise requeue` (or its cron line) sends it once the broker is back."""
    try:
        enqueue(object_id)
    except (KombuError, OSError):
        log.exception("%s.enqueue_failed %s=%s: stored, run `stepwise requeue` once the broker is back", kind, kind,
                      object_id)
