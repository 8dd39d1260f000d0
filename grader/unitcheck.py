"""Comparing answers with units: convert to the key's unit, refuse a wrong dimension, and
ask for the unit when the policy requires it."""

from __future__ import annotations

import dataclasses
import re

import sympy

from .answer import Answer
from .compare import Verdict, _no
from .model import Policy, Status
from .parse import ParseError, normalize_parts
from .units import Unit, read_unit

__all__ = ["unit_of", "apply_units", "missing_unit", "compound_quantity"]


def unit_of(text: str) -> Unit | None:
    try:
        return read_unit(normalize_parts(text)[1])
    except (ParseError, ValueError):
        return None


_PAIR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\.?\s*(?:and\s+|,\s*)?")


def compound_quantity(text: str, r_unit: Unit | None) -> tuple[str, Unit] | None:
    """ "1 h 30 min", "2 m 50 cm": (total in the key's unit as text, that unit), else None."""
    if r_unit is None or r_unit.kind != "physical" or r_unit.scale is None or len(text) > 120:
        return None
    pos, total, pairs = 0, sympy.Integer(0), 0
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if not m or m.end() == pos:
            return None
        u = read_unit(m.group(2))
        if u is None or u.kind != "physical" or u.dims != r_unit.dims or u.scale is None:
            return None
        total += sympy.Rational(m.group(1)) * u.scale / r_unit.scale
        pos, pairs = m.end(), pairs + 1
    if pairs < 2 or not total.is_Rational:
        return None
    return ("%d" % total.p if total.q == 1 else "(%d/%d)" % (total.p, total.q)), r_unit


def _scaled(ans: Answer, factor) -> Answer:
    if factor == 1:
        return ans
    if ans.kind == "expr":
        return dataclasses.replace(ans, value=ans.value * factor)
    if ans.kind == "values":
        return dataclasses.replace(ans, value=[v * factor for v in ans.value])
    return ans


def apply_units(ans: Answer, s_unit: Unit | None, r_unit: Unit | None, pol: Policy) -> tuple[Verdict | None, Answer]:
    """(a verdict when the unit alone decides, else None; the answer in the key's unit)."""
    if pol.units == "ignore" or r_unit is None or r_unit.kind == "label":
        return None, ans
    if s_unit is None or s_unit.kind == "label":
        return None, ans
    if r_unit.kind == "temperature" or s_unit.kind == "temperature":
        if s_unit.kind != r_unit.kind or s_unit.name != r_unit.name:
            return _wrong_unit(s_unit, r_unit), ans
        return None, ans
    if s_unit.dims != r_unit.dims or s_unit.scale is None or r_unit.scale is None:
        return _wrong_unit(s_unit, r_unit), ans
    factor = s_unit.scale / r_unit.scale  # exact: rationals, or pi/180 for degrees
    return None, _scaled(ans, factor)


def _wrong_unit(s_unit: Unit, r_unit: Unit) -> Verdict:
    if r_unit.kind == "physical" and s_unit.kind == "physical":
        msg = "Check your units: %s is not a unit of %s." % (s_unit.text, r_unit.describe().split(" ", 1)[-1])
    else:
        msg = "Check your units: %s is not the unit this question asks for." % s_unit.text
    return _no("wrong-unit", msg.replace("deg ", "\u00b0"), 0.0, {"unit": s_unit.text})


def missing_unit(v: Verdict, s_unit: Unit | None, r_unit: Unit | None, pol: Policy) -> Verdict:
    """A right number without the key's unit: partial credit when units are required."""
    if pol.units != "required" or r_unit is None or r_unit.kind == "label" or r_unit.is_angle:
        return v
    if s_unit is not None and s_unit.kind != "label":
        return v
    if v.status != Status.correct:
        return v
    score = 0.5 if pol.partial_credit else 0.0
    return _no("missing-unit", "Your number is right: include the units.", score, dict(v.details, unit="missing"))
