"""What the assignment page shows about a class: results cells, the class picture, the model banner.

Everything is computed from stored rows in one pass; the charts are drawn as SVG by templates
(dashboard/_charts.html), so the page works offline and needs no chart library.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from store.models import Assignment, Submission

WRONG = {"incorrect", "invalid", "partial"}
DEFAULT_COMMAND = "huggingface-cli download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
BINS = 10  # score histogram: 0-10 %, ..., 90-100 %


@dataclass
class Cell:
    text: str
    status: str  # the grade status, "pending" before grading


@dataclass
class ResultRow:
    submission: Submission
    cells: list[Cell]
    total: str


def results(assignment: Assignment) -> list[ResultRow]:
    """One row per submission; an answer that needs review reads "review", never 0."""
    positions = [p.position for p in assignment.problems]
    rows = []
    for sub in sorted(assignment.submissions, key=lambda s: (s.student.lower(), s.id)):
        by_position = {a.position: a for a in sub.answers}
        cells = [_cell(by_position.get(n)) for n in positions]
        total = "" if sub.score is None else f"{sub.score:g}"
        rows.append(ResultRow(sub, cells, total))
    return rows


def _cell(answer) -> Cell:
    if answer is None:
        return Cell("–", "missing")
    grade = answer.grade
    if grade is None:
        return Cell("…", "pending")
    if grade.status == "needs_review":
        return Cell("review", "needs_review")
    return Cell(f"{grade.score:g}", grade.status)


@dataclass
class ProblemStats:
    position: int
    graded: int = 0
    correct: int = 0
    score_share: float = 0.0  # mean score / points over graded answers
    wrong: list[tuple[str, int]] = field(default_factory=list)

    @property
    def success(self) -> float | None:
        return self.correct / self.graded if self.graded else None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text or "").lower()[:200]


def class_picture(assignment: Assignment, *, top: int = 3) -> dict:
    """Per-problem success rate, a histogram of total scores (share of the maximum), and each
    problem's most common wrong answers (grouped by normalised text)."""
    stats = {p.position: ProblemStats(p.position) for p in assignment.problems}
    wrong: dict[int, Counter] = {p.position: Counter() for p in assignment.problems}
    shown: dict[tuple[int, str], str] = {}
    sums: Counter = Counter()
    for sub in assignment.submissions:
        for answer in sub.answers:
            grade, st = answer.grade, stats.get(answer.position)
            if grade is None or st is None or grade.status == "needs_review":
                continue
            st.graded += 1
            st.correct += grade.status == "correct"
            sums[answer.position] += grade.score / grade.points if grade.points else 0
            if grade.status in WRONG:
                key = _normalise(answer.text)
                wrong[answer.position][key] += 1
                shown.setdefault((answer.position, key), answer.text.strip() or "(blank)")
    for position, st in stats.items():
        st.score_share = sums[position] / st.graded if st.graded else 0.0
        st.wrong = [(shown[(position, key)], n) for key, n in wrong[position].most_common(top)]
    histogram = [0] * BINS
    scored = [s for s in assignment.submissions if s.score is not None and s.max_score]
    for sub in scored:
        histogram[min(BINS - 1, int(sub.score / sub.max_score * BINS))] += 1
    return {"problems": list(stats.values()), "histogram": histogram, "students": len(scored)}


def missing_model(assignment: Assignment) -> dict | None:
    """The model banner's facts, only when a keyless problem is waiting for a model that is not there."""
    keyless = [p for p in assignment.problems if not p.answer_key]
    stuck = [p for p in keyless if p.reference is not None and p.reference.status in ("unavailable", "failed")]
    if not stuck:
        return None
    detail = next((p.reference.error for p in stuck if p.reference.error), None) or "No reasoning model is installed."
    command = re.search(r"`([^`]+)`", detail)
    return {
        "problems": [p.position for p in stuck],
        "command": command.group(1) if command else DEFAULT_COMMAND,
        "detail": detail,
    }


def recent_batches(session, teacher_id: int, limit: int = 5) -> list[dict]:
    """The latest overnight batches that cover this teacher's work (theirs, or the nightly all-teacher
    run), in the shape of `GET /api/v1/batches/<id>`."""
    from sqlalchemy import or_, select

    from store.workflow import Batch

    rows = session.scalars(
        select(Batch)
        .where(or_(Batch.teacher_id == teacher_id, Batch.teacher_id.is_(None)))
        .order_by(Batch.id.desc())
        .limit(limit)
    ).all()
    try:
        from store.batches import batch_json
    except ImportError:  # the batch service lands separately; show what the row holds

        def batch_json(_session, batch):
            return {
                "id": batch.id,
                "status": batch.status,
                "stage": batch.stage,
                "trigger": batch.trigger,
                "total": batch.total,
                "started": batch.started_at.isoformat() if batch.started_at else None,
                "finished": batch.finished_at.isoformat() if batch.finished_at else None,
            }

    return [batch_json(session, b) for b in rows]
