"""Dashboard views: login, assignments, uploads, results and per-submission feedback."""

from __future__ import annotations

import functools
import json
from urllib.parse import urlparse

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader import read_key
from store import review
from store.batchfile import read_problems
from store.db import db
from store.intake import IntakeError, parse_problems
from store.models import Answer, Assignment, Problem, Submission
from tasks import enqueue_passback
from web.auth import (
    current_teacher,
    find_teacher,
    login_required,
    login_teacher,
    logout_teacher,
    verify_password,
)
from web.dashboard import bp
from web.dashboard.forms import (
    AssignmentForm,
    EditProblemForm,
    fields_from_policy,
    policy_from_fields,
    policy_summary,
    problems_from_form,
)
from web.dashboard.overview import class_picture, missing_model, recent_batches, results
from web.intake import submit_assignment
from web.views import key_disagrees


def _owned(model, object_id: int, options=()):
    row = db.session.get(model, object_id, options=list(options))
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
    batches = recent_batches(db.session, current_teacher().id)
    return render_template("dashboard/index.html", assignments=assignments, batches=batches)


def _render_new(form, status: int = 200):
    return render_template("dashboard/new_assignment.html", form=form), status


def _rebuilt(form: AssignmentForm, rows: list[dict]) -> AssignmentForm:
    return AssignmentForm(formdata=None, data={"title": form.title.data, "problems": rows})


@bp.route("/assignments/new", methods=["GET", "POST"])
@login_required
def new_assignment():
    """Any number of problems: "Add a problem" and "Remove" work without JavaScript (the page is
    rendered again) and instantly with it (static/problems.js)."""
    if request.method == "GET":
        return _render_new(AssignmentForm(formdata=None, data={"problems": [{}, {}, {}]}))
    form = AssignmentForm()
    if "add" in request.form:
        form.problems.append_entry()
        return _render_new(form)
    if request.form.get("remove", "").isdigit():
        rows = form.problems.data
        index = int(request.form["remove"])
        if 0 <= index < len(rows) and len(rows) > 1:
            del rows[index]
        return _render_new(_rebuilt(form, rows))
    if not form.validate():
        flash("Not saved: " + _form_errors(form) + ".", "error")
        return _render_new(form, 400)
    labels = None  # the form's row number of each filled problem, for error messages
    try:
        upload = form.file.data
        if upload and upload.filename:
            title, raw = read_problems(upload.read(), "file", filename=upload.filename)
            title = form.title.data or title
        else:
            title, raw = form.title.data, problems_from_form(form)
            labels = [i + 1 for i, e in enumerate(form.problems.entries) if (e.form.statement.data or "").strip()]
        problems = parse_problems(raw)
        if not title or not str(title).strip():
            raise IntakeError("title", "is required")
        assignment = submit_assignment(current_teacher(), title, problems)
    except IntakeError as exc:
        flash(f"Not saved: {_readable_field(exc.field, labels)} {exc.message.rstrip('.')}.", "error")
        return _render_new(form, 400)
    flash(f"Created “{assignment.title}” with {len(assignment.problems)} problems.", "ok")
    return redirect(url_for("dashboard.assignment", assignment_id=assignment.id))


def _readable_field(field: str, labels: list[int] | None) -> str:
    """`problems[1].policy.sigfigs` -> "problem 2 policy.sigfigs" (numbered as the teacher sees them)."""
    import re

    match = re.match(r"problems\[(\d+)\]\.?(.*)", field)
    if not match:
        return field
    i = int(match.group(1))
    number = labels[i] if labels and i < len(labels) else i + 1
    return f"problem {number} {match.group(2)}".strip()


def _form_errors(form) -> str:
    """Flatten nested WTForms errors into "problems 2 points: Number must be between 0 and 1000"."""
    found = []

    def walk(prefix, errors):
        if isinstance(errors, dict):
            for name, value in errors.items():
                walk(f"{prefix} {name}".strip(), value)
        elif isinstance(errors, list):
            for i, value in enumerate(errors):
                if isinstance(value, str):
                    found.append(f"{prefix}: {value}")
                else:
                    walk(f"{prefix} {i + 1}", value)

    walk("", form.errors)
    return "; ".join(found[:5]) or "the form is incomplete"


@bp.route("/problems/<id:problem_id>/edit", methods=["GET", "POST"])
@login_required
def edit_problem(problem_id: int):
    """Change a problem's key, points and policy later; its answers are graded again."""
    problem = _owned_problem(problem_id)
    if request.method == "GET":
        data = {
            "answer": problem.answer_key or "",
            "points": problem.points,
            "policy": fields_from_policy(problem.policy),
        }
        form = EditProblemForm(formdata=None, data=data)
        return render_template("dashboard/edit_problem.html", form=form, problem=problem)
    form = EditProblemForm()
    try:
        if not form.validate():
            raise IntakeError("problem", _form_errors(form))
        item = {"statement": problem.statement, "points": form.points.data or problem.points}
        if (form.answer.data or "").strip():
            item["answer"] = form.answer.data
        policy = policy_from_fields(form.policy.form.data, keep=problem.policy)
        if policy:
            item["policy"] = policy
        checked = parse_problems([item])[0]
    except IntakeError as exc:
        flash(f"Not saved: {exc.field} {exc.message.rstrip('.')}.", "error")
        return render_template("dashboard/edit_problem.html", form=form, problem=problem), 400
    changes = {}
    if (checked.answer or None) != (problem.answer_key or None):
        changes["key"] = checked.answer
    if (checked.policy or {}) != (problem.policy or {}):
        changes["policy"] = checked.policy or {}
    problem.points = checked.points
    db.session.commit()
    message = f"Saved problem {problem.position}."
    if changes:
        message += " " + _regrade(problem, **changes)
    flash(message, "ok")
    back = url_for("dashboard.assignment", assignment_id=problem.assignment_id)
    return redirect(f"{back}#problem-{problem.position}")


def _owned_problem(problem_id: int) -> Problem:
    problem = db.session.get(Problem, problem_id)
    if problem is None or problem.assignment.teacher_id != current_teacher().id:
        abort(404)
    return problem


def _regrade(problem: Problem, **changes) -> str:
    """Change the key and/or policy and grade the affected answers again; the sentence to show.

    The list of changed answers is kept for the next page view (a few, to fit the session cookie).
    """
    from flask import current_app, session

    timeout = current_app.config["STEPWISE"].check_timeout
    report = review.update_problem(db.session, problem, timeout=timeout, **changes)
    for sid in report.passback:
        enqueue_passback(sid)
    body = report.to_dict()
    session["regrade"] = {
        "problem": problem.position,
        "message": body["message"],
        "changed": body["changed"][:15],
        "more": max(0, len(body["changed"]) - 15),
    }
    waiting = f"; {report.waiting} wait for grading" if report.waiting else ""
    return f"Graded {report.regraded} answer(s) again: {body['message']}{waiting}."


@bp.get("/assignments/<id:assignment_id>")
@login_required
def assignment(assignment_id: int):
    from flask import session

    # One query per level instead of one per answer: 300 students x 20 problems stay fast.
    row = _owned(
        Assignment,
        assignment_id,
        options=[selectinload(Assignment.submissions).selectinload(Submission.answers).selectinload(Answer.grade)],
    )
    disagreements = {p.id: key_disagrees(p) for p in row.problems}
    regrade = session.pop("regrade", None)
    return render_template(
        "dashboard/assignment.html",
        assignment=row,
        rows=results(row),
        disagreements=disagreements,
        progress=review.progress(db.session, row.id),
        picture=class_picture(row),
        model_banner=missing_model(row),
        assignment_links=_assignment_links(row),
        regrade=regrade,
    )


def _assignment_links(row: Assignment) -> list[dict]:
    """Links to the pages other parts add (review queue, reports, deletion) when they exist."""
    from flask import current_app

    links = []
    for endpoint, text in (("dashboard.report", "Printable feedback"), ("dashboard.delete_assignment", "Delete")):
        if endpoint in current_app.view_functions:
            links.append({"url": url_for(endpoint, assignment_id=row.id), "text": text})
    if "dashboard.review_page" in current_app.view_functions:
        links.insert(0, {"url": url_for("dashboard.review_page", assignment=row.id), "text": "Review queue"})
    return links


@bp.get("/assignments/<id:assignment_id>/progress", endpoint="progress")
@login_required
def progress_json(assignment_id: int):
    """The live progress bar polls this (session login; the API has the same at /api/v1)."""
    return review.progress(db.session, _owned(Assignment, assignment_id).id)


@bp.post("/problems/<id:problem_id>/key")
@login_required
def set_key(problem_id: int):
    """Set or change a problem's key; its submissions are graded again against it."""
    problem = _owned_problem(problem_id)
    key = request.form.get("answer", "").strip()
    reading = read_key(key, problem.policy) if key and len(key) <= 10_000 else None
    if reading is None:
        flash("Enter an answer key (at most 10,000 characters).", "error")
    elif not reading.ok:
        flash(f"The key for problem {problem.position} was not saved: {reading.message}", "error")
    else:
        flash(f"Saved the key for problem {problem.position}. " + _regrade(problem, key=key), "ok")
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

    endpoints = current_app.view_functions
    return {
        "lms_endpoints": {e for e in endpoints if e.startswith("lms.")},
        "dashboard_endpoints": {e for e in endpoints if e.startswith("dashboard.")},
    }


@bp.app_template_filter("policy_summary")
def _policy_summary(policy) -> str:
    return policy_summary(policy)


@bp.app_template_filter("points")
def _points(value) -> str:
    """1.0 -> "1", 2.5 -> "2.5"; anything else (a rejected entry) is shown as typed."""
    return f"{value:g}" if isinstance(value, (int, float)) else (value or "")


@bp.app_template_filter("key_reading")
def _key_reading(key: str, policy=None):
    """The grader's reading of a key (LaTeX to typeset it, or why it cannot be read)."""
    return _read_key(key, json.dumps(policy or {}, sort_keys=True))


@functools.lru_cache(maxsize=2048)
def _read_key(key: str, policy_json: str):
    # Keys change rarely and are read on every page view: remember the readings.
    from grader import PolicyError, read_key

    try:
        return read_key(key, json.loads(policy_json) or None)
    except PolicyError:
        return read_key(key)


@bp.app_template_filter("policy_tip")
def _policy_tip(statement: str, policy=None) -> str | None:
    """ "This problem asks to factor: set the `factored` requirement?" when the policy does not."""
    from grader import PolicyError, suggest_policy

    try:
        return suggest_policy(statement, policy or None)
    except PolicyError:
        return None


@bp.app_template_filter("ticks")
def _ticks(text: str | None):
    """Escape a sentence, then show `quoted` words as code (the grader's tips quote policy names)."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))
