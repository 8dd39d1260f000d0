"""Dashboard forms (Flask-WTF): any number of problems, each with a policy picker.

The picker's fields map one to one onto the grading policy's JSON (`policy_from_fields`), and
back (`fields_from_policy`) so a problem's policy can be edited later. The grader owns the rules
(ranges, allowed combinations): the form only shapes the dictionary, intake validates it.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional

try:  # WTForms 3.3 deprecates choices given as tuples
    from wtforms.fields.choices import SelectChoice as _choice
except ImportError:  # older WTForms

    def _choice(value, label):
        return (value, label)


REQUIREMENTS = ("exact", "simplified", "factored", "expanded")
UNITS = [
    _choice("", "not checked"),
    _choice("required", "required"),
    _choice("optional", "optional"),
    _choice("ignore", "ignored"),
]
TOLERANCE_KINDS = [_choice("rel", "% of the answer"), _choice("abs", "absolute")]
MAX_ROWS = 500


class PolicyForm(Form):
    """One problem's grading policy (a sub-form: the outer form carries the CSRF token)."""

    exact = BooleanField("Exact (no decimals)")
    simplified = BooleanField("Simplified")
    factored = BooleanField("Factored")
    expanded = BooleanField("Expanded")
    dp = IntegerField("Decimal places", validators=[Optional(), NumberRange(0, 15)])
    sigfigs = IntegerField("Significant figures", validators=[Optional(), NumberRange(1, 15)])
    tolerance = FloatField("Tolerance", validators=[Optional(), NumberRange(min=0)])
    tolerance_kind = SelectField("Tolerance is", choices=TOLERANCE_KINDS, default="rel")
    units = SelectField("Units", choices=UNITS, default="")
    ordered = BooleanField("Order matters")
    all_or_nothing = BooleanField("All or nothing")


class ProblemForm(Form):
    statement = TextAreaField("Statement", render_kw={"rows": 2, "maxlength": 10000})
    answer = StringField("Answer key", render_kw={"maxlength": 10000})
    points = FloatField("Points", default=1.0, validators=[Optional(), NumberRange(0, 1000)])
    policy = FormField(PolicyForm, label="Grading policy")


class AssignmentForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": 500})
    problems = FieldList(FormField(ProblemForm), min_entries=1, max_entries=MAX_ROWS)
    file = FileField("Problems file (CSV, JSON or XLSX)")


class EditProblemForm(FlaskForm):
    """Change a problem after it is created: its key, points and policy (answers are regraded)."""

    answer = StringField("Answer key", render_kw={"maxlength": 10000})
    points = FloatField("Points", validators=[Optional(), NumberRange(0, 1000)])
    policy = FormField(PolicyForm, label="Grading policy")


class UploadForm(FlaskForm):
    file = FileField("Answers file (CSV, JSON or XLSX)")


def policy_from_fields(data: dict[str, Any], keep: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The policy JSON for the picker's values; settings the picker does not show are kept from `keep`."""
    shown = {"require", "dp", "sigfigs", "mode", "rel_tol", "abs_tol", "units", "ordered", "partial_credit"}
    policy = {k: v for k, v in (keep or {}).items() if k not in shown}
    require = [r for r in REQUIREMENTS if data.get(r)]
    if require:
        policy["require"] = require
    for name in ("dp", "sigfigs"):
        if data.get(name) is not None:
            policy[name] = int(data[name])
    if data.get("tolerance") is not None:
        policy["mode"] = "numeric"
        if data.get("tolerance_kind") == "abs":
            policy["abs_tol"] = float(data["tolerance"])
        else:
            policy["rel_tol"] = float(data["tolerance"]) / 100
    if data.get("units"):
        policy["units"] = data["units"]
    if data.get("ordered"):
        policy["ordered"] = True
    if data.get("all_or_nothing"):
        policy["partial_credit"] = False
    return policy or None


def fields_from_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
    """The picker's values for a stored policy (the inverse of `policy_from_fields`)."""
    policy = policy or {}
    data: dict[str, Any] = {r: r in (policy.get("require") or []) for r in REQUIREMENTS}
    data.update(
        dp=policy.get("dp"),
        sigfigs=policy.get("sigfigs"),
        units=policy.get("units") or "",
        ordered=bool(policy.get("ordered")),
        all_or_nothing=policy.get("partial_credit") is False,
    )
    if policy.get("abs_tol") is not None:
        data.update(tolerance=policy["abs_tol"], tolerance_kind="abs")
    elif policy.get("rel_tol") is not None:
        data.update(tolerance=round(policy["rel_tol"] * 100, 10), tolerance_kind="rel")
    else:
        data.update(tolerance=None, tolerance_kind="rel")
    return data


def policy_summary(policy: dict[str, Any] | None) -> str:
    """A short human reading of a policy: "factored · 3 significant figures · all or nothing"."""
    policy = policy or {}
    parts = list(policy.get("require") or [])
    if policy.get("dp") is not None:
        parts.append(f"{policy['dp']} decimal places")
    if policy.get("sigfigs") is not None:
        parts.append(f"{policy['sigfigs']} significant figures")
    if policy.get("rel_tol") is not None:
        parts.append(f"within {policy['rel_tol'] * 100:g}%")
    if policy.get("abs_tol") is not None:
        parts.append(f"within ±{policy['abs_tol']:g}")
    if policy.get("units"):
        parts.append(f"units {policy['units']}")
    if policy.get("ordered"):
        parts.append("ordered")
    if policy.get("partial_credit") is False:
        parts.append("all or nothing")
    return " · ".join(parts) or "default"


def problems_from_form(form: AssignmentForm) -> list[dict[str, Any]]:
    """Raw problem dicts (for `store.intake.parse_problems`) from the filled rows; blank rows are skipped."""
    raw = []
    for entry in form.problems.entries:
        row = entry.form
        if not (row.statement.data or "").strip():
            continue
        item: dict[str, Any] = {"statement": row.statement.data}
        if (row.answer.data or "").strip():
            item["answer"] = row.answer.data
        if row.points.data is not None:
            item["points"] = float(row.points.data)
        policy = policy_from_fields(row.policy.form.data)
        if policy:
            item["policy"] = policy
        raw.append(item)
    return raw
