"""Answer uploads: read the file, show a preview with every error named by row and student, and
store only after the teacher confirms. The preview carries the cleaned answers in the confirm form,
and they are validated again on the way back in (the browser is not trusted to keep them intact)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from store import uploads
from store.batchfile import read_submissions
from store.db import db
from store.intake import IntakeError, parse_answers, parse_external_id, parse_student
from store.models import Assignment, Source
from web.auth import login_required
from web.dashboard import bp
from web.intake import submit_upload

MAX_ERRORS = 50


@dataclass
class Preview:
    submissions: list[dict] = field(default_factory=list)  # cleaned, ready to store
    errors: list[str] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # students who already have answers here
    parsed: list[tuple] = field(default_factory=list)  # (student, external_id, [AnswerIn]) to store

    @property
    def answers(self) -> int:
        return sum(len(s["answers"]) for s in self.submissions)


def _where(raw: Any, index: int, student: str | None) -> tuple[str, list]:
    answers = raw.get("answers") if isinstance(raw, dict) else None
    answers = answers if isinstance(answers, list) else []
    rows = [a.get("row") for a in answers if isinstance(a, dict) and isinstance(a.get("row"), int)]
    place = f"Row {min(rows)}" if rows else f"Submission {index + 1}"
    return (f"{place} ({student})" if student else place), answers


def _error(raw: Any, index: int, student: str | None, exc: IntakeError) -> str:
    """ "Row 3 (Ben): problem must be a problem number from 1 to 2" for `answers[1].problem`."""
    place, answers = _where(raw, index, student)
    match = re.match(r"answers\[(\d+)\]\.?(.*)", exc.field)
    if match:
        j = int(match.group(1))
        row = answers[j].get("row") if j < len(answers) and isinstance(answers[j], dict) else None
        if isinstance(row, int):
            place = f"Row {row} ({student})" if student else f"Row {row}"
        return f"{place}: {match.group(2) or 'answer'} {exc.message}"
    return f"{place}: {exc.field} {exc.message}"


def build_preview(assignment: Assignment, raw_submissions: list) -> Preview:
    """Validate every submission; collect all errors rather than stopping at the first."""
    preview = Preview()
    count = len(assignment.problems)
    for i, raw in enumerate(raw_submissions):
        student = None
        try:
            if not isinstance(raw, dict):
                raise IntakeError("submission", "must be an object")
            student = parse_student(raw.get("student"))
            external_id = parse_external_id(raw.get("external_id"))
            answers = parse_answers(raw.get("answers"), count)
        except IntakeError as exc:
            if len(preview.errors) < MAX_ERRORS:
                preview.errors.append(_error(raw, i, student, exc))
            continue
        preview.parsed.append((student, external_id, answers))
        preview.submissions.append(
            {
                "student": student,
                "external_id": external_id,
                "answers": [{"problem": a.problem, "answer": a.answer, "work": list(a.work)} for a in answers],
            }
        )
    stored = uploads.duplicates(db.session, assignment, [(s, e) for s, e, _ in preview.parsed], Source.dashboard)
    preview.existing = set(stored)
    return preview


@bp.post("/assignments/<id:assignment_id>/submissions")
@login_required
def upload_submissions(assignment_id: int):
    """Read an uploaded answers file and show the preview; nothing is stored here."""
    from web.dashboard.routes import _owned

    row = _owned(Assignment, assignment_id)
    upload = request.files.get("file")
    if not upload or not upload.filename:
        flash("Choose a CSV, XLSX or JSON file of answers to upload.", "error")
        return redirect(url_for("dashboard.assignment", assignment_id=row.id))
    try:
        raw = read_submissions(upload.read(), "file", filename=upload.filename)
    except IntakeError as exc:
        flash(f"Nothing was uploaded: {exc.field} {exc.message.rstrip('.')}.", "error")
        return redirect(url_for("dashboard.assignment", assignment_id=row.id))
    preview = build_preview(row, raw)
    return render_template(
        "dashboard/upload_preview.html",
        assignment=row,
        preview=preview,
        filename=upload.filename,
        payload=json.dumps(preview.submissions),
    )


@bp.post("/assignments/<id:assignment_id>/submissions/confirm")
@login_required
def confirm_upload(assignment_id: int):
    """Store the previewed answers and queue them for grading."""
    from web.dashboard.routes import _owned

    row = _owned(Assignment, assignment_id)
    try:
        raw = json.loads(request.form.get("payload", ""))
    except (json.JSONDecodeError, RecursionError):
        raw = None
    preview = build_preview(row, raw if isinstance(raw, list) else [None])
    if preview.errors or not preview.submissions:
        flash("Nothing was uploaded: " + ("; ".join(preview.errors[:3]) or "the file holds no answers") + ".", "error")
        return redirect(url_for("dashboard.assignment", assignment_id=row.id))
    mode = request.form.get("existing", "replace")
    report = submit_upload(row, preview.parsed, Source.dashboard, mode=mode if mode in uploads.MODES else "replace")
    flash(_upload_message(report.to_dict()), "ok")
    return redirect(url_for("dashboard.assignment", assignment_id=row.id))


def _upload_message(counts: dict) -> str:
    parts = [f"{counts['created']} new"]
    for key, text in (("replaced", "replaced"), ("unchanged", "unchanged"), ("skipped", "skipped")):
        if counts[key]:
            parts.append(f"{counts[key]} {text}")
    queued = counts["created"] + counts["replaced"]
    return f"Stored the file: {', '.join(parts)}. Queued {queued} submission(s) for grading."
