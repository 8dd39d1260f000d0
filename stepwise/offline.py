"""`stepwise grade FILE`: grade a file of submissions with the grader alone, no service needed."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from store.batchfile import read_problems, read_submissions
from store.intake import IntakeError


def _references(data: bytes) -> dict[int, dict]:
    text = data.decode("utf-8-sig", errors="replace")
    if not text.lstrip().startswith("{"):
        return {}
    _, problems = read_problems(data)
    return {i: p for i, p in enumerate(problems or [], start=1) if isinstance(p, dict)}


def grade_rows(data: bytes) -> list[dict]:
    """One dict per answer: student, problem, status, score, points, feedback, interpreted."""
    from grader import check_answer

    problems = _references(data)
    rows = []
    for sub in read_submissions(data):
        for ans in sub.get("answers") or []:
            position = ans.get("problem")
            problem = problems.get(position, {})
            reference = ans.get("reference") or problem.get("answer")
            points = float(problem.get("points", 1))
            row = {"student": sub.get("student"), "problem": position, "answer": ans.get("answer"), "points": points}
            if not reference:
                row.update(status="no-key", score=0.0, feedback="No answer key for this problem.", interpreted=None)
            else:
                r = check_answer(str(ans.get("answer") or ""), str(reference), problem.get("policy"))
                row.update(status=r.status, score=round(r.score * points, 4), feedback=r.feedback,
                           interpreted=r.interpreted)
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
    except (OSError, IntakeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2, ensure_ascii=False) if as_json else render_table(rows))
    return 0
