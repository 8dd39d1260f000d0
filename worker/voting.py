"""Self-consistency: extract each sample's final answer and take the majority. Torch-free.

Answers are grouped by the grader's equivalence (sympy), so "1/2", "0.5" and "\\frac{1}{2}" vote
together. A sample without an answer counts in k but never wins.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("stepwise.reasoning")

END_THINK = "</think>"


@dataclass
class VoteResult:
    answer: str | None  # representative of the majority group; None when no sample answered
    agreement: float  # size of the majority group / k (0.0 when nothing answered)
    groups: list[list[int]] = field(default_factory=list)  # sample indices per group, largest first
    winner: int | None = None  # index into groups of the majority group

    @property
    def members(self) -> list[int]:
        return self.groups[self.winner] if self.winner is not None else []


def _normalise(answer: str) -> str:
    text = answer.strip().strip("$").strip()
    text = re.sub(r"\\(?:displaystyle|left|right|,|!|;|\s)", "", text)
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", text)
    return re.sub(r"\s+", "", text).rstrip(".")


def grader_equivalent(a: str, b: str) -> bool:
    """Equivalence as the grader sees it (sympy); plain normalised text when the grader is absent."""
    if _normalise(a) == _normalise(b):
        return True
    try:
        from grader import check_answer
    except ImportError:  # the grader is not importable here: a small, safe sympy comparison
        return _sympy_equal(a, b)
    try:
        return bool(check_answer(a, b).correct) or bool(check_answer(b, a).correct)
    except Exception:  # a grader failure must not lose the whole vote
        log.warning("reasoning.vote_compare_failed", exc_info=True)
        return False


_SAFE_EXPR = re.compile(r"^(?:sqrt|pi|[0-9.+\-*/() ]|(?<![A-Za-z])[A-Za-z](?![A-Za-z]))+$")


def _to_plain(answer: str) -> str | None:
    text = _normalise(answer)
    for _ in range(4):  # nested \frac / \sqrt
        text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", text)
        text = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", text)
    text = text.replace("\\pi", "pi").replace("\\cdot", "*").replace("\\times", "*").replace("^", "**")
    text = text.replace("{", "(").replace("}", ")")
    return text if text and _SAFE_EXPR.match(text.replace("**", "*")) else None


def _sympy_equal(a: str, b: str) -> bool:
    """Fallback equivalence: only plain arithmetic (digits, one-letter symbols, sqrt, pi) is parsed."""
    left, right = _to_plain(a), _to_plain(b)
    if left is None or right is None:
        return False
    try:
        import sympy
        from sympy.parsing.sympy_parser import parse_expr

        return sympy.simplify(parse_expr(left, evaluate=True) - parse_expr(right, evaluate=True)) == 0
    except Exception:
        return False


def vote(answers: list[str | None], equivalent: Callable[[str, str], bool] | None = None) -> VoteResult:
    """Group `answers` by `equivalent` (grader equivalence by default) and return the majority.

    agreement = size of the majority group / len(answers); ties go to the group seen first.
    """
    equivalent = equivalent or grader_equivalent
    k = len(answers)
    groups: list[list[int]] = []
    for index, answer in enumerate(answers):
        if answer is None or not answer.strip():
            continue
        for group in groups:
            if equivalent(answer, answers[group[0]]):
                group.append(index)
                break
        else:
            groups.append([index])
    if not groups:
        return VoteResult(answer=None, agreement=0.0, groups=[], winner=None)
    # Stable sort: the largest group first, ties keep first-seen order.
    groups.sort(key=len, reverse=True)
    best = groups[0]
    return VoteResult(answer=answers[best[0]], agreement=len(best) / k, groups=groups, winner=0)


def _last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...} in `text`, braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        rest = text[start + len("\\boxed"):]
        match = re.match(r"\s+([^\s$]+)", rest)  # "\boxed 5"
        return match.group(1) if match else None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                content = text[i + 1:j].strip()
                return content or None
    return None  # unbalanced: the answer was cut off


def fallback_extract(text: str) -> str | None:
    """Used only when the grader package is absent: the last boxed answer after </think>."""
    if END_THINK in text:
        text = text.rsplit(END_THINK, 1)[1]
    return _last_boxed(text)


def extract_answer(text: str) -> str | None:
    """The final answer of an R1 output: grader.extract_final_answer, and when it finds nothing,
    the last complete \\boxed{} after </think> (what budget forcing asks the model to write)."""
    try:
        from grader import extract_final_answer
    except ImportError:
        return fallback_extract(text)
    answer = extract_final_answer(text)
    if answer is not None and str(answer).strip():
        return str(answer).strip()
    if END_THINK in text:
        return fallback_extract(text)
    return None


__all__ = ["VoteResult", "extract_answer", "fallback_extract", "grader_equivalent", "vote"]
