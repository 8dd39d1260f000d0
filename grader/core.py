"""check_answer: read both answers, compare, diagnose, with a time limit and a cache."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import OrderedDict

from .answer import Answer, read_answer
from .build import BARE_LOG_BASE10, has_bare_log
from .compare import Verdict, compare
from .latex import ast_latex
from .limits import GraderTimeout, cut_short, is_check_error, time_limit, track_cuts
from .model import Policy, Result, Status
from .parse import BASE_N, ParseError, normalize_parts
from .text import check_base, check_clock_or_ratio, check_text, is_junk, number_word, text_key
from .unitcheck import apply_units, compound_quantity, missing_unit, unit_of
from .units import UNIT_WORDS

__all__ = ["check_answer", "clear_cache", "cache_info", "warm_up"]


class _LRU:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            v = self._d.get(key)
            if v is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return v

    def put(self, key, value):
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.maxsize:
                self._d.popitem(last=False)

    def clear(self):
        with self._lock:
            self._d.clear()
            self.hits = self.misses = 0

    def __len__(self):
        return len(self._d)


_results = _LRU(8192)
MAX_CACHED_TEXT = 2_000  # longer answers are rare; keep the cache's memory bounded
_ws = re.compile(r"\s+")


def clear_cache() -> None:
    """Forget cached verdicts (e.g. between benchmark passes)."""
    _results.clear()


def cache_info() -> dict:
    return {"size": len(_results), "hits": _results.hits, "misses": _results.misses, "maxsize": _results.maxsize}


def _key_text(s: str) -> str:
    """The normalised spelling of an answer ('½' and '1/2' share a cache entry)."""
    if ("_" in s and BASE_N.search(s)) or "\\text" in s or "\\math" in s:
        # 52_8 and 42, \text{ab} and ab read alike but are graded apart
        return _ws.sub(" ", s.strip())
    try:
        text, unit = normalize_parts(s)
        return text if unit is None else text + " \x00" + unit
    except (ParseError, ValueError, RecursionError):
        return _ws.sub(" ", s.strip())


def _copy(r: Result) -> Result:
    return dataclasses.replace(r, details=dict(r.details))


def _invalid(msg: str, diag: str = "unreadable", interpreted: str = "", **details) -> Result:
    return Result(False, 0.0, Status.invalid, msg, interpreted, diag, details)


def _read(text: str, pol: Policy) -> Answer:
    return read_answer(text, pol.max_length)


def _echo(interp: str) -> str:
    if not interp or len(interp) > 80:
        return ""
    return "We read your answer as $%s$. " % interp


def _result(v: Verdict, interp: str, **details) -> Result:
    d = dict(v.details)
    d.update(details)
    return Result(
        v.status == Status.correct,
        round(float(v.score), 4),
        Status(v.status),
        _echo(interp) + v.feedback,
        interp,
        v.diagnosis,
        d,
    )


def _not_algebra(student: str, reference: str, pol: Policy) -> Result | None:
    """Keys that are words, choices, yes/no, base-n numbers, times or ratios."""
    key = text_key(reference)
    if key is not None:
        if not student.strip():
            return _invalid("The answer is empty.", reason="empty")
        v, shown = check_text(key, student)
        return _result(v, shown, kind="text", reference_kind=key.kind)
    for strategy in (check_base, lambda s, r: check_clock_or_ratio(s, r, pol)):
        got = strategy(student, reference)
        if got is not None:
            return _result(got[0], got[1], kind="text", reference_kind="notation")
    return None


def _check(student: str, reference: str, pol: Policy) -> Result:
    special = _not_algebra(student, reference, pol)
    if special is not None:
        return special
    try:
        ref = _read(reference, pol)
    except ParseError as e:
        return _invalid(
            "The reference answer could not be read (%s) - please tell your teacher." % e.message.rstrip("."),
            "bad-reference",
            error="reference",
            reason=e.code,
        )
    letters = {c for x in _symbols(ref) for c in str(x)}
    words = number_word(student)
    if words is not None:
        student = words
    elif is_junk(student, letters):
        return _invalid(
            "We could not understand your answer: write a number, an expression or the word the question asks for.",
            reason="not-an-answer",
        )
    try:
        ans = _read(student, pol)
    except ParseError as e:
        diag = {"too-long": "too-long", "too-big": "too-big", "too-deep": "too-big", "undefined": "undefined"}.get(
            e.code, "unreadable"
        )
        return _invalid(
            e.message + ("" if diag != "unreadable" else " Check your typing and try again."), diag, reason=e.code
        )
    r_unit = unit_of(reference)
    compound = compound_quantity(student, r_unit)
    if compound is not None:
        # "1 h 30 min" against "90 min": the total, written in the key's unit
        student = compound[0] + " " + r_unit.text if r_unit is not None else student
        ans = _read(student, pol)
    glued = _GLUED_UNIT.match(student) if r_unit is not None and r_unit.kind == "physical" else None
    if glued and glued.group(2) in UNIT_WORDS:
        # "5m" where the key is "5 m": the letter is the key's kind of unit, not a variable
        student = glued.group(1) + " " + glued.group(2)
        ans = _read(student, pol)
    notes = []
    comma = _decimal_comma(student, ans, ref, pol)
    if comma is not None:
        ans = comma
        notes.append("decimal comma")
    interp = ast_latex(ans.ast)
    s_unit = unit_of(student)
    if s_unit is not None and s_unit.kind != "label":
        interp = interp + ("" if s_unit.latex.startswith("^") else "\\,") + s_unit.latex
    unit_verdict, ans = apply_units(ans, s_unit, r_unit, pol)
    if unit_verdict is not None:
        return _result(unit_verdict, interp, kind=ans.kind, reference_kind=ref.kind)
    v = compare(ans, ref, pol)
    if not v.correct and (has_bare_log(ans.ast) or has_bare_log(ref.ast)):
        # "log" without a base: in school it is often base 10.  Accept that reading too.
        token = BARE_LOG_BASE10.set(True)
        try:
            v10 = compare(apply_units(_reread(student, ans, pol), s_unit, r_unit, pol)[1], _read(reference, pol), pol)
        except ParseError:
            v10 = None
        finally:
            BARE_LOG_BASE10.reset(token)
        if v10 is not None and v10.correct:
            v = v10
            v.details["note"] = "log read as base 10"
    v = missing_unit(v, s_unit, r_unit, pol)
    if notes:
        v.details["note"] = ", ".join(notes)
    return _result(v, interp, kind=ans.kind, reference_kind=ref.kind)


def _reread(student: str, ans: Answer, pol: Policy) -> Answer:
    return _read(ans.extra.get("reread", student), pol)


def _symbols(ans: Answer) -> set:
    v = ans.value
    items = list(v.values()) if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
    out: set = set()
    for x in items:
        out |= getattr(x, "free_symbols", set())
    return out


_GLUED_UNIT = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?)([A-Za-z]{1,3})\s*$")
_COMMA_DECIMAL = re.compile(r"^(\s*[-+]?\d+),(\d+)(?=\s*(?:[^\d\s,.].*)?$)")


def _decimal_comma(student: str, ans: Answer, ref: Answer, pol: Policy) -> Answer | None:
    """ "0,5" against a single-valued key is the decimal 0.5 (a list stays a list where the key
    is a list; "1,000" and "12,500" were read as thousands already)."""
    single = ref.kind == "expr" or (ref.kind == "values" and len(ref.value) == 1)
    if not single or ans.kind not in ("values", "tuple") or len(ans.value) != 2:
        return None
    text = _COMMA_DECIMAL.sub(r"\1.\2", student, count=1)
    if text == student:
        return None
    try:
        out = _read(text, pol)
    except ParseError:
        return None
    out.extra["reread"] = text
    return out


def check_answer(student: str, reference: str, policy: Policy | dict | None = None) -> Result:
    """Grade a student's answer against the reference answer.

    Never raises for any student input: unreadable input gives status "invalid",
    running out of time gives status "timeout".  A malformed *policy* raises ValueError.
    """
    pol = Policy.coerce(policy)
    if not isinstance(student, str):
        return _invalid("The answer must be text.", reason="bad-type")
    if not isinstance(reference, str):
        raise TypeError("reference must be a string")
    if len(reference) > pol.max_length:
        return _invalid(
            "The reference answer is too long to check.", "bad-reference", error="reference", reason="too-long"
        )
    if len(student) > pol.max_length:
        return _invalid(
            "That answer is too long to check (more than %d characters)." % pol.max_length,
            "too-long",
            reason="too-long",
        )
    cacheable = len(student) + len(reference) <= MAX_CACHED_TEXT
    raw_key = ("raw", student, reference, pol)
    hit = _results.get(raw_key) if cacheable else None
    key = None
    if hit is None and cacheable:
        key = (_key_text(student), _key_text(reference), pol)
        hit = _results.get(key)
        if hit is not None:
            _results.put(raw_key, hit)
    if hit is not None:
        r = _copy(hit)
        r.details["cached"] = True
        return r
    t0 = time.perf_counter()
    cut = False
    try:
        with track_cuts():
            with time_limit(pol.timeout):
                result = _check(student, reference, pol)
            cut = cut_short()
    except GraderTimeout:
        result = Result(
            False,
            0.0,
            Status.timeout,
            "Checking this answer took too long; please write it in a simpler form.",
            "",
            "timeout",
            {"limit_s": pol.timeout},
        )
        result.details["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return result
    except RecursionError:
        result = _invalid("That answer is nested too deeply to check.", "too-big", reason="too-deep")
    except (MemoryError, OverflowError):
        result = _invalid("That answer is too large to check.", "too-big", reason="too-big")
    except Exception as e:
        if not is_check_error(e):
            raise  # e.g. Celery's SoftTimeLimitExceeded: stop, do not grade
        result = _invalid(
            "We could not check this answer. Check your typing and try again.",
            "unreadable",
            reason="internal",
            error_type=type(e).__name__,
        )
    result.details["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    if cut:
        # an inner time budget decided part of this verdict: it may differ on an idle machine
        result.details["cut_short"] = True
    elif cacheable:
        stored = _copy(result)
        _results.put(key, stored)
        _results.put(raw_key, stored)
    return result


# Inputs that make sympy build its lazily-initialised machinery (solveset's inequality
# solvers, simplify's rule tables, polys, units) so the first real check in a fresh process
# does not pay for it and gets the same verdict as later ones.
_WARM_UP = [
    ("x^2 < 4", "-2 < x < 2"),
    ("x^2 - 5x + 6 = 0", "x = 2 or x = 3"),
    ("2x + 1 > 3", "x > 1"),
    ("\\sin^2 x + \\cos^2 x", "1"),
    ("(x+1)^2", "x^2 + 2x + 1"),
    ("y = e^x", "\\ln y = x"),
    ("\\sqrt{8}", "2\\sqrt{2}"),
    ("3.14", "\\pi"),
    ("x > 2", "(2, \\infty)"),
    ("\\log_2 8", "3"),
    ("(x-1)(x+1)", "x^2 - 1"),
    ("250 cm", "2.5 m"),
    ("90\u00b0", "90^\\circ"),
    ("2-3i", "2+3i"),
    ("[1, 3]", "(1, 3)"),
    ("\\sqrt{x^2}", "x"),
    ("2\\frac{1}{2}", "\\frac{5}{2}"),
]


def warm_up() -> float:
    """Warm sympy up (call once at worker start); returns the seconds it took.

    The verdicts of the warm-up checks are not kept in the result cache.
    """
    from .steps import check_steps

    t0 = time.perf_counter()
    unit_of("1 m")
    for student, reference in _WARM_UP:
        check_answer(student, reference, Policy(timeout=30.0))
    check_answer("x^2+3x+2", "(x+1)(x+2)", Policy(require=frozenset({"factored"}), timeout=30.0))
    check_answer("2/4", "1/2", Policy(require=frozenset({"simplified"}), timeout=30.0))
    check_steps(["-2x > 6", "x < -3"], Policy(timeout=30.0))
    check_steps(["x^2 = 9", "x = 3"], Policy(timeout=30.0))
    clear_cache()
    return time.perf_counter() - t0
