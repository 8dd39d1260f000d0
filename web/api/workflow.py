"""API of the teacher workflow: progress, answer groups, overrides, review, regrade, deletes,
gradebook exports, settings and batches. Shapes in web/api/workflow_schemas.py, declared once."""

from __future__ import annotations

import logging

from flask import Response, current_app, g, jsonify
from kombu.exceptions import KombuError
from sqlalchemy import select

from store import batches, exports, groups, overrides, review, uploads
from store.db import db
from store.models import Answer, Assignment, Problem, Submission
from store.overrides import OverrideError
from store.workflow import AnswerGroup, Batch
from web.api import bp
from web.api.routes import _owned
from web.api.spec import BODY_ERRORS, Media, operation, request_body, request_query
from web.api.workflow_schemas import (
    AuditList,
    BatchIn,
    BatchList,
    BatchOut,
    ChangedOut,
    DeletedOut,
    GradebookQuery,
    GroupList,
    HistoryQuery,
    OverrideIn,
    PickQuery,
    ProblemPatch,
    ProgressOut,
    RegradeOut,
    ReportOut,
    ResolveIn,
    ReviewList,
    ReviewQuery,
    SettingsIn,
    SettingsOut,
    UploadIn,
    UploadOut,
)
from web.errors import ApiError

log = logging.getLogger("stepwise.api")


def _timeout() -> float:
    return current_app.config["STEPWISE"].check_timeout


def _passback(submission_ids) -> None:
    """Post changed grades to the LMS again (after the commit); a broker outage only logs."""
    from tasks import enqueue_passback

    for sid in submission_ids:
        try:
            enqueue_passback(sid)
        except (KombuError, OSError):
            log.exception("passback.enqueue_failed submission=%s", sid)


def _override_error(exc: OverrideError):
    raise ApiError(400, "invalid_payload", f"{exc.field} {exc.message}.", field=exc.field) from None


def _problem(assignment_id: int, position: int) -> Problem:
    assignment = _owned(Assignment, assignment_id)
    problem = next((p for p in assignment.problems if p.position == position), None)
    if problem is None:
        raise ApiError(404, "not_found", f"Assignment {assignment_id} has no problem {position}.")
    return problem


def _group(group_id: int) -> AnswerGroup:
    group = db.session.get(AnswerGroup, group_id)
    problem = db.session.get(Problem, group.problem_id) if group is not None else None
    if problem is None or problem.assignment.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No group {group_id}.")
    return group


def _answer(answer_id: int) -> Answer:
    answer = db.session.get(Answer, answer_id)
    if answer is None or answer.submission.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No answer {answer_id}.")
    return answer


def _changed(changed: overrides.Changed | None, what: str) -> dict:
    if changed is None:
        raise ApiError(404, "not_found", f"This {what} has no override to undo.")
    _passback(changed.passback)
    return {"answers": changed.answers, "submissions": changed.submissions}


# --- progress and groups ---------------------------------------------------------------------


@bp.get("/assignments/<id:assignment_id>/progress")
@operation("assignmentProgress", responses={200: ProgressOut})
def assignment_progress(assignment_id: int):
    _owned(Assignment, assignment_id)
    return jsonify(review.progress(db.session, assignment_id))


@bp.get("/assignments/<id:assignment_id>/problems/<id:position>/groups")
@operation("answerGroups", responses={200: GroupList})
def problem_groups(assignment_id: int, position: int):
    return jsonify(groups.list_groups(db.session, _problem(assignment_id, position)))


@bp.post("/groups/<id:group_id>/override")
@operation("overrideGroup", body=OverrideIn, responses={200: ChangedOut}, errors=BODY_ERRORS)
def override_group(group_id: int):
    """Grade every answer of the group, and later students' same answers."""
    group = _group(group_id)
    body: OverrideIn = request_body()
    try:
        changed = overrides.override_group(db.session, g.api_teacher.id, group, body.score, body.feedback)
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"group": group.id, **_changed(changed, "group")})


@bp.delete("/groups/<id:group_id>/override")
@operation("undoGroupOverride", responses={200: ChangedOut})
def undo_group_override(group_id: int):
    group = _group(group_id)
    changed = overrides.undo_group_override(db.session, g.api_teacher.id, group, timeout=_timeout())
    return jsonify({"group": group_id, **_changed(changed, "group")})


@bp.post("/answers/<id:answer_id>/override")
@operation("overrideAnswer", body=OverrideIn, responses={200: ChangedOut}, errors=BODY_ERRORS)
def override_answer(answer_id: int):
    answer = _answer(answer_id)
    body: OverrideIn = request_body()
    try:
        changed = overrides.override_answer(db.session, g.api_teacher.id, answer, body.score, body.feedback)
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"answer": answer.id, **_changed(changed, "answer")})


@bp.delete("/answers/<id:answer_id>/override")
@operation("undoAnswerOverride", responses={200: ChangedOut})
def undo_answer_override(answer_id: int):
    answer = _answer(answer_id)
    changed = overrides.undo_answer_override(db.session, g.api_teacher.id, answer, timeout=_timeout())
    return jsonify({"answer": answer_id, **_changed(changed, "answer")})


@bp.get("/overrides")
@operation("overrideHistory", query=HistoryQuery, responses={200: AuditList})
def override_history():
    q: HistoryQuery = request_query()
    return jsonify(overrides.audit_log(db.session, g.api_teacher.id, answer_id=q.answer, group_id=q.group))


# --- review queue --------------------------------------------------------------------------------


@bp.get("/review")
@operation("reviewQueue", query=ReviewQuery, responses={200: ReviewList}, errors=(404,))
def review_queue():
    q: ReviewQuery = request_query()
    if q.assignment is not None:
        _owned(Assignment, q.assignment)
    return jsonify(review.review_queue(db.session, g.api_teacher.id, assignment_id=q.assignment))


@bp.post("/review/<id:answer_id>")
@operation("resolveReview", body=ResolveIn, responses={200: ChangedOut}, errors=BODY_ERRORS)
def resolve_review(answer_id: int):
    answer = _answer(answer_id)
    body: ResolveIn = request_body()
    try:
        changed = review.resolve(db.session, g.api_teacher.id, answer, body.action, body.score, body.feedback)
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"answer": answer.id, **_changed(changed, "answer")})


# --- key / policy change with a regrade report -----------------------------------------------


@bp.patch("/assignments/<id:assignment_id>/problems/<id:position>")
@operation("updateProblem", body=ProblemPatch, responses={200: RegradeOut}, errors=BODY_ERRORS)
def update_problem(assignment_id: int, position: int):
    problem = _problem(assignment_id, position)
    body: ProblemPatch = request_body()
    changes = {"key": body.answer} if "answer" in body.model_fields_set else {}
    if "policy" in body.model_fields_set:
        changes["policy"] = body.policy
    report = review.update_problem(db.session, problem, timeout=_timeout(), **changes)
    _passback(report.passback)
    return jsonify(report.to_dict())


# --- uploads ----------------------------------------------------------------------------------


@bp.post("/assignments/<id:assignment_id>/uploads")
@operation("uploadSubmissions", body=UploadIn, responses={200: UploadOut, 202: UploadOut}, errors=BODY_ERRORS)
def upload_submissions(assignment_id: int):
    """Store many students' answers; re-uploaded students are replaced (or skipped), never duplicated."""
    from store.intake import answers_in
    from store.models import Source
    from tasks import GRADE_TASK, send

    assignment = _owned(Assignment, assignment_id)
    body: UploadIn = request_body(problems=len(assignment.problems))
    rows = [(s.student, s.external_id, answers_in(s.answers)) for s in body.submissions]
    found = uploads.duplicates(db.session, assignment, [(r[0], r[1]) for r in rows], Source.api)
    if body.preview:
        dup = len(found)
        counts = {
            "created": len(rows) - dup,
            "replaced": dup if body.on_duplicate == "replace" else 0,
            "unchanged": 0,
            "skipped": dup if body.on_duplicate == "skip" else 0,
        }
        return jsonify({**counts, "submissions": [], "duplicates": found, "preview": True})
    report = uploads.store_upload(db.session, assignment, rows, Source.api, mode=body.on_duplicate)
    send(GRADE_TASK, report.to_grade)  # committed; a refused send leaves them queued for the sweeper
    return jsonify({**report.to_dict(), "duplicates": found, "preview": False}), 202


# --- deleting ----------------------------------------------------------------------------------


@bp.delete("/submissions/<id:submission_id>")
@operation("deleteSubmission", responses={200: DeletedOut})
def delete_submission(submission_id: int):
    return jsonify(uploads.delete_submissions(db.session, [_owned(Submission, submission_id)]))


@bp.delete("/assignments/<id:assignment_id>/students/<student>")
@operation("deleteStudent", responses={200: DeletedOut})
def delete_student(assignment_id: int, student: str):
    report = uploads.delete_student(db.session, _owned(Assignment, assignment_id), student)
    if not report["submissions"]:
        raise ApiError(404, "not_found", "No submissions of that student in this assignment.")
    return jsonify(report)


@bp.delete("/assignments/<id:assignment_id>")
@operation("deleteAssignment", responses={200: DeletedOut})
def delete_assignment(assignment_id: int):
    return jsonify(uploads.delete_assignment(db.session, _owned(Assignment, assignment_id)))


# --- exports and settings ----------------------------------------------------------------------


def _pick(q: PickQuery) -> str:
    return q.pick or exports.teacher_settings(db.session, g.api_teacher.id)["gradebook"]


@bp.get("/assignments/<id:assignment_id>/gradebook.csv")
@operation(
    "gradebookCsv",
    query=GradebookQuery,
    responses={200: Media("text/csv", "One row per student (latest or best submission)")},
)
def gradebook_csv(assignment_id: int):
    q: GradebookQuery = request_query()
    assignment = _owned(Assignment, assignment_id)
    filename = f"assignment-{assignment.id}-gradebook-{q.format}.csv"
    return Response(
        exports.gradebook_csv(assignment, _pick(q), q.format),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/submissions/<id:submission_id>/report")
@operation("submissionReport", responses={200: ReportOut})
def submission_report(submission_id: int):
    return jsonify(exports.submission_report(_owned(Submission, submission_id)))


@bp.get("/assignments/<id:assignment_id>/students/<student>/report")
@operation("studentReport", query=PickQuery, responses={200: ReportOut})
def student_report(assignment_id: int, student: str):
    q: PickQuery = request_query()
    assignment = _owned(Assignment, assignment_id)
    report = exports.student_report(assignment, student, _pick(q))
    if report is None:
        raise ApiError(404, "not_found", "No submissions of that student in this assignment.")
    return jsonify(report)


@bp.get("/settings")
@operation("getSettings", responses={200: SettingsOut})
def get_settings():
    return jsonify(exports.teacher_settings(db.session, g.api_teacher.id))


@bp.put("/settings")
@operation("putSettings", body=SettingsIn, responses={200: SettingsOut}, errors=BODY_ERRORS)
def put_settings():
    body: SettingsIn = request_body()
    return jsonify(exports.update_settings(db.session, g.api_teacher.id, gradebook=body.gradebook))


# --- batches ---------------------------------------------------------------------------------------


@bp.post("/batches")
@operation("startBatch", body=BatchIn, responses={202: BatchOut}, errors=(*BODY_ERRORS, 404))
def start_batch():
    """Start the batch job now: references, then grading, then LMS passback."""
    from tasks.batch import advance_batch

    body: BatchIn = request_body()
    if body.assignment is not None:
        _owned(Assignment, body.assignment)
    batch = batches.start_batch(db.session, trigger="api", teacher_id=g.api_teacher.id, assignment_id=body.assignment)
    try:
        advance_batch(batch.id, current_app.config["STEPWISE"])
    except (KombuError, OSError):  # stored all the same; beat's tick sends it once the broker is back
        db.session.rollback()
        log.exception("batch.enqueue_failed batch=%s", batch.id)
    return jsonify(batches.batch_json(db.session, batch)), 202


@bp.get("/batches")
@operation("listBatches", responses={200: BatchList})
def list_batches():
    rows = db.session.scalars(
        select(Batch).where(Batch.teacher_id == g.api_teacher.id).order_by(Batch.id.desc()).limit(100)
    )
    return jsonify([batches.batch_json(db.session, b) for b in rows])


@bp.get("/batches/<id:batch_id>")
@operation("getBatch", responses={200: BatchOut})
def get_batch(batch_id: int):
    batch = db.session.get(Batch, batch_id)
    if batch is None or batch.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No batch {batch_id}.")
    return jsonify(batches.batch_json(db.session, batch))
