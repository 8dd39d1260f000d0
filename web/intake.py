"""Intake followed by dispatch: store and commit through `store.intake`, then enqueue the ids."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app

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
        enqueue_reasoning(reference_id)
    log.info("assignment.created assignment=%s problems=%d to_solve=%d", assignment.id, len(problems), len(to_solve))
    return assignment


def submit_answers(
    assignment: Assignment, student: str, answers: list[AnswerIn], source: Source, **extra
) -> tuple[Submission, bool]:
    submission, created = create_submission(
        db.session, assignment, student=student, answers=answers, source=source, **extra
    )
    if created:
        enqueue_grading(submission.id)
        log.info("submission.queued submission=%s source=%s", submission.id, source.value)
    return submission, created
