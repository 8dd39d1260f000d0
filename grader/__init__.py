"""Stepwise grading core: judge math answers, student steps and model outputs.

A pure library (sympy + mpmath only; no web, queue, database or ML imports).

Public API::

    check_answer(student, reference, policy=None) -> Result
    check_steps(lines, policy=None, *, given=None, timeout=None) -> StepsResult
    extract_final_answer(model_output) -> str | None
    read_key(text, policy=None) -> KeyReading
    suggest_policy(statement, policy) -> str | None
    warm_up() -> float
    Policy (from_dict / to_dict), PolicyError, Result, Status, StepFinding, StepStatus,
    StepsResult, KeyReading, GRADER_VERSION, GraderTimeout
    clear_cache(), cache_info()

How a check works
-----------------
0. ``text``: keys that are words, names, choices or yes/no are compared as text; base-n
   numbers, clock times and ratios have their own strategies; junk ("idk") is invalid.
1. ``parse``: plain text and LaTeX are normalised (unicode, mixed numbers, thousands
   separators, decimal commas, derivative prefixes, ...) and read by a tokenizer +
   recursive-descent parser into a tuple AST.  No user text reaches eval/sympify/parse_expr.
   ``units`` splits off the unit after a number; ``unitcheck`` converts it to the key's unit
   (``sympy.physics.units``) or says the dimension is wrong or the unit is missing.
2. ``build`` turns the AST into sympy objects through constructors, refusing work that would
   explode (huge powers, power towers, huge factorials, huge exact products, deep nesting).
3. ``answer`` classifies the answer (expression, equation, values/roots, tuple, interval or
   set of reals, inequality, named values, system, matrix).
4. ``compare`` dispatches on the reference's kind (``STRATEGIES``) to a named strategy, fast
   paths first: exact
   rationals, exact evaluation of rational functions at random rational points, mpmath
   evaluation at random points, and only then bounded symbolic work.  It diagnoses common
   mistakes and applies the policy's form requirements and tolerances.
5. ``core.check_answer`` runs all of that under a time limit (``limits``) and caches verdicts
   in a bounded LRU keyed on the normalised texts and the policy; a verdict that any time
   limit cut short is not cached.  Only math/parse errors become "invalid": exceptions used to
   stop work (Celery's SoftTimeLimitExceeded) propagate.
"""

from .core import cache_info, check_answer, clear_cache, warm_up
from .extract import extract_final_answer
from .keys import read_key, suggest_policy
from .limits import GraderTimeout
from .model import KeyReading, Policy, PolicyError, Result, Status, StepFinding, StepsResult, StepStatus
from .steps import check_steps

GRADER_VERSION = "1.1.0"

__all__ = [
    "GRADER_VERSION",
    "Policy",
    "PolicyError",
    "Result",
    "Status",
    "StepFinding",
    "StepStatus",
    "StepsResult",
    "KeyReading",
    "GraderTimeout",
    "check_answer",
    "check_steps",
    "extract_final_answer",
    "read_key",
    "suggest_policy",
    "warm_up",
    "clear_cache",
    "cache_info",
]
