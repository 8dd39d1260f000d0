"""API views: bearer auth, validated JSON in (models in store.schemas), stored before queued, JSON out."""

from __future__ import annotations

import csv
import io

from flask import Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select

from store.db import db
from store.intake import IntakeError, answers_in, intake_target, problems_in
from store.models import Assignment, Source, Submission
from web.api import bp
from web.api.openapi import openapi_document
from web.api.schemas import (
    AssignmentCreated,
    AssignmentIn,
    AssignmentList,
    AssignmentOut,
    SubmissionAccepted,
    SubmissionIn,
    SubmissionOut,
)
from web.api.spec import (
    BODY_ERRORS,
    Media,
    check_response,
    current_operation,
    json_body,
    operation,
    request_body,
)
from web.auth import bearer_teacher
from web.errors import ApiError
from web.intake import submit_answers, submit_assignment
from web.views import assignment_json, grades_table, submission_json

PUBLIC = {"api.openapi"}


@bp.before_request
def _authenticate():
    op = current_operation()
    if request.endpoint in PUBLIC or (op is not None and op.public):
        return None
    teacher = bearer_teacher()
    if teacher is None:
        raise ApiError(401, "unauthorized", "Send a valid API token as 'Authorization: Bearer <token>'.")
    g.api_teacher = teacher
    return None


@bp.after_request
def _conforms(response):
    """Under test every answer is checked against its declared model (see web.api.spec)."""
    return check_response(response) if current_app.testing else response


def _owned(model, object_id: int):
    """Load a row of the calling teacher; another teacher's ids answer 404 like missing ones."""
    row = db.session.get(model, object_id)
    if row is None or row.teacher_id != g.api_teacher.id:
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} {object_id}.")
    return row


def _json_body() -> dict:
    """The JSON object body, unvalidated (for routes not yet declared with `@operation`)."""
    return json_body()


def _intake_error(exc: IntakeError):
    raise ApiError(400, "invalid_payload", f"{exc.field} {exc.message}.", field=exc.field) from None


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app))


@bp.post("/assignments")
@operation("createAssignment", body=AssignmentIn, responses={201: AssignmentCreated}, errors=BODY_ERRORS)
def create_assignment():
    body: AssignmentIn = request_body()
    assignment = submit_assignment(
        g.api_teacher, body.title, problems_in(body.problems), worked_solutions=body.worked_solutions
    )
    return jsonify(
        {
            "id": assignment.id,
            "title": assignment.title,
            "url": url_for("api.get_assignment", assignment_id=assignment.id),
            "problems": [{"id": p.id, "position": p.position} for p in assignment.problems],
        }
    ), 201


@bp.get("/assignments")
@operation("listAssignments", responses={200: AssignmentList})
def list_assignments():
    rows = db.session.scalars(
        select(Assignment).where(Assignment.teacher_id == g.api_teacher.id).order_by(Assignment.id)
    )
    return jsonify({"assignments": [{"id": a.id, "title": a.title, "problems": len(a.problems)} for a in rows]})


@bp.get("/assignments/<id:assignment_id>")
@operation("getAssignment", responses={200: AssignmentOut})
def get_assignment(assignment_id: int):
    return jsonify(assignment_json(_owned(Assignment, assignment_id)))


@bp.post("/assignments/<id:assignment_id>/submissions")
@operation("createSubmission", body=SubmissionIn, responses={202: SubmissionAccepted}, errors=BODY_ERRORS)
def create_submission(assignment_id: int):
    assignment = intake_target(db.session, assignment_id, g.api_teacher.id)  # one query, no ORM objects
    if assignment is None:
        raise ApiError(404, "not_found", f"No assignment {assignment_id}.")
    body: SubmissionIn = request_body(problems=len(assignment.problem_ids))
    submission, created = submit_answers(
        assignment, body.student, answers_in(body.answers), Source.api, external_id=body.external_id
    )
    url = url_for("api.get_submission", submission_id=submission.id)
    reply = {"id": submission.id, "status": submission.status, "url": url, "created": created}
    return jsonify(reply), 202, {"Location": url}


@bp.get("/submissions/<id:submission_id>")
@operation("getSubmission", responses={200: SubmissionOut})
def get_submission(submission_id: int):
    return jsonify(submission_json(_owned(Submission, submission_id)))


@bp.get("/assignments/<id:assignment_id>/grades.csv")
@operation("gradesCsv", responses={200: Media("text/csv", "One row per submission")})
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
