"""Read the files teachers upload: problems and submissions as CSV, XLSX or JSON.

CSV as Excel writes it is accepted: comma, semicolon or tab separated; UTF-8, UTF-8 with a BOM,
or Latin-1 (Windows-1252). XLSX: the first sheet, first row the header (openpyxl, read-only).

Problems CSV: `statement, answer, points, policy` (policy as JSON, optional).
Submissions CSV: `student, problem, answer` and optional `work` (lines split by ` | ` or newlines),
`external_id`, `reference` (a key, for offline grading only). One row per answer; each answer
read from a table keeps its sheet row number as `row`, so an error can name the row.
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
            # Excel's "CSV" on Windows is Windows-1252; Latin-1 takes any byte left over.
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    if len(text) > MAX_FILE_BYTES:
        raise IntakeError(field, "is too large")
    if "\x00" in text:
        raise IntakeError(field, "is not a text file (CSV or JSON) or an .xlsx workbook")
    return text


def _is_xlsx(data: bytes | str, filename: str | None) -> bool:
    if isinstance(data, str):
        return False
    return data[:4] == b"PK\x03\x04" or bool(filename and filename.lower().endswith(".xlsx"))


def _delimiter(text: str) -> str:
    """Comma, semicolon (Excel in most of Europe) or tab: whichever the header line uses most."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_rows(data: bytes, field: str) -> list[list[str]]:
    """The first sheet's rows as text; a bounded read (size, rows, columns)."""
    import zipfile

    from openpyxl import load_workbook

    if len(data) > MAX_FILE_BYTES:
        raise IntakeError(field, f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(i.file_size for i in archive.infolist()) > 10 * MAX_FILE_BYTES:
                raise IntakeError(field, "unpacks to more than 50 MB")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except IntakeError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise IntakeError(field, "is not a readable .xlsx workbook") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for i, values in enumerate(sheet.iter_rows(values_only=True, max_col=50)):
            if i > MAX_ROWS:
                raise IntakeError(field, f"has more than {MAX_ROWS} rows")
            rows.append([_cell_text(v) for v in values])
        return rows
    finally:
        book.close()


def _is_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def _table(data: bytes | str, field: str, filename: str | None) -> list[list[str]] | str:
    """Rows of cells from an XLSX workbook or a CSV file; JSON text is returned as text."""
    if _is_xlsx(data, filename):
        return _xlsx_rows(data, field)
    text = _decode(data, field)
    if _is_json(text):
        return text
    try:
        return list(csv.reader(io.StringIO(text), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise IntakeError(field, f"is not a readable CSV file ({exc})") from None


def _rows(table: list[list[str]], field: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Dicts keyed by the lower-cased header; each with its sheet row number under `_row`."""
    if not table:
        raise IntakeError(field, f"needs the CSV columns {', '.join(required)} (the file is empty)")
    headers = [h.strip().lower() for h in table[0]]
    while headers and not headers[-1]:
        headers.pop()
    missing = [name for name in required if name not in headers]
    if missing:
        raise IntakeError(field, f"needs the CSV columns {', '.join(required)} (missing: {', '.join(missing)})")
    rows = []
    for i, cells in enumerate(table[1:]):
        if i >= MAX_ROWS:
            raise IntakeError(field, f"has more than {MAX_ROWS} rows")
        if not any((c or "").strip() for c in cells):
            continue  # blank lines, as spreadsheets leave at the end
        if len(cells) > len(headers) and any((c or "").strip() for c in cells[len(headers) :]):
            raise IntakeError(f"{field} row {i + 2}", "has more cells than the header")
        row = {h: (cells[j] if j < len(cells) else "").strip() for j, h in enumerate(headers) if h}
        row["_row"] = i + 2
        rows.append(row)
    return rows


def _load_json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise IntakeError(field, "is not valid JSON") from None


def read_problems(
    data: bytes | str, field: str = "file", *, filename: str | None = None
) -> tuple[str | None, list[dict]]:
    """(title or None, raw problem dicts) ready for `store.intake.parse_problems`."""
    table = _table(data, field, filename)
    if isinstance(table, str):
        doc = _load_json(table, field)
        if isinstance(doc, list):
            return None, doc
        if not isinstance(doc, dict):
            raise IntakeError(field, "must hold a JSON object or list")
        return doc.get("title"), doc.get("problems")
    problems = []
    for row in _rows(table, field, ("statement",)):
        i = row["_row"] - 2
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


def read_submissions(data: bytes | str, field: str = "file", *, filename: str | None = None) -> list[dict]:
    """Raw submission dicts: {"student", "external_id"?, "answers": [{"problem", "answer", "work"?, "row"?}]}."""
    table = _table(data, field, filename)
    if isinstance(table, str):
        doc = _load_json(table, field)
        subs = doc.get("submissions") if isinstance(doc, dict) else doc
        if not isinstance(subs, list):
            raise IntakeError(field, "must hold a list of submissions")
        return subs
    grouped: dict[tuple[str, str], dict] = {}
    for row in _rows(table, field, ("student", "problem", "answer")):
        # A cell that is not a number is passed on as text: validation names its row and student.
        position: int | str = int(row["problem"]) if row["problem"].strip().isdigit() else row["problem"]
        key = (row["student"], row.get("external_id", ""))
        sub = grouped.setdefault(key, {"student": row["student"], "answers": []})
        if row.get("external_id"):
            sub["external_id"] = row["external_id"]
        answer = {"problem": position, "answer": row["answer"], "row": row["_row"]}
        if row.get("work"):
            answer["work"] = [line.strip() for line in row["work"].replace(" | ", "\n").splitlines() if line.strip()]
        if row.get("reference"):
            answer["reference"] = row["reference"]
        sub["answers"].append(answer)
    return list(grouped.values())
