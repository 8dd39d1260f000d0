"""Gradebook exports (one row per student, importable by Canvas and Moodle) and feedback reports."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from store.models import Assignment, Submission
from store.serialize import answer_json
from store.workflow import TeacherSetting

PICKS = ("latest", "best")
FORMATS = ("generic", "canvas", "moodle")


# --- settings -------------------------------------------------------------------------------


def teacher_settings(session: Session, teacher_id: int) -> dict:
    row = session.get(TeacherSetting, teacher_id)
    return {"gradebook": row.gradebook if row else "latest"}


def update_settings(session: Session, teacher_id: int, *, gradebook: str | None = None) -> dict:
    if gradebook is not None and gradebook not in PICKS:
        raise ValueError("gradebook must be latest or best")
    row = session.get(TeacherSetting, teacher_id)
    if row is None:
        row = TeacherSetting(teacher_id=teacher_id)
        session.add(row)
    if gradebook is not None:
        row.gradebook = gradebook
    session.commit()
    return teacher_settings(session, teacher_id)


# --- picking one submission per student -----------------------------------------------------


def _student_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def per_student(assignment: Assignment, pick: str = "latest") -> list[Submission]:
    """One submission per student: the latest, or the best graded one (ties: the latest)."""
    if pick not in PICKS:
        raise ValueError("pick must be latest or best")
    chosen: dict[str, Submission] = {}
    for sub in sorted(assignment.submissions, key=lambda s: s.id):
        key = _student_key(sub.student)
        if pick == "latest" or key not in chosen or _rank(sub) >= _rank(chosen[key]):
            chosen[key] = sub
    return sorted(chosen.values(), key=lambda s: _student_key(s.student))


def _rank(sub: Submission) -> tuple:
    graded = sub.status == "graded" and sub.score is not None
    return (graded, sub.score if graded else -1.0)


def identity(sub: Submission) -> dict:
    """The student's email and LMS ids, from what the submission carries."""
    ctx = sub.lms_context or {}
    lti = ctx.get("lti") if isinstance(ctx.get("lti"), dict) else {}
    email = ctx.get("email") or lti.get("email") or (sub.student if "@" in sub.student else "")
    return {
        "name": ctx.get("name") or lti.get("name") or sub.student,
        "email": email or "",
        "student_id": str(lti.get("user_id") or ctx.get("user_id") or ctx.get("student_id") or ""),
        "sis_id": str(lti.get("sis_id") or ctx.get("sis_id") or ""),
    }


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _fmt(value) -> str:
    return "" if value is None else f"{value:g}"


def _total(sub: Submission) -> str:
    return "" if sub.status != "graded" else _fmt(sub.score)


def gradebook_rows(assignment: Assignment, pick: str = "latest", fmt: str = "generic") -> tuple[list[str], list[list]]:
    """(header, rows) of the gradebook; see /work/notes/workflow-readme.md for the column mapping.

    A student whose grade is not final (needs review, queued, failed) gets an empty grade cell,
    which both Canvas and Moodle read as "no grade", never as 0.
    """
    if fmt not in FORMATS:
        raise ValueError("format must be generic, canvas or moodle")
    subs = per_student(assignment, pick)
    column = f"{assignment.title} ({assignment.id})"
    if fmt == "canvas":
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
        rows = [["Points Possible", "", "", "", "", _fmt(assignment.max_score)]]
        for sub in subs:
            who = identity(sub)
            rows.append(
                [_cell(who["name"]), who["student_id"], _cell(who["sis_id"]), _cell(who["email"]), "", _total(sub)]
            )
        return header, rows
    if fmt == "moodle":
        header = ["Email address", "ID number", "Full name", column]
        rows = [
            [
                _cell(identity(s)["email"]),
                _cell(identity(s)["sis_id"] or identity(s)["student_id"]),
                _cell(identity(s)["name"]),
                _total(s),
            ]
            for s in subs
        ]
        return header, rows
    positions = [p.position for p in assignment.problems]
    header = (
        ["student", "email", "student_id", "submission", "status"]
        + [f"problem {n}" for n in positions]
        + ["total", "max"]
    )
    rows = []
    for sub in subs:
        who = identity(sub)
        cells = {a.position: _answer_cell(a) for a in sub.answers}
        rows.append(
            [_cell(sub.student), _cell(who["email"]), _cell(who["student_id"]), sub.id, sub.status]
            + [cells.get(n, "") for n in positions]
            + [_total(sub), _fmt(assignment.max_score)]
        )
    return header, rows


def _answer_cell(answer) -> str:
    grade = answer.grade
    if grade is None:
        return ""
    return "needs review" if grade.status == "needs_review" else _fmt(grade.score)


def gradebook_csv(assignment: Assignment, pick: str = "latest", fmt: str = "generic") -> str:
    header, rows = gradebook_rows(assignment, pick, fmt)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


# --- the per-student feedback report --------------------------------------------------------


def student_report(assignment: Assignment, student: str, pick: str = "latest") -> dict | None:
    """Everything a printable per-student feedback page shows; None when the student has no work."""
    key = _student_key(student)
    subs = [s for s in per_student(assignment, pick) if _student_key(s.student) == key]
    if not subs:
        return None
    return submission_report(subs[0])


def submission_report(sub: Submission) -> dict:
    assignment = sub.assignment
    problems = {p.position: p for p in assignment.problems}
    answers = []
    for answer in sub.answers:
        body = answer_json(answer)
        problem = problems.get(answer.position)
        body["statement"] = problem.statement if problem else ""
        ref = problem.reference if problem else None
        body["worked_solution"] = ref.reasoning if ref is not None and ref.status == "ready" else None
        answers.append(body)
    return {
        "assignment": {"id": assignment.id, "title": assignment.title},
        "student": sub.student,
        "submission": sub.id,
        "status": sub.status,
        "score": None if sub.status == "needs_review" else sub.score,
        "max_score": sub.max_score,
        "graded_at": sub.graded_at.isoformat() if sub.graded_at else None,
        "answers": answers,
    }
