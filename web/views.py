"""Shapes shared by the API and the dashboard: one place decides what a grade looks like."""

from __future__ import annotations

from store.models import Assignment, Submission
from store.serialize import _iso, answer_json


def submission_json(submission: Submission) -> dict:
    return {
        "id": submission.id,
        "assignment": submission.assignment_id,
        "student": submission.student,
        "source": submission.source,
        "external_id": submission.external_id,
        "status": submission.status,
        # A total with an answer still waiting for the teacher is not a grade yet.
        "score": None if submission.status == "needs_review" else submission.score,
        "needs_review": sum(1 for a in submission.answers if a.grade is not None and a.grade.status == "needs_review"),
        "max_score": submission.max_score,
        "created_at": _iso(submission.created_at),
        "graded_at": _iso(submission.graded_at),
        "answers": [answer_json(a) for a in submission.answers],
    }


def reference_json(problem) -> dict | None:
    ref = problem.reference
    if ref is None:
        return None
    return {
        "status": ref.status,
        "final_answer": ref.final_answer,
        "agreement": ref.agreement,
        "samples": len(ref.samples or []),
        "model": ref.model_id,
        "disagrees_with_key": key_disagrees(problem),
    }


def key_disagrees(problem) -> bool | None:
    """True when the teacher's key and the model's voted answer differ (the key still wins); stored
    when either changes (store.grading.refresh_disagreement), read here."""
    return problem.key_disagrees


def assignment_json(assignment: Assignment) -> dict:
    return {
        "id": assignment.id,
        "title": assignment.title,
        "max_score": assignment.max_score,
        "created_at": _iso(assignment.created_at),
        "problems": [
            {
                "id": p.id,
                "position": p.position,
                "statement": p.statement,
                "answer": p.answer_key,
                "points": p.points,
                "policy": p.policy or {},
                "reference": reference_json(p),
            }
            for p in assignment.problems
        ],
    }


def _cell(value) -> str:
    # Spreadsheets run cells that start like a formula; a leading quote keeps them text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_table(assignment: Assignment) -> tuple[list[str], list[list]]:
    """One row per submission (latest per student last), one column per problem, and a total."""
    positions = [p.position for p in assignment.problems]
    header = ["student", "submission", "status"] + [f"problem {n}" for n in positions] + ["total", "max"]
    rows = []
    for sub in sorted(assignment.submissions, key=lambda s: (s.student, s.id)):
        scores = {a.position: _answer_cell(a.grade) for a in sub.answers}
        total = "" if sub.status == "needs_review" else _fmt(sub.score)
        rows.append(
            [_cell(sub.student), sub.id, sub.status]
            + [scores.get(n, "") for n in positions]
            + [total, _fmt(sub.max_score)]
        )
    return header, rows


def _answer_cell(grade) -> str:
    if grade is None:
        return ""
    return "needs review" if grade.status == "needs_review" else _fmt(grade.score)


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def split_thinking(text: str | None) -> tuple[str, str]:
    """(thinking, written solution) of an R1-style output, for a collapsible display."""
    if not text:
        return "", ""
    if "</think>" not in text:
        return text.replace("<think>", "").strip(), ""
    thinking, solution = text.split("</think>", 1)
    return thinking.replace("<think>", "").strip(), solution.strip()
