"""API of the teacher workflow: progress, answer groups, overrides, review, regrade, deletes,
gradebook exports, settings and batches. Same blueprint, auth and error shapes as `routes`."""
from __future__ import annotations

import logging

from flask import Response, current_app, g, jsonify, request
from kombu.exceptions import KombuError
from sqlalchemy import select

from store import exports, groups, overrides, review, uploads
from store.db import db
from store.intake import IntakeError, _policy, _text
from store.models import Answer, Assignment, Problem, Submission
from store.overrides import OverrideError
from store.workflow import AnswerGroup
from web.api import bp
from web.api.routes import _intake_error, _json_body, _owned
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


def _changed(changed: overrides.Changed | None, what: str):
    if changed is None:
        raise ApiError(404, "not_found", f"This {what} has no override to undo.")
    _passback(changed.passback)
    return {"answers": changed.answers, "submissions": changed.submissions}


def _only_args(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise ApiError(400, "invalid_payload", f"Unknown query parameter {unknown[0]}.", field=unknown[0])


def _id_arg(name: str) -> int | None:
    """An optional id in the query string; 400 when it is not one."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise ApiError(400, "invalid_payload", f"{name} must be an id.", field=name)
    return int(raw)


def _score_body() -> tuple:
    body = _json_body()
    if "score" not in body:
        raise ApiError(400, "invalid_payload", "score is required.", field="score")
    return body.get("score"), body.get("feedback")


# --- progress and groups ---------------------------------------------------------------------


@bp.get("/assignments/<id:assignment_id>/progress")
def assignment_progress(assignment_id: int):
    _owned(Assignment, assignment_id)
    return jsonify(review.progress(db.session, assignment_id))


@bp.get("/assignments/<id:assignment_id>/problems/<id:position>/groups")
def problem_groups(assignment_id: int, position: int):
    return jsonify(groups.list_groups(db.session, _problem(assignment_id, position)))


@bp.post("/groups/<id:group_id>/override")
def override_group(group_id: int):
    group = _group(group_id)
    score, feedback = _score_body()
    try:
        changed = overrides.override_group(db.session, g.api_teacher.id, group, score, feedback)
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"group": group.id, **_changed(changed, "group")})


@bp.delete("/groups/<id:group_id>/override")
def undo_group_override(group_id: int):
    group = _group(group_id)
    changed = overrides.undo_group_override(db.session, g.api_teacher.id, group, timeout=_timeout())
    return jsonify({"group": group_id, **_changed(changed, "group")})


# --- one answer --------------------------------------------------------------------------------


@bp.post("/answers/<id:answer_id>/override")
def override_answer(answer_id: int):
    answer = _answer(answer_id)
    score, feedback = _score_body()
    try:
        changed = overrides.override_answer(db.session, g.api_teacher.id, answer, score, feedback)
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"answer": answer.id, **_changed(changed, "answer")})


@bp.delete("/answers/<id:answer_id>/override")
def undo_answer_override(answer_id: int):
    answer = _answer(answer_id)
    changed = overrides.undo_answer_override(db.session, g.api_teacher.id, answer, timeout=_timeout())
    return jsonify({"answer": answer_id, **_changed(changed, "answer")})


@bp.get("/overrides")
def override_history():
    _only_args("answer", "group")
    answer_id, group_id = _id_arg("answer"), _id_arg("group")
    return jsonify(overrides.audit_log(db.session, g.api_teacher.id, answer_id=answer_id, group_id=group_id))


# --- review queue --------------------------------------------------------------------------------


@bp.get("/review")
def review_queue():
    _only_args("assignment")
    assignment_id = _id_arg("assignment")
    if assignment_id is not None:
        _owned(Assignment, assignment_id)
    return jsonify(review.review_queue(db.session, g.api_teacher.id, assignment_id=assignment_id))


@bp.post("/review/<id:answer_id>")
def resolve_review(answer_id: int):
    answer = _answer(answer_id)
    body = _json_body()
    try:
        changed = review.resolve(db.session, g.api_teacher.id, answer, body.get("action"), body.get("score"),
                                 body.get("feedback"))
    except OverrideError as exc:
        _override_error(exc)
    return jsonify({"answer": answer.id, **_changed(changed, "answer")})


# --- key / policy change with a regrade report -----------------------------------------------


@bp.patch("/assignments/<id:assignment_id>/problems/<id:position>")
def update_problem(assignment_id: int, position: int):
    problem = _problem(assignment_id, position)
    body = _json_body()
    changes = {}
    try:
        if "answer" in body:
            changes["key"] = _text(body["answer"], "answer", required=False)
        if "policy" in body:
            changes["policy"] = _policy(body["policy"], "policy")
    except IntakeError as exc:
        _intake_error(exc)
    if not changes:
        raise ApiError(400, "invalid_payload", "Send answer and/or policy.", field="answer")
    report = review.update_problem(db.session, problem, timeout=_timeout(), **changes)
    _passback(report.passback)
    return jsonify(report.to_dict())


# --- deleting ----------------------------------------------------------------------------------


@bp.delete("/submissions/<id:submission_id>")
def delete_submission(submission_id: int):
    return jsonify(uploads.delete_submissions(db.session, [_owned(Submission, submission_id)]))


@bp.delete("/assignments/<id:assignment_id>/students/<student>")
def delete_student(assignment_id: int, student: str):
    report = uploads.delete_student(db.session, _owned(Assignment, assignment_id), student)
    if not report["submissions"]:
        raise ApiError(404, "not_found", "No submissions of that student in this assignment.")
    return jsonify(report)


@bp.delete("/assignments/<id:assignment_id>")
def delete_assignment(assignment_id: int):
    return jsonify(uploads.delete_assignment(db.session, _owned(Assignment, assignment_id)))


# --- exports and settings ----------------------------------------------------------------------


def _choice(name: str, allowed: tuple, default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise ApiError(400, "invalid_payload", f"{name} must be one of {', '.join(allowed)}.", field=name)
    return value


@bp.get("/assignments/<id:assignment_id>/gradebook.csv")
def gradebook_csv(assignment_id: int):
    _only_args("pick", "format")
    assignment = _owned(Assignment, assignment_id)
    default = exports.teacher_settings(db.session, g.api_teacher.id)["gradebook"]
    pick = _choice("pick", exports.PICKS, default)
    fmt = _choice("format", exports.FORMATS, "generic")
    filename = f"assignment-{assignment.id}-gradebook-{fmt}.csv"
    return Response(exports.gradebook_csv(assignment, pick, fmt), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/submissions/<id:submission_id>/report")
def submission_report(submission_id: int):
    return jsonify(exports.submission_report(_owned(Submission, submission_id)))


@bp.get("/assignments/<id:assignment_id>/students/<student>/report")
def student_report(assignment_id: int, student: str):
    _only_args("pick")
    assignment = _owned(Assignment, assignment_id)
    default = exports.teacher_settings(db.session, g.api_teacher.id)["gradebook"]
    report = exports.student_report(assignment, student, _choice("pick", exports.PICKS, default))
    if report is None:
        raise ApiError(404, "not_found", "No submissions of that student in this assignment.")
    return jsonify(report)


@bp.get("/settings")
def get_settings():
    return jsonify(exports.teacher_settings(db.session, g.api_teacher.id))


@bp.put("/settings")
def put_settings():
    body = _json_body()
    gradebook = body.get("gradebook")
    if gradebook is not None and gradebook not in exports.PICKS:
        raise ApiError(400, "invalid_payload", "gradebook must be latest or best.", field="gradebook")
    return jsonify(exports.update_settings(db.session, g.api_teacher.id, gradebook=gradebook))



# --- batches ---------------------------------------------------------------------------------------


def _batch(batch_id: int):
    from store.workflow import Batch

    batch = db.session.get(Batch, batch_id)
    if batch is None or batch.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No batch {batch_id}.")
    return batch


@bp.post("/batches")
def start_batch():
    from store import batches
    from tasks.batch import advance_batch

    body = _json_body()
    assignment_id = body.get("assignment")
    if assignment_id is not None:
        if isinstance(assignment_id, bool) or not isinstance(assignment_id, int) or not 1 <= assignment_id < 2**31:
            raise ApiError(400, "invalid_payload", "assignment must be an assignment id.", field="assignment")
        _owned(Assignment, assignment_id)
    batch = batches.start_batch(db.session, trigger="api", teacher_id=g.api_teacher.id, assignment_id=assignment_id)
    try:
        advance_batch(batch.id, current_app.config["STEPWISE"])
    except (KombuError, OSError):  # stored all the same; beat's tick sends it once the broker is back
        db.session.rollback()
        log.exception("batch.enqueue_failed batch=%s", batch.id)
    return jsonify(batches.batch_json(db.session, batch)), 202


@bp.get("/batches")
def list_batches():
    from store import batches
    from store.workflow import Batch

    rows = db.session.scalars(select(Batch).where(Batch.teacher_id == g.api_teacher.id)
                              .order_by(Batch.id.desc()).limit(100))
    return jsonify([batches.batch_json(db.session, b) for b in rows])


@bp.get("/batches/<id:batch_id>")
def get_batch(batch_id: int):
    from store import batches

    return jsonify(batches.batch_json(db.session, _batch(batch_id)))
