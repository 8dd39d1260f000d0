"""Read the files teachers upload: problems and submissions as CSV or JSON.

Problems CSV: `statement, answer, points, policy` (policy as JSON, optional).
Submissions CSV: `student, problem, answer` and optional `work` (lines split by ` | ` or newlines),
`external_id`, `reference` (a key, for offline grading only). One row per answer.
JSON: `{"title"?, "problems"?: [...], "submissions": [{"student", "external_id"?, "answers": [...]}]}`
or a bare list of submissions.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from store.intake import IntakeError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000


def _decode(data: bytes | str, field: str) -> str:
    if isinstance(data, str):
        text = data
    else:
        if len(data) > MAX_FILE_BYTES:
            raise IntakeError(field, f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise IntakeError(field, "is not UTF-8 text") from None
    if len(text) > MAX_FILE_BYTES:
        raise IntakeError(field, "is too large")
    return text


def _is_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def _rows(text: str, field: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [name for name in required if name not in headers]
    if missing:
        raise IntakeError(field, f"needs the CSV columns {', '.join(required)} (missing: {', '.join(missing)})")
    reader.fieldnames = headers
    rows = []
    for i, row in enumerate(reader):
        if i >= MAX_ROWS:
            raise IntakeError(field, f"has more than {MAX_ROWS} rows")
        if None in row:
            raise IntakeError(f"{field} row {i + 2}", "has more cells than the header")
        rows.append({k: (v or "").strip() for k, v in row.items()})
    return rows


def _load_json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise IntakeError(field, "is not valid JSON") from None


def read_problems(data: bytes | str, field: str = "file") -> tuple[str | None, list[dict]]:
    """(title or None, raw problem dicts) ready for `store.intake.parse_problems`."""
    text = _decode(data, field)
    if _is_json(text):
        doc = _load_json(text, field)
        if isinstance(doc, list):
            return None, doc
        if not isinstance(doc, dict):
            raise IntakeError(field, "must hold a JSON object or list")
        return doc.get("title"), doc.get("problems")
    problems = []
    for i, row in enumerate(_rows(text, field, ("statement",))):
        item: dict[str, Any] = {"statement": row["statement"]}
        if row.get("answer"):
            item["answer"] = row["answer"]
        if row.get("points"):
            try:
                item["points"] = float(row["points"])
            except ValueError:
                raise IntakeError(f"{field} row {i + 2}.points", "must be a number") from None
        if row.get("policy"):
            item["policy"] = _load_json(row["policy"], f"{field} row {i + 2}.policy")
        problems.append(item)
    return None, problems


def read_submissions(data: bytes | str, field: str = "file") -> list[dict]:
    """Raw submission dicts: {"student", "external_id"?, "answers": [{"problem", "answer", "work"?}]}."""
    text = _decode(data, field)
    if _is_json(text):
        doc = _load_json(text, field)
        subs = doc.get("submissions") if isinstance(doc, dict) else doc
        if not isinstance(subs, list):
            raise IntakeError(field, "must hold a list of submissions")
        return subs
    grouped: dict[tuple[str, str], dict] = {}
    for i, row in enumerate(_rows(text, field, ("student", "problem", "answer"))):
        try:
            position = int(row["problem"])
        except ValueError:
            raise IntakeError(f"{field} row {i + 2}.problem", "must be a problem number") from None
        key = (row["student"], row.get("external_id", ""))
        sub = grouped.setdefault(key, {"student": row["student"], "answers": []})
        if row.get("external_id"):
            sub["external_id"] = row["external_id"]
        answer = {"problem": position, "answer": row["answer"]}
        if row.get("work"):
            answer["work"] = [line.strip() for line in row["work"].replace(" | ", "\n").splitlines() if line.strip()]
        if row.get("reference"):
            answer["reference"] = row["reference"]
        sub["answers"].append(answer)
    return list(grouped.values())
