"""Stepwise grading core: judge math answers, student steps and model outputs.

A pure library (sympy + mpmath only).  Public API::

    check_answer(student, reference, policy=None) -> Result
    check_steps(lines, policy=None) -> StepsResult
    extract_final_answer(model_output) -> str | None
"""
from .core import cache_info, check_answer, clear_cache
from .extract import extract_final_answer
from .limits import GraderTimeout
from .model import Policy, Result, StepFinding, StepsResult
from .steps import check_steps

GRADER_VERSION = "1.0.0"

__all__ = [
    "GRADER_VERSION", "Policy", "Result", "StepFinding", "StepsResult", "GraderTimeout",
    "check_answer", "check_steps", "extract_final_answer", "clear_cache", "cache_info",
]
