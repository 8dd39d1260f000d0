"""`stepwise grade FILE`: grade a file of submissions with the grader alone, no service needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, field_validator

from store.batchfile import read_problems, read_submissions
from store.intake import IntakeError
from store.schemas import MAX_POINTS, check_policy, validate

Scalar = str | int | float | None


class OfflineProblem(BaseModel):
    """A problem in an offline file: only the key, points and policy matter here."""

    answer: Scalar = None
    points: float = Field(default=1.0, gt=0, le=MAX_POINTS, allow_inf_nan=False)
    policy: dict[str, Any] | None = None

    @field_validator("policy", mode="after")
    @classmethod
    def _policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_policy(value)


class OfflineAnswer(BaseModel):
    problem: int = Field(ge=1)
    answer: Scalar = None
    reference: Scalar = None


class OfflineSubmission(BaseModel):
    student: str | int
    answers: list[OfflineAnswer] = Field(default_factory=list)


PROBLEMS = TypeAdapter(list[OfflineProblem | None])
SUBMISSIONS = TypeAdapter(list[OfflineSubmission])


def _references(data: bytes) -> dict[int, OfflineProblem]:
    text = data.decode("utf-8-sig", errors="replace")
    if not text.lstrip().startswith("{"):
        return {}
    _, problems = read_problems(data)
    parsed = validate(PROBLEMS, problems or [], prefix="problems")
    return {i: p for i, p in enumerate(parsed, start=1) if p is not None}


def grade_rows(data: bytes) -> list[dict]:
    """One dict per answer: student, problem, status, score, points, feedback, interpreted."""
    from grader import check_answer

    problems = _references(data)
    rows = []
    for sub in validate(SUBMISSIONS, read_submissions(data), prefix="submissions"):
        for ans in sub.answers:
            problem = problems.get(ans.problem) or OfflineProblem()
            reference = ans.reference if ans.reference not in (None, "") else problem.answer
            points = problem.points
            row = {"student": str(sub.student), "problem": ans.problem, "answer": ans.answer, "points": points}
            if reference in (None, ""):
                row.update(status="no-key", score=0.0, feedback="No answer key for this problem.", interpreted=None)
            else:
                r = check_answer(str(ans.answer if ans.answer is not None else ""), str(reference), problem.policy)
                row.update(
                    status=str(r.status),
                    score=round(r.score * points, 4),
                    feedback=r.feedback,
                    interpreted=r.interpreted,
                )
            rows.append(row)
    return rows


def render_table(rows: list[dict]) -> str:
    students = list(dict.fromkeys(r["student"] for r in rows))
    problems = sorted({r["problem"] for r in rows if isinstance(r["problem"], int)})
    cell = {(r["student"], r["problem"]): r for r in rows}
    header = ["student"] + [f"P{n}" for n in problems] + ["total"]
    lines = [header]
    for s in students:
        got = [cell.get((s, n)) for n in problems]
        marks = [f"{g['score']:g}/{g['points']:g} {g['status']}" if g else "-" for g in got]
        total = sum(g["score"] for g in got if g)
        possible = sum(g["points"] for g in got if g)
        lines.append([str(s)] + marks + [f"{total:g}/{possible:g}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def grade_file(path: Path, *, as_json: bool = False) -> int:
    try:
        rows = grade_rows(path.read_bytes())
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except IntakeError as exc:
        print(f"error: {path}: {exc.field} {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2, ensure_ascii=False) if as_json else render_table(rows))
    return 0
