"""Comparison strategies, one per kind of answer, with diagnosis of common mistakes.

Feedback never shows the reference answer; it may quote the student's own values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy
from sympy import S

from .answer import Answer
from .limits import bounded
from .model import Policy, Status
from .numeric import ctx, numeric_value, ratio_constant, values_equal

__all__ = ["Verdict", "compare", "real_solutions", "equations_equivalent", "exprs_equal", "form_issues"]

MAX_POLY_DEGREE = 40
# Feedback points to where to look, never to the answer ("check the sign of your answer" for
# -8 against 8 would tell it).
SIGN_HINT = (
    "Not correct: look again at each step where a sign can change (moving a term across "
    "'=', multiplying or dividing by a negative number, removing brackets after a minus)."
)
INNER_BUDGET = 0.4  # seconds for one open-ended sympy call (solveset, simplify)


@dataclass
class Verdict:
    status: Status
    score: float
    diagnosis: str
    feedback: str
    details: dict = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.status == Status.correct


def _ok(details=None, msg="Correct."):
    return Verdict(Status.correct, 1.0, "equivalent", msg, details or {})


def _no(diag, msg, score=0.0, details=None):
    status = Status.partial if score > 0 else Status.incorrect
    return Verdict(status, float(score), diag, msg, details or {})


def _tex(v) -> str:
    try:
        s = sympy.latex(v)
    except (ValueError, TypeError, RecursionError):
        return "your value"
    return s if len(s) <= 80 else "one of your values"


# ------------------------------------------------------------------------------ equality


def exprs_equal(a, b, pol: Policy | None = None) -> bool:
    """Mathematical equality (or within the policy's tolerance)."""
    if pol is not None and (pol.mode == "numeric" or pol.rel_tol is not None or pol.abs_tol is not None):
        rel, atol = _tols(pol)
        r = values_equal(a, b, rel, atol)
    else:
        r = values_equal(a, b)
    if r is None:
        r = _symbolic_equal(a, b)
    return bool(r)


def _tols(pol: Policy):
    rel = pol.rel_tol
    atol = pol.abs_tol
    if rel is None and atol is None:
        rel = 1e-6
    return (rel if rel is not None else 0.0), (atol if atol is not None else 0.0)


def _symbolic_equal(a, b):
    try:
        size = sympy.count_ops(a) + sympy.count_ops(b)
        if size > 200:
            return False
        d = bounded(lambda: sympy.simplify(a - b), INNER_BUDGET, size=size)
        return d is not None and d == 0
    except (TypeError, ValueError, ArithmeticError, NotImplementedError, AttributeError, RecursionError):
        return False


# ------------------------------------------------------------------------------ forms


def _literal_issues(node) -> bool:
    """True if the AST has arithmetic left undone on plain numbers (2/4, 3+4, 2*3, 2^3)."""
    if not isinstance(node, tuple):
        return False
    k = node[0]
    if k == "div":
        a, b = node[1], node[2]
        if a[0] == "neg":
            a = a[1]
        if a[0] == "num" and b[0] == "num" and not a[3] and not b[3]:
            p, q = int(a[2]), int(b[2])
            if q in (0, 1) or sympy.igcd(p, q) != 1:
                return True
        if b[0] == "neg":
            return True
    if k in ("add", "mul"):
        nums = [t for t in node[1] if t[0] == "num" or (t[0] == "neg" and t[1][0] == "num")]
        if len(nums) >= 2:
            return True
        if k == "mul" and any(t[0] == "num" and t[2] == 1 and not t[3] for t in node[1]):
            return True
        if k == "mul":
            syms = [t for t in node[1] if t[0] == "sym"]
            if len(syms) != len(set(syms)):
                return True
    if k == "pow" and node[1][0] == "num" and node[2][0] == "num" and not node[2][3]:
        if int(node[1][2]) != 10:
            return True
    if k == "fn" and node[1] == "sqrt" and len(node[2]) == 1 and node[2][0][0] == "num":
        v = node[2][0][2]
        if v.is_Integer and v > 1:
            root = sympy.sqrt(v)
            if root.is_Integer or (root.is_Mul and root.args[0].is_Integer):
                return True
    for c in node[1:]:
        if isinstance(c, tuple) and _literal_issues(c):
            return True
        if isinstance(c, list) and any(_literal_issues(x) for x in c if isinstance(x, tuple)):
            return True
    return False


def _ops(e) -> int:
    try:
        return int(sympy.count_ops(e))
    except (TypeError, ValueError, RecursionError):
        return 0


def _is_unsimplified(ans: Answer, value) -> bool:
    if _literal_issues(ans.ast):
        return True
    if value is None or not value.free_symbols:
        return False
    from .build import to_expr

    try:
        node = ans.ast
        if node[0] == "rel":
            node = node[1][-1]
        raw = to_expr(node, evaluate=False)
        if _ops(raw) > _ops(value) + 1:
            return True
        if _max_exp(value) <= 20 and _ops(value) < 60:
            c = sympy.cancel(value)
            if _ops(c) < _ops(value) and _ops(c) < _ops(raw):
                return True
    except (
        TypeError,
        ValueError,
        ArithmeticError,
        AttributeError,
        NotImplementedError,
        RecursionError,
        sympy.PolynomialError,
    ):  # form checks are best effort
        return False
    return False


def _max_exp(e) -> int:
    m = 0
    for p in e.atoms(sympy.Pow):
        if p.exp.is_Integer:
            m = max(m, abs(int(p.exp)))
        elif not p.exp.is_number:
            m = max(m, 1000)
    return m


def _is_factored(value) -> bool:
    syms = value.free_symbols
    if not syms:
        return True
    if _max_exp(value) > MAX_POLY_DEGREE:
        return False
    coeff_seen = False
    for f in sympy.Mul.make_args(value):
        base = f.base if f.is_Pow and f.exp.is_Integer and f.exp > 0 else f
        if base.is_number:
            if coeff_seen:
                return False
            coeff_seen = True
            continue
        if not base.is_polynomial(*syms):
            continue
        try:
            c, facs = sympy.factor_list(base)
        except (sympy.PolynomialError, ValueError, TypeError):
            continue
        if len(facs) != 1 or facs[0][1] != 1 or abs(c) != 1:
            return False
    return True


def _is_expanded(value) -> bool:
    if not value.free_symbols:
        return True
    if _max_exp(value) > MAX_POLY_DEGREE:
        return False
    try:
        return sympy.expand(value) == value
    except (TypeError, ValueError, RecursionError):
        return False


def form_issues(ans: Answer, ref: Answer, values: list, pol: Policy):
    """(diagnosis, detail, message) for the first form requirement missed, else None."""
    req = pol.require
    if not req:
        return None
    if "exact" in req and ans.decimal and not ref.decimal:
        return ("wrong-form", "not-exact", "Give the exact value (a fraction, a root or \u03c0), not a decimal.")
    if "simplified" in req and (
        any(_is_unsimplified(ans, v) for v in values) or not values and _literal_issues(ans.ast)
    ):
        return ("unsimplified", "unsimplified", "Your value is right, but it is not in simplest form: simplify it.")
    if "factored" in req and not all(_is_factored(v) for v in values):
        return ("wrong-form", "not-factored", "Your expression is equivalent, but it is not fully factored.")
    if "expanded" in req and not all(_is_expanded(v) for v in values):
        return (
            "wrong-form",
            "not-expanded",
            "Your expression is equivalent, but it is not expanded: multiply out the brackets and collect like terms.",
        )
    return None


def _with_forms(ans, ref, values, pol, details=None, msg="Correct."):
    issue = form_issues(ans, ref, values, pol)
    if issue:
        d = dict(details or {})
        d["form"] = issue[1]
        return _no(issue[0], issue[2], 0.5 if pol.partial_credit else 0.0, d)
    return _ok(details, msg)


# ------------------------------------------------------------------------------ numbers / exprs


def _decimal_node(ans: Answer):
    n = ans.ast
    if n[0] == "rel":
        n = n[1][-1]
    return n


def _round_to(x, places):
    """Round half away from zero, as taught in school (mpmath's nint rounds half to even).
    The tiny nudge absorbs the binary error of a decimal such as 50.265."""
    c = ctx()
    q = c.mpf(10) ** places
    y = abs(x * q)
    r = c.floor(y + 0.5 + y * c.mpf(10) ** -60)
    return (r if x >= 0 else -r) / q


def _sig_round(x, n):
    if x == 0:
        return x
    c = ctx()
    e = int(c.floor(c.log10(abs(x))))
    return _round_to(x, n - 1 - e)


def cmp_expr(sv, rv, s: Answer, r: Answer, pol: Policy) -> Verdict:
    from .build import decimal_places, sig_figs

    if pol.sigfigs is not None and not sv.free_symbols and not rv.free_symbols:
        return _cmp_sigfigs(sv, rv, s, pol, sig_figs(_decimal_node(s)))
    if pol.dp is not None and not sv.free_symbols and not rv.free_symbols:
        return _cmp_dp(sv, rv, s, pol, _places(s))
    if pol.mode == "numeric" or pol.rel_tol is not None or pol.abs_tol is not None:
        if exprs_equal(sv, rv, pol):
            return _with_forms(s, r, [sv], pol)
        return _diagnose(sv, rv, s, r, pol)
    eq = values_equal(sv, rv)
    if eq is None:
        eq = _symbolic_equal(sv, rv)
    if eq:
        return _with_forms(s, r, [sv], pol)
    # a decimal reference stands for its rounding: 1/3 matches 0.333
    if r.decimal and not rv.free_symbols and not sv.free_symbols and not s.decimal:
        dp = decimal_places(_decimal_node(r))
        vs = numeric_value(sv)
        if dp is not None and vs is not None and abs(vs.imag) < 1e-30:
            if _round_to(vs.real, dp) == numeric_value(rv).real:
                return _ok({"note": "matches the decimal reference when rounded"})
    if r.decimal and s.decimal and not rv.free_symbols and not sv.free_symbols:
        v = _cmp_rounded_key(sv, rv, s, r, pol)
        if v is not None:
            return v
    return _diagnose(sv, rv, s, r, pol)


def _places(ans: Answer) -> int | None:
    """Decimal places written in a lone number (0 for an integer), else None."""
    from .build import decimal_places

    node = _decimal_node(ans)
    if node[0] == "neg":
        node = node[1]
    if node[0] == "num" and not node[3]:
        return 0
    return decimal_places(node)


def _real(v):
    x = numeric_value(v)
    return None if x is None or abs(x.imag) > 1e-30 else x.real


def _dp_words(n: int) -> str:
    return "%d decimal place%s" % (n, "" if n == 1 else "s")


def _cmp_rounded_key(sv, rv, s: Answer, r: Answer, pol: Policy) -> Verdict | None:
    """A key that is a rounded decimal (50.3): a more precise answer that rounds to it earns
    partial credit; a less precise one never scores more than that."""
    dk, ds = _places(r), _places(s)
    vs, vr = _real(sv), _real(rv)
    if dk is None or ds is None or vs is None or vr is None or ds == dk:
        return None
    if ds > dk and _round_to(vs, dk) == _round_to(vr, dk):
        return _no(
            "decimal-places",
            "Round your answer to %s." % _dp_words(dk),
            0.5 if pol.partial_credit else 0.0,
            {"places": ds, "expected_places": dk},
        )
    if ds < dk and _round_to(vr, ds) == _round_to(vs, ds):
        return _no(
            "rounded",
            "Not accurate enough: give your answer to %s." % _dp_words(dk),
            0.0,
            {"places": ds, "expected_places": dk},
        )
    return None


def _cmp_dp(sv, rv, s: Answer, pol: Policy, given: int | None) -> Verdict:
    """Policy ``dp``: the answer rounded to that many decimal places."""
    n = pol.dp or 0
    vs, vr = _real(sv), _real(rv)
    if vs is None or vr is None:
        return _no("wrong-value", "That is not correct.")
    target = _round_to(vr, n)
    if not s.decimal and values_equal(sv, rv):
        return _ok({"note": "exact value"})
    if given is None:
        return _diagnose(sv, rv, s, None, pol)
    if vs == target or (given == n and abs(vs - target) <= abs(target) * 1e-12):
        return _ok()
    if given > n and _round_to(vs, n) == target:
        return _no(
            "decimal-places",
            "Right value, but round it to %s." % _dp_words(n),
            0.5 if pol.partial_credit else 0.0,
            {"places": given},
        )
    if given < n and _round_to(vr, given) == vs:
        return _no("rounded", "You rounded too much: give %s." % _dp_words(n), 0.0, {"places": given})
    return _diagnose(sv, rv, s, None, pol)


def _cmp_sigfigs(sv, rv, s, pol, given):
    n = pol.sigfigs
    vs, vr = numeric_value(sv), numeric_value(rv)
    if vs is None or vr is None:
        return _no("wrong-value", "That is not correct.")
    vs, vr = vs.real, vr.real
    target = _sig_round(vr, n)
    if not s.decimal:
        if values_equal(sv, rv):
            return _ok({"note": "exact value"})
        given = None
    if given is not None:
        if given == n and abs(vs - target) <= abs(target) * 1e-12:
            return _ok()
        if given > n and abs(_sig_round(vs, n) - target) <= abs(target) * 1e-12:
            return _no(
                "wrong-form",
                "Right value, but give it to %d significant figures." % n,
                0.5 if pol.partial_credit else 0,
                {"form": "sig-figs"},
            )
        if given < n and abs(_sig_round(vr, given) - vs) <= abs(vs) * 1e-12:
            return _no(
                "rounded", "You rounded too much: give %d significant figures." % n, 0.5 if pol.partial_credit else 0
            )
    elif abs(_sig_round(vs, n) - target) <= abs(target) * 1e-12:
        return _ok()
    return _diagnose(sv, rv, s, None, pol)


def _safe_str(v) -> str:
    try:
        if v.is_Rational and max(int(v.p).bit_length(), int(v.q).bit_length()) > 3000:
            return "large"
        out = str(v)
    except (ValueError, TypeError, RecursionError):
        return "?"
    return out if len(out) <= 100 else out[:100] + "..."


def _nice_factor(c) -> bool:
    """A factor a student plausibly slipped by: 2, 1/3, 10, 1/100, pi, ..."""
    if c is None:
        return False
    if c.is_Rational:
        a = abs(c)
        return (a.q == 1 and a.p <= 12) or (a.p == 1 and a.q <= 12) or _is_power_of_ten(a)
    if c.has(S.Pi):
        for d in (c / S.Pi, c * S.Pi):
            if d.is_Rational and _nice_factor(d):
                return True
    return False


def _approx_rational(c):
    try:
        from fractions import Fraction

        f = Fraction(float(c)).limit_denominator(12)
        if abs(float(c) - f.numerator / f.denominator) < 0.01 * abs(float(c)):
            return sympy.Rational(f.numerator, f.denominator)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        pass
    return None


def _is_power_of_ten(c) -> bool:
    if not c.is_Rational or c <= 0:
        return False
    for k in range(1, 13):
        if c == 10**k or c == sympy.Rational(1, 10**k):
            return True
    return False


def _diagnose(sv, rv, s: Answer, r: Answer | None, pol: Policy) -> Verdict:
    from .build import decimal_places

    pc = pol.partial_credit
    numeric = not sv.free_symbols and not rv.free_symbols
    tolerant = pol.mode == "numeric" or pol.has_tolerance
    if sv != 0 and exprs_equal(-sv, rv, pol):
        return _no("sign-error", SIGN_HINT, 0.0)
    if numeric and s.decimal and tolerant:
        vs, vr = numeric_value(sv), numeric_value(rv)
        if vs is not None and vr is not None and vr != 0 and abs(vs - vr) < abs(vr) * 0.05:
            return _no("rounded", "Close, but not accurate enough: keep more digits until the last step.", 0.0)
    elif numeric and s.decimal and not (r is not None and r.decimal):
        vs, vr = numeric_value(sv), numeric_value(rv)
        if vs is not None and vr is not None and vr != 0 and abs(vs.imag) < 1e-30 and abs(vr.imag) < 1e-30:
            dp = decimal_places(_decimal_node(s))
            err = abs(vs.real - vr.real)
            if dp is not None and err <= 0.5 * ctx().mpf(10) ** (-dp) * (1 + 1e-9) + 1e-40:
                return _no(
                    "rounded",
                    "Your decimal is only an approximation: give the exact value.",
                    0.5 if pc else 0,
                    {"error": "approximation"},
                )
            if dp is not None and err < ctx().mpf(10) ** (-dp) * 1.0001 or err < abs(vr.real) * 0.01:
                return _no(
                    "rounded",
                    "Close, but not accurate enough: did you round too early? Keep full precision until the last step.",
                    0.0,
                )
    if sv != 0 and rv != 0:
        c = ratio_constant(sv, rv)
        if c is not None and c == -1:
            return _no("sign-error", SIGN_HINT, 0.0)
        if not (rv.is_number and abs(rv) == 1) and values_equal(sv * rv, S.One):
            return _no(
                "reciprocal", "Not correct: look again at each division in your working - is it the right way round?"
            )
        if (
            c is not None
            and c != 1
            and c.is_number
            and c.is_nonzero
            and (not numeric or _nice_factor(c) or tolerant and _nice_factor(_approx_rational(c)))
        ):
            if _is_power_of_ten(c):
                return _no(
                    "off-by-factor",
                    "Not correct: check the decimal point and any change of units.",
                    0.0,
                    {"factor": _safe_str(c)},
                )
            return _no(
                "off-by-factor",
                "Not correct: check each multiplication and division in your working for a missing or extra factor.",
                0.0,
                {"factor": _safe_str(c)},
            )
    if rv.is_Add and len(rv.args) <= 8:
        for t in rv.args:
            if values_equal(sv, rv - 2 * t):
                return _no("sign-error", "Check the sign of each term: one of them has the wrong sign.", 0.0)
    if sv.free_symbols or rv.free_symbols:
        diff = sv - rv
        pts = ratio_constant(diff, S.One) if not diff.is_number else diff
        if pts is not None and pts != 0 and getattr(pts, "is_number", False):
            return _no(
                "off-by-constant",
                "Not correct: check the constant terms in your working "
                "(a term you moved or dropped, a constant you added).",
                0.0,
            )
    if rv.is_Add and len(rv.args) <= 8:
        for t in rv.args:
            if values_equal(sv, rv - 2 * t):
                return _no("sign-error", "Check the sign of each term: one of them has the wrong sign.", 0.0)
    return _no("wrong-value", "That is not correct: check your working.", 0.0)


# ------------------------------------------------------------------------------ value lists


def _dedupe(vals, pol):
    out: list = []
    for v in vals:
        if not any(_values_same(v, u, pol) for u in out):
            out.append(v)
    return out


def _values_same(a, b, pol) -> bool:
    if isinstance(a, sympy.Tuple) or isinstance(b, sympy.Tuple):
        if not (isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple)) or len(a) != len(b):
            return False
        return all(exprs_equal(x, y, pol) for x, y in zip(a, b))
    return exprs_equal(a, b, pol)


def cmp_values(svals, rvals, s: Answer, r: Answer, pol: Policy, ordered=None) -> Verdict:
    ordered = pol.ordered if ordered is None else ordered
    if (
        len(svals) == 1
        and len(rvals) == 1
        and not isinstance(svals[0], sympy.Tuple)
        and not isinstance(rvals[0], sympy.Tuple)
    ):
        return cmp_expr(svals[0], rvals[0], s, r, pol)
    pc = pol.partial_credit
    if ordered:
        if len(svals) == len(rvals) and all(_values_same(a, b, pol) for a, b in zip(svals, rvals)):
            return _with_forms(s, r, [v for v in svals if not isinstance(v, sympy.Tuple)], pol)
    sv = _dedupe(svals, pol)
    rv = _dedupe(rvals, pol)
    used = [False] * len(sv)
    missing = []
    for b in rv:
        for i, a in enumerate(sv):
            if not used[i] and _values_same(a, b, pol):
                used[i] = True
                break
        else:
            missing.append(b)
    extra = [a for i, a in enumerate(sv) if not used[i]]
    matched = len(rv) - len(missing)
    details = {"matched": matched, "missing": len(missing), "extra": len(extra), "expected_count": len(rv)}
    if not missing and not extra:
        if ordered:
            return _no(
                "wrong-order", "Your values are right, but not in the required order.", 0.5 if pc else 0, details
            )
        if len(svals) != len(sv):
            details["duplicates"] = len(svals) - len(sv)
        return _with_forms(s, r, [v for v in sv if not isinstance(v, sympy.Tuple)], pol, details)
    score = matched / (len(rv) + len(extra)) if pc else 0.0
    if missing and not extra:
        hint = ""
        if any(any(_values_same(m, -a, pol) for a in sv) for m in missing if not isinstance(m, sympy.Tuple)):
            hint = " Did you forget the negative root (\u00b1)?"
        n = len(missing)
        return _no(
            "missing-solution",
            "%s missing: you found %d of the %d solutions.%s"
            % ("One solution is" if n == 1 else "%d solutions are" % n, matched, len(rv), hint),
            score,
            details,
        )
    if extra and not missing:
        if len(extra) == 1:
            msg = "Your answer has an extra value: %s is not a solution. Check each value in the original question." % (
                "$" + _tex(extra[0]) + "$"
            )
        else:
            msg = "Your answer has %d extra values that are not solutions: %s." % (
                len(extra),
                ", ".join("$" + _tex(v) + "$" for v in extra[:5]),
            )
        return _no("extra-solution", msg, score, details)
    if (
        len(missing) == 1
        and len(extra) == 1
        and not isinstance(missing[0], sympy.Tuple)
        and _values_same(extra[0], -missing[0], pol)
    ):
        return _no("sign-error", "One value is not correct: look again at the signs in your working.", score, details)
    if (
        matched == 0
        and len(sv) == len(rv) > 1
        and all(not isinstance(m, sympy.Tuple) for m in missing)
        and sorted_match([-a for a in sv], rv, pol)
    ):
        return _no(
            "sign-error",
            "Not correct: check how you get each value from its factor - (x - a) = 0 means x = a.",
            0.0,
            dict(details, signs="all-flipped"),
        )
    if matched == 0:
        if len(sv) == 1 and len(rv) > 1:
            return _no(
                "missing-solution",
                "Your value is not a solution, and there should be %d solutions." % len(rv),
                0.0,
                details,
            )
        return _no("wrong-value", "None of your values is correct: check your working.", 0.0, details)
    return _no(
        "missing-solution",
        "%d of your values %s not correct and %d solution%s missing."
        % (len(extra), "is" if len(extra) == 1 else "are", len(missing), " is" if len(missing) == 1 else "s are"),
        score,
        details,
    )


# ------------------------------------------------------------------------------ equations


def real_solutions(f, x):
    """Real solutions of f = 0 as a list of sympy numbers, or a sympy Set, or None."""
    try:
        f = sympy.together(f)
        n, d = sympy.fraction(f)
        if n.is_polynomial(x) and _max_exp(n) <= MAX_POLY_DEGREE:
            P = sympy.Poly(n, x)
            if P.is_zero:
                return None
            if P.degree() <= MAX_POLY_DEGREE:
                rts = list(dict.fromkeys(P.real_roots()))
                out = []
                for rt in rts:
                    dv = d.xreplace({x: rt}) if d != 1 else S.One
                    if dv != 0 and not (dv.is_number and abs(numeric_value(dv) or 1) < 1e-30):
                        out.append(rt)
                return out
        sol = bounded(lambda: sympy.solveset(sympy.Eq(f, 0), x, S.Reals), INNER_BUDGET, size=_ops(f))
        if sol is None:
            return None
        if isinstance(sol, sympy.FiniteSet):
            return list(sol.args)
        if sol is S.EmptySet:
            return []
        return sol
    except (sympy.PolynomialError, NotImplementedError, ValueError, TypeError, ArithmeticError):
        return None


def _same_solution_lists(a, b, pol=None) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        used = [False] * len(b)
        for u in a:
            for i, v in enumerate(b):
                if not used[i] and exprs_equal(u, v, pol):
                    used[i] = True
                    break
            else:
                return False
        return True
    if a is None or b is None:
        return False
    if isinstance(a, list):
        a = sympy.FiniteSet(*a)
    if isinstance(b, list):
        b = sympy.FiniteSet(*b)
    return a == b


def equations_equivalent(f, g) -> bool | None:
    """Do f = 0 and g = 0 have the same solutions?  (f, g: lhs - rhs)"""
    if f == 0 or g == 0:
        return f == g
    c = ratio_constant(f, g)
    if c is not None and c != 0 and c.is_number:
        return True
    syms = sorted(f.free_symbols | g.free_symbols, key=lambda s: s.name)
    if len(syms) == 1:
        sf, sg = real_solutions(f, syms[0]), real_solutions(g, syms[0])
        if sf is None or sg is None:
            return None
        return _same_solution_lists(sf, sg)
    try:
        nf = sympy.fraction(sympy.together(f))[0]
        ng = sympy.fraction(sympy.together(g))[0]
        if (
            _max_exp(nf) <= MAX_POLY_DEGREE
            and _max_exp(ng) <= MAX_POLY_DEGREE
            and nf.is_polynomial(*syms)
            and ng.is_polynomial(*syms)
        ):
            a, b = sympy.sqf_part(nf, *syms), sympy.sqf_part(ng, *syms)
            c = ratio_constant(a, b)
            return c is not None and c != 0
    except (sympy.PolynomialError, ValueError, TypeError, NotImplementedError):
        return None
    return _solved_forms_equal(f, g, syms)


def _solved_forms_equal(f, g, syms):
    """Non-polynomial equations in several variables: solve both for one variable and compare
    (y = e^x and ln y = x).  None when no variable can be solved for in time."""
    for v in syms:

        def solve_both(v=v):
            return sympy.solve(f, v), sympy.solve(g, v)

        try:
            res = bounded(solve_both, INNER_BUDGET, size=_ops(f) + _ops(g))
        except (NotImplementedError, ValueError, TypeError, sympy.PolynomialError):
            continue
        if not res or not res[0] or not res[1]:
            continue
        a, b = res
        if any(isinstance(x, dict) for x in a + b):
            continue
        return _same_solution_lists(list(a), list(b))
    return None


def _eq_fn(lhs, rhs):
    return lhs - rhs


def cmp_equation(s_eq, r_eq, s: Answer, r: Answer, pol: Policy) -> Verdict:
    f = _eq_fn(*s_eq)
    g = _eq_fn(*r_eq)
    res = equations_equivalent(f, g)
    if res:
        return _ok({"note": "same solution set"})
    if res is None:
        return _no(
            "wrong-value", "We could not confirm that your equation has the same solutions as the expected one.", 0.0
        )
    syms = f.free_symbols | g.free_symbols
    if len(syms) == 1:
        x = next(iter(syms))
        sf, sg = real_solutions(f, x), real_solutions(g, x)
        if isinstance(sf, list) and isinstance(sg, list) and sf and sg:
            return cmp_values(sf, sg, s, r, pol)
    return _no("wrong-value", "Your equation does not have the same solutions as the expected one.", 0.0)


def _solution_set_of(ans: Answer, var):
    """Solutions over the reals (list) of an answer read as an equation / values."""
    if ans.kind == "values":
        return list(ans.value)
    if ans.kind == "equation":
        f = _eq_fn(*ans.value)
        syms = f.free_symbols
        if len(syms) != 1:
            return None
        return real_solutions(f, next(iter(syms)))
    return None


# ------------------------------------------------------------------------------ sets of reals


def _set_equal(a, b) -> bool:
    if a == b:
        return True
    try:
        return sympy.Complement(a, b) == S.EmptySet and sympy.Complement(b, a) == S.EmptySet
    except (TypeError, ValueError, NotImplementedError):
        return False


def cmp_realset(sset, rset, s: Answer, r: Answer, pol: Policy) -> Verdict:
    if _set_equal(sset, rset):
        return _ok()
    if isinstance(sset, sympy.FiniteSet) and isinstance(rset, sympy.FiniteSet):
        return cmp_values(list(sset.args), list(rset.args), s, r, pol)
    try:
        if _set_equal(sset.closure, rset.closure):
            return _no(
                "wrong-endpoints",
                "Check whether each endpoint is included: strict (<, >) versus non-strict (\u2264, \u2265) inequality.",
                0.5 if pol.partial_credit else 0,
            )
        comp = sympy.Complement(S.Reals, sset)
        if _set_equal(comp.closure, rset.closure):
            return _no(
                "flipped-inequality",
                "Your inequality points the wrong way: flip the sign when you multiply or divide by a negative number.",
                0.0,
            )
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        pass
    return _no("wrong-value", "That is not the right set of values: check your working.", 0.0)


def _relations_equivalent(srels, rrels) -> bool | None:
    if len(srels) != len(rrels) or len(srels) != 1:
        return None
    a, b = srels[0], rrels[0]

    def norm(rel):
        if isinstance(rel, (sympy.StrictGreaterThan, sympy.GreaterThan)):
            return rel.lhs - rel.rhs, isinstance(rel, sympy.StrictGreaterThan)
        return rel.rhs - rel.lhs, isinstance(rel, sympy.StrictLessThan)

    fa, sa = norm(a)
    fb, sb = norm(b)
    c = ratio_constant(fa, fb)
    if c is None or not c.is_number or c.is_zero:
        return False
    if c.is_positive and sa == sb:
        return True
    return False


# ------------------------------------------------------------------------------ dispatch

_KIND_WORDS = {
    "expr": "a single value or expression",
    "equation": "an equation",
    "values": "a list of values",
    "tuple": "an ordered pair or tuple",
    "bracket": "a list or interval",
    "realset": "an interval or set",
    "relation": "an inequality",
    "named": "named values like a = 2",
    "matrix": "a matrix",
    "system": "a system of equations",
}


def _wrong_kind(s: Answer, r: Answer) -> Verdict:
    return _no(
        "wrong-form",
        "We expected %s, but your answer is %s."
        % (_KIND_WORDS.get(r.kind, "another kind of answer"), _KIND_WORDS.get(s.kind, "something else")),
        0.0,
        {"expected_kind": r.kind, "got_kind": s.kind},
    )


def _as_set(ans: Answer):
    k = ans.kind
    if k == "realset":
        return ans.value
    if k in ("tuple",) and len(ans.value) == 2:
        a, b = ans.value
        if _real_endpoint(a) and _real_endpoint(b) and (a < b) == S.true:
            return sympy.Interval.open(a, b)
    if k == "bracket" and len(ans.value) == 2:
        a, b = ans.value
        if _real_endpoint(a) and _real_endpoint(b) and (a <= b) == S.true:
            return sympy.Interval(a, b)
    if k == "values" and all(v.is_number for v in ans.value if isinstance(v, sympy.Expr)):
        return sympy.FiniteSet(*ans.value)
    if k == "expr" and ans.value.is_number:
        return sympy.FiniteSet(ans.value)
    return None


def _real_endpoint(v) -> bool:
    return v.is_number and (v.is_real or v in (S.Infinity, S.NegativeInfinity))


def _var_mismatch(s: Answer, r: Answer) -> bool:
    return s.var is not None and r.var is not None and s.var != r.var


def _vs_expr(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk = s.kind
    if sk == "expr":
        v = cmp_expr(s.value, r.value, s, r, pol)
        if not v.correct and _percent_convention(s, r):
            return _ok({"note": "percent written without the % sign"})
        return v
    if sk == "values":
        return cmp_values(s.value, [r.value], s, r, pol)
    if sk == "realset" and isinstance(s.value, sympy.FiniteSet):
        return cmp_values(list(s.value.args), [r.value], s, r, pol)
    return _wrong_kind(s, r)


def _vs_values(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk, rv = s.kind, r.value
    if sk in ("values", "expr"):
        sv = s.value if sk == "values" else [s.value]
        if (
            r.var is not None
            and sk == "values"
            and s.var is not None
            and len(rv) == 1
            and len(sv) == 1
            and "lhs" in r.extra
            and r.value[0].free_symbols
        ):
            return cmp_expr(sv[0], rv[0], s, r, pol)
        return cmp_values(sv, rv, s, r, pol, ordered=pol.ordered)
    if sk == "bracket":
        return cmp_values(s.value, rv, s, r, pol)
    if sk == "tuple" and r.extra.get("tuples"):
        return cmp_values([sympy.Tuple(*s.value)], rv, s, r, pol)
    if sk == "tuple":
        v = cmp_values(s.value, rv, s, r, pol)
        if v.correct and r.var is not None:
            return _no(
                "wrong-form",
                "Your values are right, but write them as a list of solutions, not as an ordered pair.",
                0.5 if pol.partial_credit else 0,
            )
        return v
    if sk == "realset":
        if isinstance(s.value, sympy.FiniteSet) or s.value is S.EmptySet:
            return cmp_values(list(s.value.args), rv, s, r, pol)
        return _wrong_kind(s, r)
    if sk == "equation" and r.var is not None:
        if len(rv) == 1 and rv[0].free_symbols:
            return cmp_equation(s.value, (r.var, rv[0]), s, r, pol)
        sols = _solution_set_of(s, r.var)
        if isinstance(sols, list) and _same_solution_lists(sols, list(rv), pol):
            return _no(
                "wrong-form",
                "Your equation has the right solutions, but solve it: write the value(s) of the variable.",
                0.5 if pol.partial_credit else 0,
            )
        return _no("wrong-form", "Solve for the variable and give its value(s).", 0.0)
    if sk == "named" and len({k.partition("_")[0] for k in s.value}) == 1 and all("_" in k for k in s.value):
        return cmp_values([s.value[k] for k in sorted(s.value)], rv, s, r, pol)
    return _wrong_kind(s, r)


def _vs_equation(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk = s.kind
    if sk == "equation":
        return cmp_equation(s.value, r.value, s, r, pol)
    if sk == "values" and s.var is not None:
        if len(s.value) == 1:
            return cmp_equation((s.var, s.value[0]), r.value, s, r, pol)
        sols = _solution_set_of(r, s.var)
        if isinstance(sols, list):
            return cmp_values(list(s.value), sols, s, r, pol)
    if sk in ("values", "expr"):
        sols = _solution_set_of(r, None)
        if isinstance(sols, list):
            return cmp_values(s.value if sk == "values" else [s.value], sols, s, r, pol)
    return _wrong_kind(s, r)


def _vs_realset(s: Answer, r: Answer, pol: Policy) -> Verdict:
    if r.value is S.EmptySet and s.kind == "values" and not s.value:
        return _ok()
    ss = _as_set(s)
    if ss is None:
        return _wrong_kind(s, r)
    if isinstance(r.value, sympy.FiniteSet) and s.kind == "values":
        return cmp_values(list(s.value), list(r.value.args), s, r, pol)
    return cmp_realset(ss, r.value, s, r, pol)


def _vs_relation(s: Answer, r: Answer, pol: Policy) -> Verdict:
    if s.kind != "relation":
        return _wrong_kind(s, r)
    if _relations_equivalent(s.value, r.value):
        return _ok()
    return _no("wrong-value", "Your inequality does not describe the same region.", 0.0)


def _named_entries(ans: Answer) -> dict | None:
    """{name: value} of "a = 2, b = 3" or "(p, q) = (3, 2)"; None otherwise."""
    if ans.kind == "named":
        return dict(ans.value)
    names = ans.extra.get("names") if ans.kind == "tuple" else None
    return dict(zip(names, ans.value)) if names else None


def _vs_sequence(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk, rk = s.kind, r.kind
    sn, rn = _named_entries(s), _named_entries(r)
    if sn is not None and rn is not None and set(sn) == set(rn):
        return _cmp_named(sn, rn, s, r, pol)
    if len(r.value) == 2 and (sk == "realset" or {sk, rk} == {"tuple", "bracket"}):
        rs, ss = _as_set(r), _as_set(s)
        if rs is not None and ss is not None:
            return cmp_realset(ss, rs, s, r, pol)
    if sk == "named" and len(s.value) == len(r.value):
        keys = rn and list(rn) or sorted(s.value)
        return _cmp_seq([s.value.get(k, S.NaN) for k in keys], list(r.value), s, r, pol)
    if sk in ("tuple", "bracket") or (sk == "values" and s.var is None):
        if rk == "bracket" and not pol.ordered and sk in ("values", "bracket"):
            return cmp_values(list(s.value), list(r.value), s, r, pol)
        return _cmp_seq(list(s.value), list(r.value), s, r, pol)
    if sk == "matrix" and 1 in s.value.shape:
        return _cmp_seq(list(s.value), list(r.value), s, r, pol)
    if rk == "bracket" and sk == "realset":
        rs = _as_set(r)
        if rs is not None:
            return cmp_realset(s.value, rs, s, r, pol)
    return _wrong_kind(s, r)


def _vs_named(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk = s.kind
    sn = _named_entries(s)
    if sn is not None and (sk == "named" or set(sn) == set(r.value)):
        return _cmp_named(sn, r.value, s, r, pol)
    if sk == "tuple" and len(s.value) == len(r.value):
        keys = sorted(r.value)
        return _cmp_seq(list(s.value), [r.value[k] for k in keys], s, r, pol)
    if sk == "system":
        return _cmp_system(s.value, [sympy.Eq(symbol_of(k), v) for k, v in r.value.items()], s, r, pol)
    return _wrong_kind(s, r)


def _vs_system(s: Answer, r: Answer, pol: Policy) -> Verdict:
    sk = s.kind
    if sk == "system":
        return _cmp_system(s.value, r.value, s, r, pol)
    if sk == "tuple":
        syms = sorted(set().union(*[e.free_symbols for e in r.value]), key=lambda x: x.name)
        if len(syms) == len(s.value):
            eqs = [sympy.Eq(x, v) for x, v in zip(syms, s.value)]
            return _cmp_system(eqs, r.value, s, r, pol)
    if sk == "named":
        return _cmp_system([sympy.Eq(symbol_of(k), v) for k, v in s.value.items()], r.value, s, r, pol)
    return _wrong_kind(s, r)


def _vs_matrix(s: Answer, r: Answer, pol: Policy) -> Verdict:
    if s.kind == "matrix":
        return _cmp_matrix(s.value, r.value, s, r, pol)
    if s.kind in ("tuple", "bracket") and 1 in r.value.shape:
        # a vector written as (1, 2) against a column or row matrix
        return _cmp_seq(list(s.value), list(r.value), s, r, pol)
    return _wrong_kind(s, r)


# One named strategy per kind of reference answer.
STRATEGIES: dict[str, Callable[[Answer, Answer, Policy], Verdict]] = {
    "expr": _vs_expr,
    "values": _vs_values,
    "equation": _vs_equation,
    "realset": _vs_realset,
    "relation": _vs_relation,
    "tuple": _vs_sequence,
    "bracket": _vs_sequence,
    "named": _vs_named,
    "system": _vs_system,
    "matrix": _vs_matrix,
}


def compare(s: Answer, r: Answer, pol: Policy) -> Verdict:
    """Compare a student's answer with the reference: the strategy for the reference's kind."""
    if _var_mismatch(s, r) and s.kind in ("values", "realset") and r.kind in ("values", "realset"):
        return _no(
            "wrong-variable",
            "Check the variable: your answer is about a different variable than the question asks for.",
            0.0,
        )
    strategy = STRATEGIES.get(r.kind)
    return strategy(s, r, pol) if strategy is not None else _wrong_kind(s, r)


def _percent_convention(s: Answer, r: Answer) -> bool:
    """'75' for '75%' (or '75%' for '75'): the question asked for a percentage."""
    sp, rp = s.ast[0] == "pct", r.ast[0] == "pct"
    if sp == rp or not s.value.is_number or not r.value.is_number:
        return False
    if rp:
        return values_equal(s.value, r.value * 100) is True
    return values_equal(s.value * 100, r.value) is True


def symbol_of(name):
    from .build import symbol

    return symbol(name)


def _cmp_seq(sv, rv, s, r, pol):
    if len(sv) != len(rv):
        return _no("wrong-size", "Your answer has %d entries, but %d are expected." % (len(sv), len(rv)), 0.0)
    ok = [exprs_equal(a, b, pol) for a, b in zip(sv, rv)]
    if all(ok):
        return _with_forms(s, r, sv, pol)
    if len(sv) > 1 and sorted_match(sv, rv, pol):
        return _no("wrong-order", "The entries are right, but in the wrong order: order matters here.", 0.0)
    n = ok.count(False)
    return _no("wrong-value", "%d of the %d entries %s not correct." % (n, len(rv), "is" if n == 1 else "are"), 0.0)


def sorted_match(sv, rv, pol):
    used = [False] * len(rv)
    for a in sv:
        for i, b in enumerate(rv):
            if not used[i] and exprs_equal(a, b, pol):
                used[i] = True
                break
        else:
            return False
    return True


def _cmp_named(sd, rd, s, r, pol):
    if set(sd) != set(rd):
        missing = sorted(set(rd) - set(sd))
        extra = sorted(set(sd) - set(rd))
        if missing:
            return _no("missing-solution", "Give a value for %s." % ", ".join(missing), 0.0)
        return _no("extra-solution", "%s is not asked for." % ", ".join(extra), 0.0)
    wrong = [k for k in sorted(rd) if not exprs_equal(sd[k], rd[k], pol)]
    if not wrong:
        return _with_forms(s, r, list(sd.values()), pol)
    score = (len(rd) - len(wrong)) / len(rd) if pol.partial_credit else 0.0
    return _no("wrong-value", "Check the value of %s." % ", ".join(wrong), score)


def _cmp_system(seqs, reqs, s, r, pol):
    syms = sorted(set().union(*[e.free_symbols for e in list(seqs) + list(reqs)]), key=lambda x: x.name)
    try:
        a = sympy.solve([e.lhs - e.rhs for e in seqs], syms, dict=True)
        b = sympy.solve([e.lhs - e.rhs for e in reqs], syms, dict=True)
    except (NotImplementedError, ValueError, TypeError, sympy.PolynomialError):
        return _no("wrong-value", "We could not check this system.", 0.0)

    def same(d1, d2):
        return set(d1) == set(d2) and all(exprs_equal(d1[k], d2[k], pol) for k in d1)

    if len(a) == len(b) and all(any(same(x, y) for y in b) for x in a):
        return _ok({"note": "same solution set"})
    return _no("wrong-value", "Your system does not have the same solutions.", 0.0)


def _cmp_matrix(sm, rm, s, r, pol):
    if sm.shape != rm.shape:
        return _no("wrong-size", "Your matrix is %dx%d, but a %dx%d matrix is expected." % (sm.shape + rm.shape), 0.0)
    wrong = sum(1 for a, b in zip(sm, rm) if not exprs_equal(a, b, pol))
    if not wrong:
        return _with_forms(s, r, list(sm), pol)
    score = (len(rm) - wrong) / len(rm) if pol.partial_credit else 0.0
    return _no(
        "wrong-value", "%d of the %d entries %s not correct." % (wrong, len(rm), "is" if wrong == 1 else "are"), score
    )
