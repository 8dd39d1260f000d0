"""Answers that are not algebra: words and names, multiple choice, yes/no, numbers in another
base, clock times and ratios; and student text that is not an answer at all ("idk").

A key of words is compared as text (case, spacing and punctuation normalised), never as a
product of one-letter variables: "east" is not "seat".  Algebra stays algebra: a key is only
read as words when it is wrapped in ``\\text{...}`` or has a word that cannot be a product of
variables (four letters or more, or a capitalised name, and no function name inside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .compare import Verdict, _no, _ok
from .model import Policy, Status
from .parse import FUNCS, GREEK, special_phrase

__all__ = ["TextKey", "text_key", "check_text", "check_base", "check_clock_or_ratio", "is_junk", "number_word"]

MAX_TEXT = 200
_WRAP = re.compile(r"^\\(?:text|textrm|textbf|textit|textnormal|mathrm|mbox|mathbf|operatorname)\s*\{(.*)\}$", re.S)
_BOX = re.compile(r"^\\boxed\s*\{(.*)\}$", re.S)
_PREFIX = re.compile(r"^(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?|ans\s*[:=]|option|choice)\s+", re.I)
_WORD_CHARS = re.compile(r"^[^\W\d_]+(?:['\u2019-][^\W\d_]+)*$")
_CHOICE_KEY = re.compile(r"^\(\s*([A-Ja-j])\s*\)$|^([A-J])$")
_CHOICE_ANSWER = re.compile(r"^\(?\s*([A-Ja-j])\s*(?:\)|\.|:|$)")
_YES_NO = {"yes": "yes", "y": "yes", "no": "no", "n": "no", "true": "true", "t": "true", "false": "false", "f": "false"}
_MATH_WORDS = {
    "oo",
    "inf",
    "infty",
    "infinity",
    "pi",
    "or",
    "and",
    "in",
    "cup",
    "emptyset",
    "reals",
    "sqrt",
    "cbrt",
    "abs",
    "deg",
    "mod",
}
_ARTICLES = re.compile(r"^(?:the|a|an)\s+")
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
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
}


@dataclass(frozen=True)
class TextKey:
    kind: str  # "choice" | "yesno" | "words"
    value: str  # normalised, for comparing
    shown: str = ""  # as the teacher wrote it, for "we read your key as"


def _unwrap(raw: str) -> tuple[str, bool]:
    """Strip $...$, \\(...\\), \\boxed{...}, \\text{...}; True if a text wrapper was there."""
    s = raw.strip()
    wrapped = False
    for _ in range(4):
        before = s
        if len(s) >= 2 and s[0] == "$" and s[-1] == "$":
            s = s.strip("$").strip()
        if s.startswith("\\(") and s.endswith("\\)"):
            s = s[2:-2].strip()
        m = _BOX.match(s)
        if m:
            s = m.group(1).strip()
        m = _WRAP.match(s)
        if m and "{" not in m.group(1) and "}" not in m.group(1):
            s, wrapped = m.group(1).strip(), True
        if s == before:
            break
    s = _PREFIX.sub("", s)
    return s.rstrip(" .!;").strip(), wrapped


def _words(s: str) -> list[str] | None:
    ws = re.split(r"[\s,]+", s.strip())
    if not ws or not all(_WORD_CHARS.match(w) for w in ws):
        return None
    return ws


def _mathy(word: str) -> bool:
    """Could be read as maths: a function name, a Greek letter, or a product of at most two
    letters around a function name ("sinx", "xcosx")."""
    w = word.lower()
    if w in FUNCS or w in GREEK or w in _MATH_WORDS:
        return True
    for f in FUNCS:
        if len(f) > 1 and f in w and len(w) - len(f) <= 2:
            return True
    return False


def _wordy(word: str) -> bool:
    if _mathy(word) or not word.isascii() and not word.isalpha():
        return False
    if len(word) >= 4:
        return True
    return len(word) >= 3 and word[0].isupper() and word[1:].islower()


def _norm_words(s: str) -> str:
    t = re.sub(r"[.,;:!?\"()\[\]{}]", " ", s.casefold())
    t = re.sub(r"\s+", " ", t).strip()
    return _ARTICLES.sub("", t)


def text_key(raw: str) -> TextKey | None:
    """How a key that is words, a choice letter or yes/no reads; None for a mathematical key."""
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        return None
    s, wrapped = _unwrap(raw)
    if not s:
        return None
    m = _CHOICE_KEY.match(s)
    if m:  # "(b)" / "(B)" / "B": a bare letter only as a capital (a bare "x" is algebra)
        return TextKey("choice", (m.group(1) or m.group(2)).upper())
    ws = _words(s)
    if ws is None:
        return None
    if len(ws) == 1 and ws[0].lower() in ("yes", "no", "true", "false"):
        return TextKey("yesno", ws[0].lower())
    if special_phrase(s):
        return None
    if any(_wordy(w) for w in ws) or (wrapped and any(len(w) >= 2 and not _mathy(w) for w in ws)):
        return TextKey("words", _norm_words(s), re.sub(r"\s+", " ", s))
    return None


def check_text(key: TextKey, student: str) -> tuple[Verdict, str]:
    """(verdict, LaTeX of the reading) for a student's answer to a text key."""
    s, _ = _unwrap(student)
    shown = "\\text{%s}" % re.sub(r"[{}\\$]", "", s)[:80]
    if key.kind == "choice":
        m = _CHOICE_ANSWER.match(s)
        if not m:
            return _no("wrong-form", "Give the letter of your choice.", 0.0), shown
        shown = "\\text{(%s)}" % m.group(1).upper()
        if m.group(1).upper() == key.value:
            return _ok(), shown
        return _no("wrong-value", "That is not the right choice.", 0.0), shown
    if key.kind == "yesno":
        first = re.split(r"[\s,.;:!]+", s.strip().lower(), maxsplit=1)[0] if s.strip() else ""
        got = _YES_NO.get(first)
        if got is None:  # "It is true", "I think yes": the one yes/no word in the answer
            found = {_YES_NO[w] for w in re.findall(r"[a-z]+", s.lower()) if w in _YES_NO and len(w) > 1}
            got = found.pop() if len(found) == 1 else None
        if got == key.value:
            return _ok(), shown
        if got is None:
            return _no(
                "wrong-form", "Answer %s." % ("yes or no" if key.value in ("yes", "no") else "true or false"), 0.0
            ), shown
        return _no("wrong-value", "That is not correct: check your reasoning.", 0.0), shown
    if _norm_words(s) == key.value:
        return _ok(), shown
    return _no("wrong-value", "That is not the expected answer.", 0.0), shown


# ------------------------------------------------------------------ numbers in another base

_BASE = re.compile(r"^\s*\$?\s*(?:\\boxed\s*\{)?\s*([0-9A-Za-z]{1,40})\s*_\s*\{?\s*(\d{1,2})\s*\}?\s*\}?\s*\$?\s*$")
_PLAIN = re.compile(r"^\s*\$?\s*([0-9A-Za-z]{1,40})\s*\$?\s*$")


def _base_value(digits: str, base: int) -> int | None:
    if not 2 <= base <= 36:
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def check_base(student: str, reference: str) -> tuple[Verdict, str] | None:
    """A key written in base n ("52_8", "4210_{5}"); None when the key is not one."""
    m = _BASE.match(reference)
    if not m:
        return None
    rdigits, rbase = m.group(1).upper(), int(m.group(2))
    rval = _base_value(rdigits, rbase)
    if rval is None:
        return None
    ms = _BASE.match(student)
    if ms:
        sdigits, sbase = ms.group(1).upper(), int(ms.group(2))
        shown = "%s_{%d}" % (sdigits, sbase)
        sval = _base_value(sdigits, sbase)
        if sval is None:
            return Verdict(
                Status.invalid, 0.0, "unreadable", "%s is not a number in base %d." % (sdigits, sbase)
            ), shown
        if sval == rval and sbase == rbase:
            return _ok(), shown
        if sval == rval:
            return _no("wrong-form", "Right value, but write it in base %d." % rbase, 0.5), shown
        return _no("wrong-value", "That is not correct: check each digit.", 0.0), shown
    mp = _PLAIN.match(student)
    if not mp:
        return None
    sdigits = mp.group(1).upper()
    shown = sdigits
    if sdigits == rdigits:
        return _ok({"note": "base %d implied" % rbase}), shown
    if sdigits.isdigit() and int(sdigits) == rval:
        return _no("wrong-form", "Right value, but write it in base %d." % rbase, 0.5), shown
    return _no("wrong-value", "That is not correct: check each digit.", 0.0), shown


# ------------------------------------------------------------------ clock times and ratios

_NUM = r"(\d{1,6}(?:\.\d{1,6})?)"
_COLON = re.compile(
    r"^\s*\$?\s*" + _NUM + r"\s*:\s*" + _NUM + r"(?:\s*:\s*" + _NUM + r")?\s*"
    r"(am|pm|a\.m\.?|p\.m\.?)?\s*\$?\s*\.?\s*$",
    re.I,
)


def _clock(m) -> tuple[int, bool] | None:
    """Minutes after midnight (or after 12 when no am/pm) of "7:32" / "7:32 pm"."""
    h, mi, third, ampm = m.group(1), m.group(2), m.group(3), m.group(4)
    if third is not None or "." in h or "." in mi or len(mi) != 2:
        return None
    hh, mm = int(h), int(mi)
    if mm >= 60 or hh > 24 or (ampm and not 1 <= hh <= 12):
        return None
    if ampm:
        pm = ampm.lower().startswith("p")
        hh = (hh % 12) + (12 if pm else 0)
        return hh * 60 + mm, True
    return hh * 60 + mm, False


def check_clock_or_ratio(student: str, reference: str, pol: Policy) -> tuple[Verdict, str] | None:
    """A key that is a clock time ("12:00", "7:32 pm") or a ratio ("3:2", "1:2:3")."""
    mr = _COLON.match(reference)
    if not mr:
        return None
    ms = _COLON.match(student)
    shown = re.sub(r"\s+", "", ms.group(0)).strip("$.") if ms else "\\text{%s}" % re.sub(r"[{}\\$]", "", student)[:60]
    rclock = _clock(mr)
    if rclock is not None:
        if not ms:
            return _no("wrong-form", "Write the time as hours:minutes.", 0.0), shown
        sclock = _clock(ms)
        if sclock is None:
            return _no("wrong-form", "Write the time as hours:minutes.", 0.0), shown
        (a, a_ampm), (b, b_ampm) = sclock, rclock
        same = a == b if (a_ampm and b_ampm) else a % 720 == b % 720
        if same:
            return _ok(), shown
        return _no("wrong-value", "That is not the right time.", 0.0), shown
    from fractions import Fraction

    rparts = [Fraction(x) for x in mr.groups()[:3] if x is not None]
    if not ms:
        return _no("wrong-form", "Write your answer as a ratio, like a:b.", 0.0), shown
    sparts = [Fraction(x) for x in ms.groups()[:3] if x is not None]
    if len(sparts) != len(rparts):
        return _no(
            "wrong-size", "Your ratio has %d parts, but %d are expected." % (len(sparts), len(rparts)), 0.0
        ), shown
    if 0 in rparts or 0 in sparts:
        same = sparts == rparts
    else:
        k = sparts[0] / rparts[0]
        same = all(s == k * r for s, r in zip(sparts, rparts))
    if not same:
        return _no("wrong-value", "That is not the right ratio.", 0.0), shown
    if "simplified" in pol.require and sparts != rparts:
        return _no("unsimplified", "Your ratio is right, but simplify it.", 0.5 if pol.partial_credit else 0.0), shown
    return _ok(), shown


# ------------------------------------------------------------------ not an answer


def number_word(raw: str) -> str | None:
    """ "five" -> "5", "twenty one" -> "21"; None if the text is not a number in words."""
    t = raw.strip().lower().replace("-", " ")
    if not t or len(t) > 60:
        return None
    total, cur = 0, 0
    for w in t.split():
        if w == "and":
            continue
        v = _NUMBER_WORDS.get(w)
        if v is None:
            return None
        if v == 100:
            cur = max(cur, 1) * 100
        elif v == 1000:
            total += max(cur, 1) * 1000
            cur = 0
        else:
            cur += v
    return str(total + cur)


def is_junk(raw: str, reference_letters: set[str]) -> bool:
    """Words that are not an answer ("idk", "asdf", "no idea"): letters only, a word of three or
    more letters that is not maths, and letters the key does not use."""
    s, _ = _unwrap(raw)
    ws = _words(s)
    if not ws or special_phrase(s):
        return False
    long = [w for w in ws if len(w) >= 3 and not _mathy(w)]
    if not long:
        return False
    letters = {c for w in long for c in w}
    return not letters <= reference_letters
