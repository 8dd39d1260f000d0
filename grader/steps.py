"""check_steps: does each line of a student's working follow from the one before?"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import sympy
from sympy import S

from .answer import Answer, read_answer
from .build import symbol, to_expr
from .compare import _same_solution_lists, _set_equal, equations_equivalent, exprs_equal, real_solutions
from .latex import ast_latex
from .limits import GraderTimeout, is_check_error, time_limit
from .model import Policy, StepFinding, StepsResult, StepStatus
from .numeric import ctx, numeric_value, ratio_constant, values_equal
from .parse import ParseError

__all__ = ["check_steps"]

MAX_LINES = 200
MAX_GIVENS = 50
_NAME = re.compile(r"[A-Za-z](?:_?[A-Za-z0-9]{0,8})|\\?[a-zA-Z]{2,10}")
_LEAD = re.compile(
    r"^\s*(?:=>|\u21d2|\u2192|\\implies|\\Rightarrow|\\Longrightarrow|\\therefore|"
    r"\u2234|so\b|then\b|therefore\b|hence\b)\s*",
    re.I,
)


def _tex(v) -> str:
    """A short rendering of a value for step feedback: plain when simple, else $LaTeX$."""
    try:
        s = sympy.latex(v.doit() if isinstance(v, sympy.Basic) else v)
    except (ValueError, TypeError, RecursionError):
        return "?"
    if len(s) > 60:
        return "that term"
    if re.fullmatch(r"[\w\s+\-*/.()=]+", s):
        return s
    return "$" + s + "$"


class _Line:
    """A line of working read as an expression, an equation (f = 0) or a set of reals."""

    def __init__(self, ans: Answer, continues: bool):
        self.ans = ans
        self.continues = continues
        self.kind = None
        self.expr = None  # expression lines
        self.sides: Any = None  # (lhs, rhs) for equations
        self.set: Any = None  # inequalities: solution set over the reals
        self.values: list | None = None  # solution lists
        self.approx = False  # written with ≈: a rounded value of the previous line
        self.symbols = _symbols_of(ans)
        k = ans.kind
        if continues and k == "expr":
            self.kind = "cont"
            self.expr = ans.value
        elif k == "expr":
            self.kind = "expr"
            self.expr = ans.value
        elif k == "equation":
            self.kind = "eq"
            self.sides = ans.value
        elif k == "values" and ans.var is not None and len(ans.value) == 1:
            self.kind = "eq"
            self.sides = (ans.var, ans.value[0])
        elif k == "values" and ans.var is not None:
            self.kind = "sols"
            self.values = list(ans.value)
        elif k == "realset":
            self.kind = "set"
            self.set = ans.value
        else:
            self.kind = "other"

    @property
    def f(self):
        return self.sides[0] - self.sides[1]

    def substitute(self, subs: dict) -> None:
        """Put the given values in (the left side of ``v = ...`` stays: it is being defined)."""
        if not subs or not (self.symbols & set(subs)):
            return
        if self.expr is not None:
            self.expr = self.expr.xreplace(subs)
        if self.sides is not None:
            lhs, rhs = self.sides
            self.sides = (lhs if isinstance(lhs, sympy.Symbol) else lhs.xreplace(subs), rhs.xreplace(subs))
        if self.values is not None:
            self.values = [v.xreplace(subs) for v in self.values]


def _symbols_of(ans: Answer) -> set:
    v = ans.value
    items = v if isinstance(v, (list, tuple)) else [v]
    out: set = set()
    for x in items:
        if isinstance(x, sympy.Basic):
            out |= x.free_symbols
    if ans.var is not None:
        out.add(ans.var)
    return out


_APPROX = re.compile(r"\u2248|\\approx(?![a-zA-Z])|~=|\u2243")
_APPROX_START = re.compile(r"^\s*(?:\u2248|\\approx(?![a-zA-Z])|~=|\u2243)")


def _read_line(text: str, pol: Policy, subs: dict | None = None):
    continues = False
    t = _LEAD.sub("", text)
    lead = _APPROX_START.match(t)
    if lead:
        continues = True
        t = "=" + t[lead.end() :]
    if t.lstrip().startswith("=") and not t.lstrip().startswith("=="):
        continues = True
        t = t.lstrip()[1:]
    line = _Line(read_answer(t, pol.max_length), continues)
    line.approx = bool(_APPROX.search(text))
    return line


def _rounds_to(exact, shown_node, shown_value) -> bool | None:
    """Is the decimal written in a line the exact value correctly rounded?  None when the line
    does not show a decimal of a number."""
    from .build import decimal_places

    if shown_node[0] == "rel":
        shown_node = shown_node[1][-1]
    places = decimal_places(shown_node)
    if places is None or exact is None or exact.free_symbols or shown_value.free_symbols:
        return None
    a, b = numeric_value(exact), numeric_value(shown_value)
    if a is None or b is None or abs(a.imag) > 1e-30:
        return None
    return bool(abs(a.real - b.real) <= ctx().mpf(10) ** (-places) * 0.5 * (1 + 1e-12))


def _approx_step(prev: _Line, cur: _Line):
    """``A ≈ 50.27`` after ``A = 16π``: right when the decimal is the value correctly rounded."""
    if cur.kind == "cont":
        base = prev.expr if prev.kind in ("expr", "cont") else (prev.sides[1] if prev.kind == "eq" else None)
        shown = cur.expr
    elif cur.kind == "eq" and prev.kind == "eq" and cur.sides[0] == prev.sides[0]:
        base, shown = prev.sides[1], cur.sides[1]
    else:
        return None
    if base is None:
        return None
    ok = _rounds_to(base, cur.ans.ast, shown)
    if ok is None:
        return None
    if ok:
        return True, "equivalent", "rounded"
    return False, "rounded", "this decimal is not the previous value correctly rounded: check the digits."


def _solutions(line: _Line):
    if line.kind == "sols":
        return list(line.values or [])
    if line.kind == "eq":
        syms = line.f.free_symbols
        if len(syms) == 1:
            return real_solutions(line.f, next(iter(syms)))
    return None


def _unevaluated_sides(line: _Line):
    node = line.ans.ast
    if node[0] == "rel":
        return [to_expr(n, evaluate=False) for n in node[1]]
    return [to_expr(node, evaluate=False)]


def _distribution_variants(side_uneval):
    """Ways to distribute a factor over brackets but forget one term: (variant, term, factor)."""
    out = []
    for m in sympy.preorder_traversal(side_uneval):
        if not isinstance(m, sympy.Mul):
            continue
        adds = [a for a in m.args if isinstance(a, sympy.Add)]
        if len(adds) != 1:
            continue
        A = adds[0]
        c = sympy.Mul(*[a for a in m.args if a is not A])
        terms = A.args
        if len(terms) > 6:
            continue
        for k, tk in enumerate(terms):
            variant = sympy.Add(*[c * t for j, t in enumerate(terms) if j != k]) + tk
            try:
                out.append((side_uneval.xreplace({m: variant}), tk, c))
            except (TypeError, ValueError):
                continue
        if len(out) > 24:
            break
    return out


def _written_fractions(node):
    """[(a, b), (c, d)] for a sum of written fractions a/b + c/d of whole numbers, else None."""
    if node[0] == "rel":
        node = node[1][-1]
    if node[0] != "add" or len(node[1]) < 2:
        return None
    out = []
    for t in node[1]:
        if t[0] != "div" or t[1][0] != "num" or t[2][0] != "num" or t[1][3] or t[2][3]:
            return None
        out.append((int(t[1][2]), int(t[2][2])))
    return out


def _factor_slip(prev_side, cur_side_uneval, cur_value):
    """The line factors the previous one wrongly: (x + 2)(x + 3) for x^2 - 5x + 6."""
    factors = [
        f
        for f in sympy.Mul.make_args(cur_side_uneval)
        if isinstance(f, sympy.Add) or (isinstance(f, sympy.Pow) and isinstance(f.base, sympy.Add))
    ]
    if len(factors) < 1 or len(sympy.Mul.make_args(cur_side_uneval)) < 2 and not isinstance(cur_side_uneval, sympy.Pow):
        return None
    if isinstance(prev_side, sympy.Mul) or not prev_side.free_symbols:
        return None
    try:
        if not prev_side.is_polynomial() or not cur_value.is_polynomial():
            return None
        a, b = sympy.Poly(sympy.expand(prev_side)), sympy.Poly(sympy.expand(cur_value), *sympy.Poly(prev_side).gens)
    except (sympy.PolynomialError, ValueError, TypeError):
        return None
    if a.degree() != b.degree():
        return "factoring", "check your factors: multiplying them out does not give the previous line."
    ca, cb = a.all_coeffs(), b.all_coeffs()
    if len(ca) == len(cb) and all(abs(x) == abs(y) for x, y in zip(ca, cb)):
        return "factoring", (
            "check the signs inside your brackets: multiplying the factors out does not give the previous line."
        )
    return "factoring", "check your factors: multiplying them out does not give the previous line."


def _diagnose_expr_step(prev: _Line, cur: _Line):
    cur_expr = cur.expr
    try:
        fr = _written_fractions(prev.ans.ast)
        if fr and len(fr) == 2 and exprs_equal(cur_expr, sympy.Rational(fr[0][0] + fr[1][0], fr[0][1] + fr[1][1])):
            return "added-fractions", (
                "you added the numerators and the denominators: write the fractions with a common denominator first."
            )
        sides = _unevaluated_sides(prev)
        side = sides[-1]
        slip = _factor_slip(side.doit(), _unevaluated_sides(cur)[-1], cur_expr)
        if slip:
            return slip
        for variant, tk, c in _distribution_variants(side):
            if exprs_equal(variant.doit(), cur_expr):
                return "distribution", _distribution_msg(tk, c)
        base = prev.expr if prev.expr is not None else prev.sides[1]
        terms = [t.doit() for t in sympy.Add.make_args(side)]
        if len(terms) <= 10:
            for t in terms:
                if t != 0 and values_equal(cur_expr, base - 2 * t):
                    return "sign-error", "check the sign of %s." % _tex(t)
        c = ratio_constant(cur_expr, base)
        if c is not None and c != 1 and c != 0:
            return "off-by-factor", "the value changed by a constant factor; check your arithmetic."
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        pass
    return "wrong-value", "check your arithmetic."


def _distribution_msg(tk, c):
    if c == -1:
        return "did you change the sign of every term inside the brackets (including %s)?" % _tex(tk)
    return "did you multiply %s by %s?" % (_tex(tk), _tex(c))


def _diagnose_eq_step(prev: _Line, cur: _Line):
    g = cur.f
    f = prev.f
    # solution sets: lost or gained solutions
    sp, sc = _solutions(prev), _solutions(cur)
    if isinstance(sp, list) and isinstance(sc, list):
        lost = [v for v in sp if not any(exprs_equal(v, w) for w in sc)]
        gained = [w for w in sc if not any(exprs_equal(v, w) for v in sp)]
        if lost and not gained:
            if any(any(exprs_equal(v, -w) for w in sc) for v in lost):
                return "missing-solution", ("a solution was lost: when you take a square root, remember \u00b1.")
            if any(v == 0 for v in lost):
                return "missing-solution", ("a solution was lost: did you divide by an expression that can be zero?")
            return "missing-solution", "a solution was lost in this step."
        if gained and not lost:
            return "extra-solution", (
                "this step adds a solution that the previous line does not have (squaring both sides can do that)."
            )
    # forgot to distribute over brackets, on either side
    try:
        sides = _unevaluated_sides(prev)
        cur_sides = _unevaluated_sides(cur)
        if len(sides) == 2 and len(cur_sides) == 2:
            for idx in (0, 1):
                slip = _factor_slip(sides[idx].doit(), cur_sides[idx], cur.sides[idx])
                if slip and sides[1 - idx].doit() == cur.sides[1 - idx]:
                    return slip
        if len(sides) == 2:
            for idx in (0, 1):
                for variant, tk, c in _distribution_variants(sides[idx]):
                    new = [s.doit() for s in sides]
                    new[idx] = variant.doit()
                    if equations_equivalent(new[0] - new[1], g):
                        return "distribution", _distribution_msg(tk, c)
        # moved a term across without changing its sign
        L, R = prev.sides
        for side, sgn in ((L, -2), (R, 2)):
            for t in sympy.Add.make_args(side):
                if t.is_zero:
                    continue
                cand = f + sgn * t
                if cand != 0 and equations_equivalent(cand, g):
                    return "sign-error", ("when you move %s to the other side, change its sign." % _tex(t))
        # multiplied instead of dividing (c*x = R -> x = R*c)
        for side, other in ((L, R), (R, L)):
            coeff, rest = side.as_coeff_Mul()
            if coeff.is_Rational and coeff not in (0, 1, -1) and rest.free_symbols:
                if equations_equivalent(rest - other * coeff, g):
                    if coeff.p == 1 or coeff.p == -1:
                        return "off-by-factor", ("to undo dividing by %s, multiply both sides by it." % _tex(1 / coeff))
                    return "off-by-factor", ("to undo multiplying by %s, divide both sides by it." % _tex(coeff))
                if equations_equivalent(rest - other - coeff, g) or equations_equivalent(rest - other + coeff, g):
                    return "wrong-operation", (
                        "%s multiplies; divide both sides by it rather than adding or subtracting." % _tex(coeff)
                    )
    except (TypeError, ValueError, ArithmeticError, AttributeError, sympy.PolynomialError):
        pass
    return "wrong-value", "the two lines do not have the same solutions; check your arithmetic."


def _judge(prev: _Line, cur: _Line):
    """(ok, diagnosis, message) for cur following from prev."""
    pk, ck = prev.kind, cur.kind
    if cur.approx:
        verdict = _approx_step(prev, cur)
        if verdict is not None:
            return verdict
    if ck == "cont":
        base = prev.expr if pk in ("expr", "cont") else (prev.sides[1] if pk == "eq" else None)
        if base is None:
            return None
        if exprs_equal(base, cur.expr):
            return True, "equivalent", ""
        return (False,) + _diagnose_expr_step(prev, cur)
    if pk in ("expr", "cont") and ck == "expr":
        if exprs_equal(prev.expr, cur.expr):
            return True, "equivalent", ""
        return (False,) + _diagnose_expr_step(prev, cur)
    if pk in ("eq", "sols") and ck in ("eq", "sols"):
        if pk == "eq" and ck == "eq":
            res = equations_equivalent(prev.f, cur.f)
            if res:
                return True, "equivalent", ""
            if res is None:
                return None
            return (False,) + _diagnose_eq_step(prev, cur)
        sp, sc = _solutions(prev), _solutions(cur)
        if sp is None or sc is None:
            return None
        if _same_solution_lists(sp, sc):
            return True, "equivalent", ""
        if isinstance(sp, list) and isinstance(sc, list):
            lost = [v for v in sp if not any(exprs_equal(v, w) for w in sc)]
            gained = [w for w in sc if not any(exprs_equal(v, w) for v in sp)]
            if lost and not gained:
                return False, "missing-solution", "a solution was lost in this step."
            if gained and not lost:
                return False, "extra-solution", "this step adds a solution that is not there."
        return False, "wrong-value", "the solutions do not match the previous line."
    if pk == "set" or ck == "set":
        a = prev.set if pk == "set" else _as_set(prev)
        b = cur.set if ck == "set" else _as_set(cur)
        if a is None or b is None:
            return None
        if _set_equal(a, b):
            return True, "equivalent", ""
        try:
            if _set_equal(sympy.Complement(S.Reals, a).closure, b.closure):
                return (
                    False,
                    "flipped-inequality",
                    ("when you multiply or divide both sides by a negative number, flip the inequality sign."),
                )
            if _set_equal(a.closure, b.closure):
                return False, "wrong-endpoints", "check whether the endpoints are included."
        except (TypeError, ValueError, NotImplementedError, AttributeError):
            pass
        return False, "wrong-value", "the two lines do not describe the same values."
    return None


def _as_set(line: _Line):
    s = _solutions(line)
    if isinstance(s, list):
        return sympy.FiniteSet(*s)
    return None


def _givens(given, pol: Policy) -> dict:
    """The problem's given values ({"r": 4} or {"r": "4"}) as {Symbol: sympy value}."""
    if not given:
        return {}
    if not isinstance(given, Mapping):
        raise TypeError("given must map names to values")
    out = {}
    for name, value in list(given.items())[:MAX_GIVENS]:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError("given: %r is not a variable name" % (name,))
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Fraction)):
            raise ValueError("given: the value of %s must be a number or text" % name)
        text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
        try:
            ans = read_answer(text, pol.max_length)
        except ParseError as e:
            raise ValueError("given: the value of %s could not be read: %s" % (name, e.message)) from None
        if ans.kind != "expr" or ans.value.free_symbols:
            raise ValueError("given: the value of %s must be a number" % name)
        out[symbol(name)] = ans.value
    return out


def check_steps(
    lines: list[str] | str,
    policy: Policy | dict | None = None,
    *,
    given: Mapping[str, object] | None = None,
    timeout: float | None = None,
) -> StepsResult:
    """Check a list of working lines; each line must follow from the previous readable line.

    ``given`` maps the problem's variables to their values (substituted into every line);
    a line such as ``r = 4`` that names a variable not used before is a given too.
    ``timeout`` is one total budget in seconds for all the lines (each line also keeps the
    policy's per-check limit); lines left when it runs out get status "timeout".
    """
    pol = Policy.coerce(policy)
    if isinstance(lines, str):
        lines = lines.splitlines()
    lines = list(lines)
    subs = _givens(given, pol)
    deadline = None if timeout is None else time.monotonic() + max(float(timeout), 0.0)
    run = _Run(lines, pol, subs)
    for i, raw in enumerate(lines[: MAX_LINES + 1]):
        text = raw if isinstance(raw, str) else ""
        if i >= MAX_LINES:
            run.add(StepFinding(i, text[:200], False, StepStatus.invalid, "Too many lines to check.", "", "too-long"))
            break
        left = pol.timeout if deadline is None else min(pol.timeout, deadline - time.monotonic())
        if left <= 0:
            run.add(
                StepFinding(
                    i,
                    text,
                    False,
                    StepStatus.timeout,
                    "Step %d: not checked: the time for checking this work ran out." % (i + 1),
                    "",
                    "timeout",
                )
            )
            continue
        run.add(_check_line(run, i, text, left))
    return run.result()


def _check_line(run: _Run, i: int, text: str, limit: float) -> StepFinding:
    n = i + 1
    try:
        with time_limit(limit):
            return run.step(i, text)
    except GraderTimeout:
        return StepFinding(
            i, text, False, StepStatus.timeout, "Step %d: checking this step took too long." % n, "", "timeout"
        )
    except RecursionError:
        return StepFinding(
            i, text, False, StepStatus.invalid, "Step %d: this line is nested too deeply to check." % n, "", "too-big"
        )
    except Exception as e:
        if not is_check_error(e):
            raise  # e.g. Celery's SoftTimeLimitExceeded: stop the work
        return StepFinding(
            i, text, False, StepStatus.invalid, "Step %d: we could not check this line." % n, "", "unreadable"
        )


class _Run:
    """State of one check_steps call: the previous line, the givens, the findings."""

    def __init__(self, lines: list, pol: Policy, subs: dict):
        self.lines = lines
        self.pol = pol
        self.subs = subs
        self.prev: _Line | None = None
        self.prev_index: int | None = None
        self.seen: set = set()  # symbols used by earlier lines
        self.pending: list = []  # (finding number, symbol, value) of possible givens
        self.findings: list[StepFinding] = []
        self.first_error: int | None = None

    def add(self, finding: StepFinding) -> None:
        self.findings.append(finding)
        if not finding.ok and self.first_error is None:
            self.first_error = finding.index

    def step(self, i: int, text: str) -> StepFinding:
        n = i + 1
        try:
            cur = _read_line(text, self.pol, self.subs)
        except ParseError as e:
            return StepFinding(
                i,
                text,
                False,
                StepStatus.invalid,
                "Step %d: we could not read this line: %s" % (n, e.message),
                "",
                "unreadable",
            )
        interp = ast_latex(cur.ans.ast)
        if cur.continues:
            interp = "= " + interp
        known = self.seen | set(self.subs)
        self.seen |= cur.symbols
        const = _constant_definition(cur)
        if const is not None and const in self.subs and values_equal(self.subs[const], cur.sides[1]):
            self.prev, self.prev_index, self.pending = None, None, []
            return StepFinding(i, text, True, StepStatus.start, "Step %d: given." % n, interp, "")
        if const is not None and const not in known and (self.prev is None or self.pending):
            # "r = 4" at the start: a given if the next line defines a formula that uses it
            self.pending.append((len(self.findings), const, cur.sides[1]))
            self.prev, self.prev_index = cur, i
            return StepFinding(i, text, True, StepStatus.start, "Step %d: starting point." % n, interp, "")
        if self.pending and _defines(cur, known) and cur.symbols & {v for _, v, _ in self.pending}:
            for k, name, value in self.pending:
                self.subs[name] = value
                f = self.findings[k]
                f.feedback = "Step %d: given value of %s." % (f.index + 1, name)
            self.pending = []
            cur.substitute(self.subs)
            self.prev, self.prev_index = cur, i
            return StepFinding(
                i, text, True, StepStatus.start, "Step %d: starting point (with the given values)." % n, interp, ""
            )
        self.pending = []
        cur.substitute(self.subs)
        prev, prev_index = self.prev, self.prev_index
        self.prev, self.prev_index = cur, i
        if prev is None or prev_index is None:
            return StepFinding(i, text, True, StepStatus.start, "Step %d: starting point." % n, interp, "")
        verdict = _judge(prev, cur)
        if verdict is None:
            return StepFinding(
                i,
                text,
                True,
                StepStatus.unverified,
                "Step %d: we could not check this step automatically." % n,
                interp,
                "",
            )
        if verdict[0]:
            how = "correctly rounded" if verdict[2] == "rounded" else "follows from the previous line"
            return StepFinding(i, text, True, StepStatus.correct, "Step %d: %s." % (n, how), interp, "equivalent")
        _, diag, msg = verdict
        return StepFinding(
            i,
            text,
            False,
            StepStatus.incorrect,
            "Step %d: %s does not follow from %s: %s" % (n, _short(text), _short(self.lines[prev_index]), msg),
            interp,
            diag,
        )

    def result(self) -> StepsResult:
        details: dict = {"lines": len(self.findings)}
        score = None
        if self.pol.step_credit:
            score, details["valid_steps"] = _method_marks(self.findings, self.first_error)
            details["summary"] = _summary(self.findings, self.first_error)
        return StepsResult(self.findings, self.first_error, details, score)


def _constant_definition(cur: _Line):
    """The variable of a line ``v = number``, else None."""
    if cur.kind != "eq" or cur.sides is None or cur.continues:
        return None
    lhs, rhs = cur.sides
    if not isinstance(lhs, sympy.Symbol) or rhs.free_symbols:
        return None
    return lhs


def _defines(cur: _Line, known: set) -> bool:
    """A line ``w = formula`` for a variable w that no earlier line used."""
    if cur.kind != "eq" or cur.sides is None or cur.continues:
        return False
    lhs = cur.sides[0]
    return isinstance(lhs, sympy.Symbol) and lhs not in known


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    for n in numbers:
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = out[-1].split("-")[0] + "-" + str(n)
        else:
            out.append(str(n))
    return ", ".join(out)


def _summary(findings: list[StepFinding], first_error: int | None) -> str:
    """Which steps were right, for method marks: "Steps 2-3 are right; step 4 is the first error."."""
    good = [
        f.index + 1
        for f in findings
        if f.status == StepStatus.correct and (first_error is None or f.index < first_error)
    ]
    parts = []
    if good:
        parts.append(
            "%s %s %s right" % ("Step" if len(good) == 1 else "Steps", _ranges(good), "is" if len(good) == 1 else "are")
        )
    if first_error is not None:
        parts.append("step %d is the first error" % (first_error + 1))
    text = "; ".join(parts)
    return (text[:1].upper() + text[1:] + ".") if text else ""


def _method_marks(findings: list[StepFinding], first_error: int | None):
    """Share of the checked steps (not counting starting points) before the first error."""
    steps = [f for f in findings if f.status != StepStatus.start]
    if not steps:
        return (1.0 if first_error is None else 0.0), 0
    good = [f for f in steps if f.ok and (first_error is None or f.index < first_error)]
    return round(len(good) / len(steps), 4), len(good)


def _short(text) -> str:
    t = re.sub(r"\s+", " ", str(text)).strip()
    return t if len(t) <= 60 else t[:57] + "..."
