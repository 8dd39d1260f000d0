"""The intake service every path shares (dashboard, API, LMS webhook and LTI, batch, CLI):
validate and add through `store.intake`, register the enqueue on the session, commit once.
The messages go out after the commit (`tasks.enqueue_on_commit`); a broker outage never fails
the request: the rows stay `queued` and the sweeper sends them."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from store import grading
from store.db import db
from store.intake import AnswerIn, ProblemIn, Target, create_assignment, create_submission
from store.metrics import record_intake
from store.models import Answer, Assignment, Problem, Source, Submission, Teacher
from store.settings import Settings
from tasks import GRADE_TASK, REASON_TASK, enqueue_on_commit, send
from worker.keys import generation_settings

log = logging.getLogger("stepwise.intake")


def reference_settings(settings: Settings):
    """How reference solutions are keyed on this install, or None when the model is off."""
    if not settings.model_enabled:
        return None
    return lambda: (settings.model, generation_settings(settings))


def submit_assignment(
    teacher: Teacher,
    title: Any,
    problems: list[ProblemIn],
    settings: Settings | None = None,
    *,
    worked_solutions: bool = False,
    priority: int = 0,
):
    """Store an assignment and queue model solutions: for keyless problems, and for keyed ones too
    when the teacher asks for `worked_solutions`. `priority` 0 is interactive, 1 nightly/batch."""
    settings = settings or current_app.config["STEPWISE"]
    session = db.session()
    assignment, to_solve = create_assignment(
        session,
        teacher,
        title,
        problems,
        reference_settings=reference_settings(settings),
        worked_solutions=worked_solutions,
        priority=priority,
    )
    enqueue_on_commit(session, REASON_TASK, to_solve)
    session.commit()
    log.info("assignment.created assignment=%s problems=%d to_solve=%d", assignment.id, len(problems), len(to_solve))
    return assignment


def submit_answers(
    assignment: Assignment | Target, student: str, answers: list[AnswerIn], source: Source, **extra
) -> tuple[Submission, bool]:
    """Store one submission (idempotent per assignment, source and external id) and queue it."""
    session = db.session()
    submission, created = create_submission(
        session, assignment, student=student, answers=answers, source=source, **extra
    )
    if created:
        enqueue_on_commit(session, GRADE_TASK, [submission.id])
    session.commit()
    if created:
        record_intake(source.value, len(answers))
        log.info("submission.queued submission=%s source=%s", submission.id, source.value)
    return submission, created


def set_key(problem: Problem, key: str) -> list[int]:
    """Set or change a problem's key; its submissions are graded again against it."""
    session = db.session()
    ids = grading.set_key(session, problem, key)
    enqueue_on_commit(session, GRADE_TASK, ids)
    session.commit()
    log.info("problem.key_set problem=%s regrade=%d", problem.id, len(ids))
    return ids


def submit_upload(assignment: Assignment, rows: list, source: Source, *, mode: str = "replace"):
    """A file of submissions (re-uploads replace or skip, see `store.uploads`); queued after the commit."""
    from store.uploads import store_upload

    report = store_upload(db.session(), assignment, rows, source, mode=mode)  # commits
    send(GRADE_TASK, report.to_grade)
    for answers in _answer_counts(report.to_grade):
        record_intake(source.value, answers)
    return report


def _answer_counts(submission_ids: list[int]) -> list[int]:
    """How many answers each of these submissions holds (one query)."""
    if not submission_ids:
        return []
    by_submission = select(func.count()).where(Answer.submission_id.in_(submission_ids)).group_by(Answer.submission_id)
    return list(db.session.scalars(by_submission))
