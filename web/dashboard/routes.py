"""Dashboard views: login, assignments, uploads, results and per-submission feedback."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from store.batchfile import read_problems, read_submissions
from store.db import db
from store.grading import regrade_problem
from store.intake import (
    IntakeError,
    parse_answers,
    parse_external_id,
    parse_problems,
    parse_student,
)
from store.models import Assignment, Problem, Source, Submission
from tasks import enqueue_grading
from web.auth import (
    current_teacher,
    find_teacher,
    login_required,
    login_teacher,
    logout_teacher,
    verify_password,
)
from web.dashboard import bp
from web.intake import submit_answers, submit_assignment
from web.views import grades_table, key_disagrees


def _owned(model, object_id: int):
    row = db.session.get(model, object_id)
    if row is None or row.teacher_id != current_teacher().id:
        abort(404)
    return row


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in (rate-limited per IP and per account by web.auth)."""
    if request.method == "POST":
        teacher = find_teacher(request.form.get("email", "")[:255])
        if verify_password(teacher, request.form.get("password", "")[:1024]):
            login_teacher(teacher)
            return redirect(_safe_next(request.args.get("next")))
        flash("That email and password do not match an account.", "error")
    return render_template("dashboard/login.html")


@bp.post("/logout")
def logout():
    logout_teacher()
    return redirect(url_for("dashboard.login"))


@bp.get("/")
@login_required
def index():
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.teacher_id == current_teacher().id).order_by(Assignment.id.desc())
    ).all()
    return render_template("dashboard/index.html", assignments=assignments)


def _problems_from_form():
    upload = request.files.get("file")
    if upload and upload.filename:
        title, raw = read_problems(upload.read(), "file")
        return request.form.get("title") or title, raw
    raw = []
    statements = request.form.getlist("statement")
    answers = request.form.getlist("answer")
    points = request.form.getlist("points")
    for i, statement in enumerate(statements):
        if not statement.strip():
            continue
        item = {"statement": statement}
        if i < len(answers) and answers[i].strip():
            item["answer"] = answers[i]
        if i < len(points) and points[i].strip():
            try:
                item["points"] = float(points[i])
            except ValueError:
                raise IntakeError(f"problem {i + 1} points", "must be a number") from None
        raw.append(item)
    return request.form.get("title"), raw


@bp.route("/assignments/new", methods=["GET", "POST"])
@login_required
def new_assignment():
    if request.method == "POST":
        try:
            title, raw = _problems_from_form()
            problems = parse_problems(raw)
            if not title or not str(title).strip():
                raise IntakeError("title", "is required")
            assignment = submit_assignment(current_teacher(), title, problems)
        except IntakeError as exc:
            flash(f"Not saved: {exc.field} {exc.message}.", "error")
            return render_template("dashboard/new_assignment.html", form=request.form), 400
        flash(f"Created “{assignment.title}” with {len(assignment.problems)} problems.", "ok")
        return redirect(url_for("dashboard.assignment", assignment_id=assignment.id))
    return render_template("dashboard/new_assignment.html", form={})


@bp.get("/assignments/<id:assignment_id>")
@login_required
def assignment(assignment_id: int):
    row = _owned(Assignment, assignment_id)
    header, rows = grades_table(row)
    disagreements = {p.id: key_disagrees(p) for p in row.problems}
    return render_template(
        "dashboard/assignment.html", assignment=row, header=header, rows=rows, disagreements=disagreements
    )


@bp.post("/assignments/<id:assignment_id>/submissions")
@login_required
def upload_submissions(assignment_id: int):
    row = _owned(Assignment, assignment_id)
    upload = request.files.get("file")
    if not upload or not upload.filename:
        flash("Choose a CSV or JSON file of submissions to upload.", "error")
        return redirect(url_for("dashboard.assignment", assignment_id=row.id))
    try:
        parsed = []
        for i, sub in enumerate(read_submissions(upload.read(), "file")):
            if not isinstance(sub, dict):
                raise IntakeError(f"submission {i + 1}", "must be an object")
            parsed.append((parse_student(sub.get("student")), parse_external_id(sub.get("external_id")),
                           parse_answers(sub.get("answers"), len(row.problems))))
    except IntakeError as exc:
        # Nothing is stored unless the whole file reads cleanly.
        flash(f"Nothing was uploaded: {exc.field} {exc.message}.", "error")
        return redirect(url_for("dashboard.assignment", assignment_id=row.id))
    created = sum(
        submit_answers(row, student, answers, Source.dashboard, external_id=ext)[1]
        for student, ext, answers in parsed
    )
    flash(f"Queued {created} submission(s) for grading.", "ok")
    return redirect(url_for("dashboard.assignment", assignment_id=row.id))


@bp.post("/problems/<id:problem_id>/key")
@login_required
def set_key(problem_id: int):
    """Set or change a problem's key; its submissions are graded again against it."""
    problem = db.session.get(Problem, problem_id)
    if problem is None or problem.assignment.teacher_id != current_teacher().id:
        abort(404)
    key = request.form.get("answer", "").strip()
    if not key or len(key) > 10_000:
        flash("Enter an answer key (at most 10,000 characters).", "error")
    else:
        problem.answer_key = key
        db.session.commit()
        for sid in regrade_problem(db.session, problem.id):
            enqueue_grading(sid)
        flash(f"Saved the key for problem {problem.position}; its answers are being graded again.", "ok")
    return redirect(url_for("dashboard.assignment", assignment_id=problem.assignment_id))


@bp.get("/submissions/<id:submission_id>")
@login_required
def submission(submission_id: int):
    row = _owned(Submission, submission_id)
    return render_template("dashboard/submission.html", submission=row)


@bp.get("/assignments/<id:assignment_id>/grades.csv")
@login_required
def grades_csv(assignment_id: int):
    from web.api.routes import csv_response

    return csv_response(_owned(Assignment, assignment_id))


@bp.app_context_processor
def _nav():
    from flask import current_app

    return {"lms_endpoints": {e for e in current_app.view_functions if e.startswith("lms.")}}
