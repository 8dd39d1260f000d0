"""Answer groups: a problem's answers grouped by normalised text, then by grader equivalence.

A teacher reads and overrides one row per distinct answer instead of one per student. Groups are
stored (stable ids for overrides) and extended as new answers arrive; the equivalence pass is
bounded in checks and time so a class of wild answers cannot stall a request.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Answer, Grade, Problem
from store.workflow import AnswerGroup, AnswerGroupText

MAX_CHECKS = 400  # equivalence checks per refresh
MAX_CANDIDATES = 25  # groups one new text is compared with
CHECK_BUDGET_S = 3.0  # wall-clock budget of the equivalence pass
CHECK_TIMEOUT_S = 0.5  # per check


def normalise(text: str | None) -> str:
    """The spelling two answers must share to be one group without asking the grader."""
    value = unicodedata.normalize("NFKC", text or "").strip().rstrip(".").strip()
    value = value.strip("$").strip()
    value = re.sub(r"\s+", " ", value)
    # Spaces around operators carry no meaning; between two numbers they do ("2 1/2" is 5/2).
    return re.sub(r" ?([=+\-*/^(),<>≤≥]) ?", r"\1", value)


def digest(text: str | None) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def equivalent(a: str, b: str, policy: dict | None) -> bool:
    """The grader, asked whether answer `a` is right if `b` were the key (under the problem's policy)."""
    from grader import check_answer

    if not normalise(a) or not normalise(b):
        return False
    pol = dict(policy or {})
    pol["timeout"] = CHECK_TIMEOUT_S
    try:
        return bool(check_answer(a, b, pol).correct)
    except ValueError:  # a policy the grader refuses: no equivalence, only equal text
        return False


def _verdict(grade: Grade | None) -> tuple | None:
    return None if grade is None else (grade.status, grade.score)


@dataclass
class _Text:
    digest: str
    text: str  # the most common raw spelling
    verdict: tuple | None
    count: int


def refresh_groups(session: Session, problem: Problem) -> None:
    """Give every distinct answer text of `problem` a group, joining equivalent ones (bounded)."""
    answers = session.execute(
        select(Answer.text, Grade.status, Grade.score)
        .outerjoin(Grade, Grade.answer_id == Answer.id)
        .where(Answer.problem_id == problem.id)
    ).all()
    known = dict(
        session.execute(
            select(AnswerGroupText.digest, AnswerGroupText.group_id).where(AnswerGroupText.problem_id == problem.id)
        ).all()
    )
    fresh = _new_texts(answers, known)
    if not fresh:
        return
    groups = {g.id: g for g in session.scalars(select(AnswerGroup).where(AnswerGroup.problem_id == problem.id))}
    verdicts = _group_verdicts(answers, known)
    checks, deadline = 0, time.monotonic() + CHECK_BUDGET_S
    for item in fresh:
        target = None
        candidates = [g for g in groups.values() if _compatible(item.verdict, verdicts.get(g.id))]
        for group in candidates[:MAX_CANDIDATES]:
            if checks >= MAX_CHECKS or time.monotonic() > deadline:
                break
            checks += 1
            if equivalent(item.text, group.answer, problem.policy):
                target = group
                break
        if target is None:
            target = AnswerGroup(problem_id=problem.id, answer=item.text)
            session.add(target)
            session.flush()
            groups[target.id] = target
            verdicts[target.id] = item.verdict
        _attach(session, problem.id, target.id, item.digest)
    session.commit()


def _new_texts(answers, known: dict[str, int]) -> list[_Text]:
    """Distinct normalised texts without a group yet, most common first."""
    spellings: dict[str, Counter] = defaultdict(Counter)
    verdicts: dict[str, Counter] = defaultdict(Counter)
    for text, status, score in answers:
        key = digest(text)
        if key in known:
            continue
        spellings[key][text or ""] += 1
        if status is not None:
            verdicts[key][(status, score)] += 1
    items = [
        _Text(
            key,
            spellings[key].most_common(1)[0][0],
            verdicts[key].most_common(1)[0][0] if verdicts[key] else None,
            sum(spellings[key].values()),
        )
        for key in spellings
    ]
    return sorted(items, key=lambda t: (-t.count, t.text))


def _group_verdicts(answers, known: dict[str, int]) -> dict[int, tuple]:
    counts: dict[int, Counter] = defaultdict(Counter)
    for text, status, score in answers:
        group_id = known.get(digest(text))
        if group_id is not None and status is not None:
            counts[group_id][(status, score)] += 1
    return {gid: c.most_common(1)[0][0] for gid, c in counts.items()}


def _compatible(a: tuple | None, b: tuple | None) -> bool:
    # Equal answers with different verdicts (a policy like "simplified" tells 2/4 from 1/2) stay apart.
    return a is None or b is None or a == b


def _attach(session: Session, problem_id: int, group_id: int, key: str) -> None:
    try:
        with session.begin_nested():
            session.add(AnswerGroupText(group_id=group_id, problem_id=problem_id, digest=key))
    except IntegrityError:
        pass  # a concurrent refresh placed this text first; its choice stands


def group_of(session: Session, problem_id: int, text: str) -> AnswerGroup | None:
    return session.scalar(
        select(AnswerGroup)
        .join(AnswerGroupText, AnswerGroupText.group_id == AnswerGroup.id)
        .where(AnswerGroupText.problem_id == problem_id, AnswerGroupText.digest == digest(text))
    )


def group_answers(session: Session, group: AnswerGroup) -> list[Answer]:
    """The answers in a group (every answer whose normalised text maps to it)."""
    from sqlalchemy.orm import selectinload

    from store.models import Submission

    keys = set(session.scalars(select(AnswerGroupText.digest).where(AnswerGroupText.group_id == group.id)))
    texts = session.execute(select(Answer.id, Answer.text).where(Answer.problem_id == group.problem_id)).all()
    ids = [i for i, text in texts if digest(text) in keys]
    if not ids:
        return []
    return list(
        session.scalars(
            select(Answer)
            .where(Answer.id.in_(ids))
            .order_by(Answer.id)
            .options(
                selectinload(Answer.grade),
                selectinload(Answer.problem),
                selectinload(Answer.submission).selectinload(Submission.answers).selectinload(Answer.grade),
            )
        )
    )


def list_groups(session: Session, problem: Problem) -> list[dict]:
    """`[{"id", "answer", "interpreted", "size", "status", "score", "points", "feedback", "overridden"}]`,
    largest first. Refreshes the groups first, so new answers are placed."""
    refresh_groups(session, problem)
    mapping = dict(
        session.execute(
            select(AnswerGroupText.digest, AnswerGroupText.group_id).where(AnswerGroupText.problem_id == problem.id)
        ).all()
    )
    groups = {g.id: g for g in session.scalars(select(AnswerGroup).where(AnswerGroup.problem_id == problem.id))}
    members: dict[int, list[tuple | None]] = defaultdict(list)
    rows = session.execute(
        select(Answer.text, Grade.status, Grade.score, Grade.feedback, Grade.interpreted)
        .outerjoin(Grade, Grade.answer_id == Answer.id)
        .where(Answer.problem_id == problem.id)
    ).all()
    for text, *grade in rows:
        group_id = mapping.get(digest(text))
        if group_id is not None:
            members[group_id].append(tuple(grade) if grade[0] is not None else None)
    out = [_group_json(groups[gid], grades, problem.points) for gid, grades in members.items() if gid in groups]
    return sorted(out, key=lambda g: (-g["size"], g["answer"]))


def _group_json(group: AnswerGroup, grades: list[tuple | None], points: float) -> dict:
    """grades: (status, score, feedback, interpreted) of each member, None for one not graded yet."""
    common = Counter(g for g in grades if g is not None).most_common(1)
    status, score, feedback, interpreted = common[0][0] if common else ("pending", None, None, None)
    if status == "needs_review":
        score = None
    return {
        "id": group.id,
        "answer": group.answer,
        "interpreted": interpreted,
        "size": len(grades),
        "status": status,
        "score": score,
        "points": points,
        "feedback": feedback,
        "overridden": group.override_score is not None,
    }


def common_wrong_answers(session: Session, problem: Problem, limit: int = 3) -> list[dict]:
    """The most common answers graded below full marks (for the class picture)."""
    rows = [g for g in list_groups(session, problem) if g["status"] not in ("correct", "pending")]
    return rows[:limit]
