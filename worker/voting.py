"""Self-consistency: take each sample's final answer the way the grader does, then the majority.

Rules (issue 10):
- the final answer is `grader.extract_final_answer` (the final-answer marker wins over stray
  boxes, a cut-off box gives None);
- a sample whose answer was cut off (an unclosed \\boxed{ after the thinking, or a budget-forced
  continuation that ran out of tokens) counts as no answer;
- only answers the grader can parse may win; the rest count in k like a missing answer.

Answers are grouped by the grader's equivalence, so "1/2", "0.5" and "\\frac{1}{2}" vote together.
Torch-free.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded

from grader import check_answer, extract_final_answer, read_key

log = logging.getLogger("stepwise.reasoning")

END_THINK = "</think>"
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


@dataclass
class VoteResult:
    answer: str | None  # representative of the majority group; None when no sample answered
    agreement: float  # size of the majority group / k (0.0 when nothing answered)
    groups: list[list[int]] = field(default_factory=list)  # sample indices per group, largest first
    winner: int | None = None  # index into groups of the majority group
    rejected: list[int] = field(default_factory=list)  # samples whose answer the grader cannot parse

    @property
    def members(self) -> list[int]:
        return self.groups[self.winner] if self.winner is not None else []


def has_cut_off_box(text: str) -> bool:
    """True when the final part (after the last </think>) opens a \\boxed{ that never closes."""
    final = text.rsplit(END_THINK, 1)[-1]
    for match in _BOX.finditer(final):
        depth, i = 0, match.end() - 1
        while i < len(final):
            char = final[i]
            if char == "\\":
                i += 2
                continue
            depth += (char == "{") - (char == "}")
            if depth == 0:
                break
            i += 1
        if depth:
            return True
    return False


def extract_answer(text: str, *, truncated: bool = False, thinking: bool = True) -> str | None:
    """The final answer of one sample, or None: grader extraction; cut-offs are no answer.

    `truncated` says the generation ran out of tokens: then only a closed \\boxed{} after the
    thinking is trusted (a marker answer such as "The answer is 1" may have been cut from "1/2").
    A plain model (`thinking=False`) has no thinking part: its whole text is the final part.
    """
    if not text or has_cut_off_box(text):
        return None
    if truncated and ((thinking and END_THINK not in text) or not _BOX.search(text.rsplit(END_THINK, 1)[-1])):
        return None
    answer = extract_final_answer(text)
    return answer.strip() if answer and answer.strip() else None


def parseable(answer: str) -> bool:
    """Whether the grader can read `answer` as an answer key (an unreadable answer can never win the
    vote: the winner becomes the key students are graded against)."""
    try:
        return bool(read_key(answer).ok)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # a grader bug on this answer makes it ineligible, not the whole vote fail
        log.warning("reasoning.vote_parse_failed", exc_info=True)
        return False


def grader_equivalent(a: str, b: str) -> bool:
    """Equivalence as the grader sees it (either direction, so form requirements cannot split a group)."""
    if a.strip() == b.strip():
        return True
    try:
        return bool(check_answer(a, b).correct) or bool(check_answer(b, a).correct)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # a grader failure must not lose the whole vote
        log.warning("reasoning.vote_compare_failed", exc_info=True)
        return False


def vote(
    answers: list[str | None],
    equivalent: Callable[[str, str], bool] | None = None,
    can_parse: Callable[[str], bool] | None = None,
) -> VoteResult:
    """Group the parseable `answers` by `equivalent` (grader equivalence by default); the largest wins.

    agreement = size of the majority group / len(answers); None, blank and unparseable answers
    count in len(answers) but join no group; ties go to the group seen first.
    """
    equivalent = equivalent or grader_equivalent
    can_parse = can_parse or parseable
    k = len(answers)
    groups: list[list[int]] = []
    rejected: list[int] = []
    for index, answer in enumerate(answers):
        if answer is None or not answer.strip():
            continue
        if not can_parse(answer):
            rejected.append(index)
            continue
        for group in groups:
            if equivalent(answer, answers[group[0]]):
                group.append(index)
                break
        else:
            groups.append([index])
    if not groups:
        return VoteResult(answer=None, agreement=0.0, groups=[], winner=None, rejected=rejected)
    groups.sort(key=len, reverse=True)  # stable: ties keep first-seen order
    best = groups[0]
    return VoteResult(answer=answers[best[0]], agreement=len(best) / k, groups=groups, winner=0, rejected=rejected)


__all__ = ["VoteResult", "extract_answer", "grader_equivalent", "has_cut_off_box", "parseable", "vote"]
