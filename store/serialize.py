"""JSON shapes of stored rows that both the API and the exports use (one place decides them)."""

from __future__ import annotations


def _iso(value):
    return value.isoformat() if value else None


def answer_json(answer) -> dict:
    grade = answer.grade
    body = {
        "problem": answer.position,
        "answer": answer.text,
        "work": answer.work or [],
    }
    if grade is None:
        body.update(
            status="pending",
            score=None,
            points=answer.problem.points,
            feedback=None,
            interpreted=None,
            first_error=None,
            diagnosis=None,
            steps=[],
            reference=None,
            overridden=False,
            graded_by=None,
        )
        return body
    body.update(
        status=grade.status,
        score=None if grade.status == "needs_review" else grade.score,  # not 0: nobody graded it yet
        points=grade.points,
        feedback=grade.feedback,
        interpreted=grade.interpreted,
        first_error=grade.first_error,
        diagnosis=grade.diagnosis,
        steps=grade.steps or [],
        reference=grade.reference_source,
        overridden=grade.reference_source == "teacher",
        graded_by="teacher" if grade.reference_source == "teacher" else "grader",
    )
    return body
