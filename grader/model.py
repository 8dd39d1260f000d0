"""Public data types: Policy, Result, StepFinding, StepsResult, Status, KeyReading."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Policy",
    "PolicyError",
    "Result",
    "StepFinding",
    "StepsResult",
    "Status",
    "StepStatus",
    "KeyReading",
    "STATUSES",
    "DIAGNOSES",
]


class Status(StrEnum):
    """Verdict of one answer.  A StrEnum: ``Status.correct == "correct"``."""

    correct = "correct"
    partial = "partial"
    incorrect = "incorrect"
    invalid = "invalid"
    timeout = "timeout"


class StepStatus(StrEnum):
    """Verdict of one line of working."""

    start = "start"
    correct = "correct"
    incorrect = "incorrect"
    invalid = "invalid"
    timeout = "timeout"
    unverified = "unverified"


STATUSES = tuple(s.value for s in Status)
DIAGNOSES = (
    "equivalent",
    "sign-error",
    "off-by-factor",
    "off-by-constant",
    "reciprocal",
    "unsimplified",
    "rounded",
    "missing-solution",
    "extra-solution",
    "wrong-form",
    "not-factored",
    "not-expanded",
    "not-exact",
    "wrong-order",
    "wrong-endpoints",
    "flipped-inequality",
    "wrong-variable",
    "wrong-size",
    "wrong-value",
    "unreadable",
    "too-long",
    "too-big",
    "undefined",
    "timeout",
    "bad-reference",
    "sig-figs",
    "wrong-unit",
    "missing-unit",
    "decimal-places",
    "added-fractions",
    "flipped-signs",
)
_REQUIRES = {"simplified", "factored", "expanded", "exact"}
_MODES = {"equivalent", "numeric"}
_UNITS = ("required", "optional", "ignore")
MAX_SIGFIGS = 15  # beyond a double's precision the request is a typo, not a teaching goal
MAX_DP = 15
MAX_TIMEOUT = 600.0
MAX_LENGTH_LIMIT = 1_000_000


class PolicyError(ValueError):
    """A policy value is not allowed.  ``field`` names the key, ``message`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__("%s: %s" % (field, message) if field else message)
        self.field = field
        self.message = message


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Policy:
    """How strictly to compare.  Frozen and hashable, so it is part of the cache key.

    mode: "equivalent" (mathematical equality, default) or "numeric" (within a tolerance).
    rel_tol / abs_tol / sigfigs / dp: numeric tolerance; setting one also lets decimals that
        approximate an exact reference count in "equivalent" mode.  ``dp`` asks for that many
        decimal places, ``sigfigs`` for that many significant figures.
    require: forms the answer must have: "simplified", "factored", "expanded", "exact".
    ordered: lists of values must be in the reference order.
    partial_credit: give partial scores (otherwise scores are 0 or 1).
    units: when the key has units: "required" (a bare number earns partial credit),
        "optional" (a bare number is fine, a wrong unit is not) or "ignore" (units are dropped).
    step_credit: method marks: a wrong answer earns credit for the valid steps of its working.
    timeout: seconds per check.  max_length: characters per answer.
    """

    mode: str = "equivalent"
    rel_tol: float | None = None
    abs_tol: float | None = None
    sigfigs: int | None = None
    dp: int | None = None
    require: frozenset = frozenset()
    ordered: bool = False
    partial_credit: bool = True
    units: str = "required"
    step_credit: bool = False
    timeout: float = 2.0
    max_length: int = 10_000

    def __post_init__(self):
        req = self.require
        if isinstance(req, str):
            req = frozenset([req])
        elif isinstance(req, (list, tuple, set, frozenset)):
            if not all(isinstance(x, str) for x in req):
                raise PolicyError("require", "must be a list of names")
            req = frozenset(req)
        elif req is None:
            req = frozenset()
        else:
            raise PolicyError("require", "must be a list of names")
        object.__setattr__(self, "require", req)
        bad = req - _REQUIRES
        if bad:
            raise PolicyError(
                "require",
                "unknown requirement(s): %s (allowed: %s)"
                % (", ".join(sorted(map(str, bad))), ", ".join(sorted(_REQUIRES))),
            )
        if self.mode not in _MODES:
            raise PolicyError("mode", "must be 'equivalent' or 'numeric', not %r" % (self.mode,))
        for name in ("rel_tol", "abs_tol"):
            v = getattr(self, name)
            if v is not None:
                if not _is_number(v) or not math.isfinite(v) or v < 0:
                    raise PolicyError(name, "must be a non-negative number")
                object.__setattr__(self, name, float(v))
        if self.sigfigs is not None and (not _is_int(self.sigfigs) or not 1 <= self.sigfigs <= MAX_SIGFIGS):
            raise PolicyError("sigfigs", "must be an integer from 1 to %d" % MAX_SIGFIGS)
        if self.dp is not None and (not _is_int(self.dp) or not 0 <= self.dp <= MAX_DP):
            raise PolicyError("dp", "must be an integer from 0 to %d" % MAX_DP)
        if self.units not in _UNITS:
            raise PolicyError("units", "must be one of %s, not %r" % (", ".join(_UNITS), self.units))
        if not _is_number(self.timeout) or not (0 < self.timeout <= MAX_TIMEOUT):
            raise PolicyError("timeout", "must be a number of seconds in (0, %d]" % MAX_TIMEOUT)
        object.__setattr__(self, "timeout", float(self.timeout))
        if not _is_int(self.max_length) or not 1 <= self.max_length <= MAX_LENGTH_LIMIT:
            raise PolicyError("max_length", "must be an integer from 1 to %d" % MAX_LENGTH_LIMIT)
        for name in ("ordered", "partial_credit", "step_credit"):
            if not isinstance(getattr(self, name), (bool, int)):
                raise PolicyError(name, "must be true or false")
            object.__setattr__(self, name, bool(getattr(self, name)))

    @property
    def has_tolerance(self) -> bool:
        return self.rel_tol is not None or self.abs_tol is not None or self.sigfigs is not None or self.dp is not None

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> Policy:
        """Build a policy from its JSON form; raises :class:`PolicyError` naming the bad field."""
        if mapping is None:
            return _DEFAULT
        if not isinstance(mapping, Mapping):
            raise PolicyError("", "a policy must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in mapping if k not in names)
        if unknown:
            raise PolicyError(unknown[0], "unknown policy key (allowed: %s)" % ", ".join(sorted(names)))
        try:
            return cls(**dict(mapping))
        except TypeError as e:  # e.g. an unhashable value
            raise PolicyError("", str(e)) from None

    @classmethod
    def coerce(cls, value: Policy | Mapping[str, Any] | str | None) -> Policy:
        if value is None:
            return _DEFAULT
        if isinstance(value, Policy):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise PolicyError("", "a policy must be valid JSON") from None
        if not isinstance(value, Mapping):
            raise TypeError("policy must be a Policy, a dict or None")
        return cls.from_dict(value)

    def to_dict(self) -> dict:
        """The JSON form (every field); ``Policy.from_dict(p.to_dict()) == p``."""
        d = dataclasses.asdict(self)
        d["require"] = sorted(self.require)
        return d


@dataclass(frozen=True)
class KeyReading:
    """How the grader reads a teacher's answer key (see :func:`grader.read_key`)."""

    ok: bool
    interpreted: str
    message: str | None = None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "interpreted": self.interpreted, "message": self.message}


_DEFAULT = Policy()


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(type(v).__name__)


@dataclass
class Result:
    correct: bool
    score: float
    status: Status
    feedback: str
    interpreted: str = ""
    diagnosis: str = ""
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "correct": self.correct,
            "score": self.score,
            "status": str(self.status),
            "feedback": self.feedback,
            "interpreted": self.interpreted,
            "diagnosis": self.diagnosis,
            "details": _jsonable(self.details),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass
class StepFinding:
    index: int
    line: str
    ok: bool
    status: StepStatus
    feedback: str
    interpreted: str = ""
    diagnosis: str = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["status"] = str(self.status)
        return d


@dataclass
class StepsResult:
    steps: list[StepFinding]
    first_error: int | None
    details: dict = field(default_factory=dict)
    score: float | None = None  # method marks (policy step_credit), else None

    @property
    def ok(self) -> bool:
        return self.first_error is None

    def to_dict(self) -> dict:
        return {
            "first_error": self.first_error,
            "ok": self.ok,
            "score": self.score,
            "steps": [s.to_dict() for s in self.steps],
            "details": _jsonable(self.details),
        }
