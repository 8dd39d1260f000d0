"""API views: bearer auth, validated JSON in, stored before queued, JSON out."""
from __future__ import annotations

import csv
import io
import json

from flask import Response, g, jsonify, request, url_for
from sqlalchemy import select

from store.db import db
from store.intake import IntakeError, parse_answers, parse_external_id, parse_problems, parse_student
from store.models import Assignment, Source, Submission
from web.api import bp
from web.api.openapi import openapi_document
from web.auth import bearer_teacher
from web.errors import ApiError
from web.intake import submit_answers, submit_assignment
from web.views import assignment_json, grades_table, submission_json

PUBLIC = {"api.openapi"}


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC:
        return None
    teacher = bearer_teacher()
    if teacher is None:
        raise ApiError(401, "unauthorized", "Send a valid API token as 'Authorization: Bearer <token>'.")
    g.api_teacher = teacher
    return None


def _json_body() -> dict:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body = parse_json(request.get_data(cache=True))
    if body is None:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_payload", "The body must be a JSON object.")
    return body


def parse_json(data: bytes):
    """Decode a JSON body; None when it is not JSON (or nested deeper than Python can follow)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _owned(model, object_id: int):
    """Load a row of the calling teacher; another teacher's ids answer 404 like missing ones."""
    row = db.session.get(model, object_id)
    if row is None or row.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} {object_id}.")
    return row


def _intake_error(exc: IntakeError):
    raise ApiError(400, "invalid_payload", f"{exc.field} {exc.message}.", field=exc.field) from None


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/assignments")
def create_assignment():
    body = _json_body()
    try:
        problems = parse_problems(body.get("problems"))
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise IntakeError("title", "is required")
        assignment = submit_assignment(g.api_teacher, title, problems)
    except IntakeError as exc:
        _intake_error(exc)
    return jsonify(
        {
            "id": assignment.id,
            "title": assignment.title,
            "url": url_for("api.get_assignment", assignment_id=assignment.id),
            "problems": [{"id": p.id, "position": p.position} for p in assignment.problems],
        }
    ), 201


@bp.get("/assignments")
def list_assignments():
    rows = db.session.scalars(
        select(Assignment).where(Assignment.teacher_id == g.api_teacher.id).order_by(Assignment.id)
    )
    return jsonify({"assignments": [{"id": a.id, "title": a.title, "problems": len(a.problems)} for a in rows]})


@bp.get("/assignments/<id:assignment_id>")
def get_assignment(assignment_id: int):
    return jsonify(assignment_json(_owned(Assignment, assignment_id)))


@bp.post("/assignments/<id:assignment_id>/submissions")
def create_submission(assignment_id: int):
    assignment = _owned(Assignment, assignment_id)
    body = _json_body()
    try:
        student = parse_student(body.get("student"))
        external_id = parse_external_id(body.get("external_id"))
        answers = parse_answers(body.get("answers"), len(assignment.problems))
    except IntakeError as exc:
        _intake_error(exc)
    submission, created = submit_answers(assignment, student, answers, Source.api, external_id=external_id)
    url = url_for("api.get_submission", submission_id=submission.id)
    body = {"id": submission.id, "status": submission.status, "url": url, "created": created}
    return jsonify(body), 202, {"Location": url}


@bp.get("/submissions/<id:submission_id>")
def get_submission(submission_id: int):
    return jsonify(submission_json(_owned(Submission, submission_id)))


@bp.get("/assignments/<id:assignment_id>/grades.csv")
def grades_csv(assignment_id: int):
    return csv_response(_owned(Assignment, assignment_id))


def csv_response(assignment: Assignment) -> Response:
    header, rows = grades_table(assignment)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    filename = f"assignment-{assignment.id}-grades.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
