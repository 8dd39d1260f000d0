"""The teacher's last word, as pages: review queue, answer groups, hand grading, deletes with a
confirmation, the gradebook export and the printable feedback report.

Every change goes through the workflow services (store.review, store.groups, store.overrides,
store.uploads, store.exports); these views only check ownership, read forms and say what happened.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from store import exports, groups, overrides, review, uploads
from store.db import db
from store.models import Answer, Assignment, Problem, Submission
from store.workflow import AnswerGroup
from tasks import enqueue_passback
from web.auth import current_teacher, login_required
from web.dashboard import bp


def _owned(model, object_id: int):
    row = db.session.get(model, object_id)
    if row is None or row.teacher_id != current_teacher().id:
        abort(404)
    return row


def _owned_answer(answer_id: int) -> Answer:
    answer = db.session.get(Answer, answer_id)
    if answer is None or answer.submission.teacher_id != current_teacher().id:
        abort(404)
    return answer


def _owned_group(group_id: int) -> AnswerGroup:
    group = db.session.get(AnswerGroup, group_id)
    problem = db.session.get(Problem, group.problem_id) if group is not None else None
    if problem is None or problem.assignment.teacher_id != current_teacher().id:
        abort(404)
    return group


def _score_and_feedback() -> tuple[float | None, str | None]:
    raw = request.form.get("score", "").strip().replace(",", ".")
    try:
        score = float(raw) if raw else None
    except ValueError:
        raise overrides.OverrideError("score", "must be a number") from None
    feedback = request.form.get("feedback", "").strip() or None
    return score, feedback


def _passback(changed) -> None:
    for sid in changed.passback if changed else ():
        enqueue_passback(sid)


def _back(default: str):
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(default)


def _changed_text(changed, what: str) -> str:
    n = changed.answers if changed else 0
    return f"{what}: {n} answer{'' if n == 1 else 's'} updated."


# --- review queue ---------------------------------------------------------------------------


@bp.get("/review")
@login_required
def review_page():
    assignment_id = request.args.get("assignment", type=int)
    if assignment_id is not None:
        _owned(Assignment, assignment_id)
    items = review.review_queue(db.session, current_teacher().id, assignment_id=assignment_id)
    return render_template("dashboard/review.html", items=items, assignment_id=assignment_id)


@bp.post("/review/<id:answer_id>")
@login_required
def resolve_review(answer_id: int):
    """Accept the proposed grade, or correct it: one action, totals and exports follow."""
    answer = _owned_answer(answer_id)
    action = request.form.get("action", "")
    try:
        score, feedback = _score_and_feedback()
        changed = review.resolve(db.session, current_teacher().id, answer, action, score=score, feedback=feedback)
    except overrides.OverrideError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc.field} {exc.message.rstrip('.')}.", "error")
    else:
        _passback(changed)
        verb = "Accepted" if action == "accept" else "Corrected"
        flash(f"{verb} {answer.submission.student}'s answer to problem {answer.position}.", "ok")
    return _back(url_for("dashboard.review_page"))


# --- answer groups --------------------------------------------------------------------------


@bp.get("/assignments/<id:assignment_id>/problems/<id:position>/groups")
@login_required
def problem_groups(assignment_id: int, position: int):
    assignment = _owned(Assignment, assignment_id)
    problem = next((p for p in assignment.problems if p.position == position), None)
    if problem is None:
        abort(404)
    rows = groups.list_groups(db.session, problem)
    return render_template("dashboard/groups.html", assignment=assignment, problem=problem, groups=rows)


def _group_page(group: AnswerGroup):
    problem = db.session.get(Problem, group.problem_id)
    return url_for("dashboard.problem_groups", assignment_id=problem.assignment_id, position=problem.position)


@bp.post("/groups/<id:group_id>/override")
@login_required
def override_group(group_id: int):
    group = _owned_group(group_id)
    saved = _save_override(
        lambda score, feedback: overrides.override_group(db.session, current_teacher().id, group, score, feedback)
    )
    if saved is not None:
        score, changed = saved
        flash(_changed_text(changed, f"Group “{group.answer}” now scores {score:g}"), "ok")
    return redirect(_group_page(group))


def _save_override(apply):
    """Read the score and feedback from the form and apply one override (group or answer); LMS
    passback follows. Returns (score, changed) or None after flashing why it was refused."""
    try:
        score, feedback = _score_and_feedback()
        if score is None:
            raise overrides.OverrideError("score", "is required")
        changed = apply(score, feedback)
    except overrides.OverrideError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc.field} {exc.message.rstrip('.')}.", "error")
        return None
    _passback(changed)
    return score, changed


@bp.post("/groups/<id:group_id>/undo")
@login_required
def undo_group(group_id: int):
    group = _owned_group(group_id)
    changed = overrides.undo_group_override(db.session, current_teacher().id, group)
    _passback(changed)
    flash(_changed_text(changed, f"Group “{group.answer}” is graded by the grader again"), "ok")
    return redirect(_group_page(group))


# --- hand grading one answer ----------------------------------------------------------------


@bp.post("/answers/<id:answer_id>/override")
@login_required
def override_answer(answer_id: int):
    answer = _owned_answer(answer_id)
    saved = _save_override(
        lambda score, feedback: overrides.override_answer(db.session, current_teacher().id, answer, score, feedback)
    )
    if saved is not None:
        flash(f"Problem {answer.position} now scores {saved[0]:g} (graded by you).", "ok")
    return _back(url_for("dashboard.submission", submission_id=answer.submission_id) + f"#answer-{answer.position}")


@bp.post("/answers/<id:answer_id>/undo")
@login_required
def undo_answer(answer_id: int):
    answer = _owned_answer(answer_id)
    _passback(overrides.undo_answer_override(db.session, current_teacher().id, answer))
    flash(f"Problem {answer.position} is graded by the grader again.", "ok")
    return redirect(url_for("dashboard.submission", submission_id=answer.submission_id) + f"#answer-{answer.position}")


# --- deleting, with a confirmation ----------------------------------------------------------


def _lms_linked(submissions) -> int:
    return sum(1 for s in submissions if s.source == "lms" or s.integration_id or s.callback_url)


@bp.route("/submissions/<id:submission_id>/delete", methods=["GET", "POST"])
@login_required
def delete_submission(submission_id: int):
    sub = _owned(Submission, submission_id)
    back = url_for("dashboard.assignment", assignment_id=sub.assignment_id)
    if request.method == "GET":
        return render_template(
            "dashboard/delete.html",
            what=f"{sub.student}'s submission #{sub.id}",
            detail=f"{len(sub.answers)} answers and their grades",
            back=back,
            lms=_lms_linked([sub]),
            lms_note=uploads.LMS_NOTE,
        )
    report = uploads.delete_submissions(db.session, [sub])
    flash(f"Deleted submission #{submission_id}. " + (report["lms"]["message"] or ""), "ok")
    return redirect(back)


@bp.route("/assignments/<id:assignment_id>/students/delete", methods=["GET", "POST"])
@login_required
def delete_student(assignment_id: int):
    assignment = _owned(Assignment, assignment_id)
    student = (request.values.get("student") or "").strip()
    subs = [s for s in assignment.submissions if s.student == student]
    if not subs:
        abort(404)
    back = url_for("dashboard.assignment", assignment_id=assignment.id)
    if request.method == "GET":
        return render_template(
            "dashboard/delete.html",
            what=f"all of {student}'s work in “{assignment.title}”",
            detail=f"{len(subs)} submission(s) and their grades",
            back=back,
            student=student,
            lms=_lms_linked(subs),
            lms_note=uploads.LMS_NOTE,
        )
    report = uploads.delete_student(db.session, assignment, student)
    flash(f"Deleted {report['submissions']} submission(s) of {student}. " + (report["lms"]["message"] or ""), "ok")
    return redirect(back)


@bp.route("/assignments/<id:assignment_id>/delete", methods=["GET", "POST"])
@login_required
def delete_assignment(assignment_id: int):
    assignment = _owned(Assignment, assignment_id)
    if request.method == "GET":
        return render_template(
            "dashboard/delete.html",
            what=f"the assignment “{assignment.title}”",
            detail=f"{len(assignment.problems)} problems, {len(assignment.submissions)} submissions and their grades",
            back=url_for("dashboard.assignment", assignment_id=assignment.id),
            lms=_lms_linked(assignment.submissions),
            lms_note=uploads.LMS_NOTE,
        )
    title = assignment.title
    report = uploads.delete_assignment(db.session, assignment)
    flash(f"Deleted “{title}”. " + (report["lms"]["message"] or ""), "ok")
    return redirect(url_for("dashboard.index"))


# --- exports and the printable report -------------------------------------------------------


def _default_pick() -> str:
    return exports.teacher_settings(db.session, current_teacher().id)["gradebook"]


@bp.get("/assignments/<id:assignment_id>/gradebook.csv")
@login_required
def gradebook(assignment_id: int):
    from flask import Response

    assignment = _owned(Assignment, assignment_id)
    pick = request.args.get("pick") or _default_pick()
    fmt = request.args.get("format", "generic")
    if pick not in exports.PICKS or fmt not in exports.FORMATS:
        abort(400)
    name = f"assignment-{assignment.id}-gradebook-{fmt}.csv"
    return Response(
        exports.gradebook_csv(assignment, pick, fmt),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/assignments/<id:assignment_id>/report")
@login_required
def report(assignment_id: int):
    """Printable feedback, one page per student (their latest submission)."""
    assignment = _owned(Assignment, assignment_id)
    pick = request.args.get("pick") or _default_pick()
    if pick not in exports.PICKS:
        abort(400)
    reports = [exports.submission_report(s) for s in exports.per_student(assignment, pick)]
    return render_template("dashboard/report.html", assignment=assignment, reports=reports)


@bp.get("/submissions/<id:submission_id>/report")
@login_required
def submission_report(submission_id: int):
    sub = _owned(Submission, submission_id)
    return render_template("dashboard/report.html", assignment=sub.assignment, reports=[exports.submission_report(sub)])
