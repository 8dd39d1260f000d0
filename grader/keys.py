"""Checking a teacher's answer key when it is entered: read_key and suggest_policy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .answer import read_answer
from .latex import ast_latex
from .limits import GraderTimeout, is_check_error, time_limit
from .model import KeyReading, Policy
from .parse import ParseError
from .text import check_base, check_clock_or_ratio, text_key
from .unitcheck import unit_of

__all__ = ["read_key", "suggest_policy"]


def read_key(text: str, policy: Policy | Mapping[str, Any] | None = None) -> KeyReading:
    """Read an answer key the way students' answers will be compared with it.

    ``ok`` is False with a message a teacher can act on when the key cannot be read;
    ``interpreted`` is the LaTeX of the reading ("we read your key as ...").
    """
    pol = Policy.coerce(policy)
    if not isinstance(text, str) or not text.strip():
        return KeyReading(False, "", "The answer key is empty.")
    if len(text) > pol.max_length:
        return KeyReading(False, "", "The answer key is too long (more than %d characters)." % pol.max_length)
    special = _not_algebra(text)
    if special is not None:
        return KeyReading(True, special, None)
    try:
        with time_limit(pol.timeout):
            ans = read_answer(text, pol.max_length)
            interpreted = ast_latex(ans.ast)
            unit = unit_of(text)
            if unit is not None and unit.kind != "label":
                interpreted += ("" if unit.latex.startswith("^") else "\\,") + unit.latex
    except ParseError as e:
        msg = e.message.replace("your answer", "the key").replace("Your answer", "The key")
        return KeyReading(False, "", "We could not read this answer key. %s" % msg)
    except GraderTimeout:
        return KeyReading(False, "", "This answer key takes too long to read: write it in a simpler form.")
    except Exception as e:
        if not is_check_error(e):
            raise
        return KeyReading(False, "", "We could not read this answer key.")
    note = ans.extra.get("note") if isinstance(ans.extra, dict) else None
    return KeyReading(True, interpreted, note)


def _not_algebra(text: str) -> str | None:
    """LaTeX of a key read as words, a choice, a base-n number, a time or a ratio, else None."""
    key = text_key(text)
    if key is not None:
        if key.kind == "choice":
            return "\\text{(%s)}" % key.value
        return "\\text{%s}" % re.sub(r"[{}\\$]", "", key.shown or key.value)
    for check in (lambda t: check_base(t, t), lambda t: check_clock_or_ratio(t, t, _DEFAULT)):
        got = check(text)
        if got is not None:
            return got[1]
    return None


_DEFAULT = Policy()
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_N = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_DP = re.compile(r"\b" + _N + r"\s*(?:decimal\s+places?|d\.?\s?p\.?(?![a-z]))", re.I)
_SF = re.compile(r"\b" + _N + r"\s*(?:significant\s+(?:figures?|digits?)|s\.?\s?f\.?(?![a-z]))", re.I)
_NEAREST = re.compile(r"\bnearest\s+(whole\s+number|integer|tenth|hundredth|thousandth)", re.I)
_NEAREST_DP = {"whole number": 0, "integer": 0, "tenth": 1, "hundredth": 2, "thousandth": 3}
_ASKS = [
    ("simplified", "simplify", re.compile(r"\b(?:simplif(?:y|ied|ies)|lowest\s+terms|simplest\s+form)\b", re.I)),
    (
        "factored",
        "factor",
        re.compile(
            r"\b(?:factori[sz](?:e|ed|ing)|factor\s+(?:completely|fully|each|this|the\s+"
            r"(?:expression|polynomial|quadratic|following))|^\s*factor\b)",
            re.I,
        ),
    ),
    ("expanded", "expand", re.compile(r"\b(?:expand|multiply\s+out)\b", re.I)),
    ("exact", "give an exact value", re.compile(r"\b(?:exact\s+(?:value|answer|form)|in\s+surd\s+form)\b", re.I)),
]


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def suggest_policy(statement: str, policy: Policy | Mapping[str, Any] | None = None) -> str | None:
    """A suggestion when the problem statement asks for a form or a rounding that the policy
    does not require, e.g. "This problem asks to factor: set the `factored` requirement?"."""
    if not isinstance(statement, str) or not statement.strip():
        return None
    pol = Policy.coerce(policy)
    text = statement[:5000]
    tips = []
    for req, verb, pattern in _ASKS:
        if req not in pol.require and pattern.search(text):
            tips.append("This problem asks to %s: set the `%s` requirement?" % (verb, req))
    m = _DP.search(text)
    nearest = _NEAREST.search(text)
    if m and pol.dp is None:
        n = _count(m.group(1))
        tips.append("This problem asks to round to %d decimal place%s: set `dp` to %d?" % (n, "" if n == 1 else "s", n))
    elif nearest and pol.dp is None:
        n = _NEAREST_DP[re.sub(r"\s+", " ", nearest.group(1).lower())]
        tips.append("This problem asks to round to the nearest %s: set `dp` to %d?" % (nearest.group(1).lower(), n))
    m = _SF.search(text)
    if m and pol.sigfigs is None:
        n = _count(m.group(1))
        tips.append(
            "This problem asks for %d significant figure%s: set `sigfigs` to %d?" % (n, "" if n == 1 else "s", n)
        )
    return " ".join(tips) or None
