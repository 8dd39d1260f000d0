"""Public data types: Policy, Result, StepFinding, StepsResult."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

__all__ = ["Policy", "Result", "StepFinding", "StepsResult", "STATUSES", "DIAGNOSES"]

STATUSES = ("correct", "partial", "incorrect", "invalid", "timeout")
DIAGNOSES = (
    "equivalent", "sign-error", "off-by-factor", "off-by-constant", "reciprocal", "unsimplified",
    "rounded", "missing-solution", "extra-solution", "wrong-form", "not-factored",
    "not-expanded", "not-exact", "wrong-order", "wrong-endpoints", "flipped-inequality",
    "wrong-variable", "wrong-size", "wrong-value", "unreadable", "too-long", "too-big",
    "undefined", "timeout", "bad-reference", "sig-figs",
)
_REQUIRES = {"simplified", "factored", "expanded", "exact"}
_MODES = {"equivalent", "numeric"}


@dataclass(frozen=True)
class Policy:
    """How strictly to compare.  Frozen and hashable, so it is part of the cache key.

    mode: "equivalent" (mathematical equality, default) or "numeric" (within a tolerance).
    rel_tol / abs_tol / sigfigs: numeric tolerance; setting one also lets decimals that
        approximate an exact reference count in "equivalent" mode.
    require: forms the answer must have: "simplified", "factored", "expanded", "exact".
    ordered: lists of values must be in the reference order.
    partial_credit: give partial scores (otherwise scores are 0 or 1).
    timeout: seconds per check.  max_length: characters per answer.
    """

    mode: str = "equivalent"
    rel_tol: float | None = None
    abs_tol: float | None = None
    sigfigs: int | None = None
    require: frozenset = frozenset()
    ordered: bool = False
    partial_credit: bool = True
    timeout: float = 2.0
    max_length: int = 10_000

    def __post_init__(self):
        req = self.require
        if isinstance(req, str):
            req = frozenset([req])
        elif not isinstance(req, frozenset):
            req = frozenset(req or ())
        object.__setattr__(self, "require", req)
        bad = req - _REQUIRES
        if bad:
            raise ValueError("unknown requirement(s): %s (allowed: %s)"
                             % (", ".join(sorted(map(str, bad))), ", ".join(sorted(_REQUIRES))))
        if self.mode not in _MODES:
            raise ValueError("mode must be 'equivalent' or 'numeric', not %r" % (self.mode,))
        for name in ("rel_tol", "abs_tol"):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                    raise ValueError("%s must be a non-negative number" % name)
                object.__setattr__(self, name, float(v))
        if self.sigfigs is not None and (isinstance(self.sigfigs, bool) or not isinstance(self.sigfigs, int)
                                         or not 1 <= self.sigfigs <= 50):
            raise ValueError("sigfigs must be an integer from 1 to 50")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) \
                or not (0 < self.timeout <= 600):
            raise ValueError("timeout must be a number of seconds in (0, 600]")
        object.__setattr__(self, "timeout", float(self.timeout))
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int) \
                or not 1 <= self.max_length <= 1_000_000:
            raise ValueError("max_length must be an integer from 1 to 1000000")
        object.__setattr__(self, "ordered", bool(self.ordered))
        object.__setattr__(self, "partial_credit", bool(self.partial_credit))

    @property
    def has_tolerance(self) -> bool:
        return self.rel_tol is not None or self.abs_tol is not None or self.sigfigs is not None

    @classmethod
    def coerce(cls, value: "Policy | dict | str | None") -> "Policy":
        if value is None:
            return _DEFAULT
        if isinstance(value, Policy):
            return value
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise TypeError("policy must be a Policy, a dict or None")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - names
        if unknown:
            raise ValueError("unknown policy key(s): %s" % ", ".join(sorted(map(str, unknown))))
        return cls(**value)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["require"] = sorted(self.require)
        return d


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
    status: str
    feedback: str
    interpreted: str = ""
    diagnosis: str = ""
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"correct": self.correct, "score": self.score, "status": self.status,
                "feedback": self.feedback, "interpreted": self.interpreted,
                "diagnosis": self.diagnosis, "details": _jsonable(self.details)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass
class StepFinding:
    index: int
    line: str
    ok: bool
    status: str            # "correct" | "incorrect" | "invalid" | "timeout" | "start" | "unverified"
    feedback: str
    interpreted: str = ""
    diagnosis: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class StepsResult:
    steps: list
    first_error: int | None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.first_error is None

    def to_dict(self) -> dict:
        return {"first_error": self.first_error, "ok": self.ok,
                "steps": [s.to_dict() for s in self.steps], "details": _jsonable(self.details)}
