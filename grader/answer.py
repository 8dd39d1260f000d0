"""Classify a parsed answer into a kind and build the sympy values for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy import S

from .build import contains_decimal, to_expr
from .limits import bounded
from .parse import ParseError, parse

__all__ = ["Answer", "read_answer"]

KINDS = ("expr", "equation", "values", "tuple", "bracket", "realset", "relation", "named", "matrix", "system")


@dataclass
class Answer:
    kind: str
    value: Any
    ast: Any
    text: str
    var: Any = None  # the variable of "x = 3 or x = -2"
    decimal: bool = False  # any decimal literal in the answer
    braces: bool = False  # values written as a set {...}
    joined_by_or: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_number(self) -> bool:
        return self.kind == "expr" and not self.value.free_symbols


def _lone_symbol(node):
    return node[0] == "sym"


MAX_PM = 3


def _has_pm(node) -> bool:
    if not isinstance(node, tuple):
        return isinstance(node, list) and any(_has_pm(n) for n in node)
    if node[0] in ("pm", "upm"):
        return True
    return any(_has_pm(c) for c in node[1:] if isinstance(c, (tuple, list)))


def _split_pm(node):
    """Replace the first ± in the tree by + and by -: returns two trees (or None)."""
    if isinstance(node, list):
        for i, n in enumerate(node):
            r = _split_pm(n)
            if r:
                return [node[:i] + [r[0]] + node[i + 1 :], node[:i] + [r[1]] + node[i + 1 :]]
        return None
    if not isinstance(node, tuple):
        return None
    if node[0] == "pm":
        return [("add", [node[1], node[2]]), ("add", [node[1], ("neg", node[2])])]
    if node[0] == "upm":
        return [node[1], ("neg", node[1])]
    for i, c in enumerate(node):
        if i and isinstance(c, (tuple, list)):
            r = _split_pm(c)
            if r:
                return [node[:i] + (r[0],) + node[i + 1 :], node[:i] + (r[1],) + node[i + 1 :]]
    return None


def _expand_pm(node) -> list:
    out = [node]
    for _ in range(MAX_PM):
        nxt = []
        changed = False
        for n in out:
            r = _split_pm(n)
            if r:
                nxt.extend(r)
                changed = True
            else:
                nxt.append(n)
        out = nxt
        if not changed:
            return out
    if any(_has_pm(n) for n in out):
        raise ParseError("Too many \u00b1 signs to check.", "pm")
    return out


def _values_of(node) -> list:
    """Values of a right-hand side: plain expression, a ± b, ±a, or a set."""
    k = node[0]
    if k not in ("upm", "pm", "set", "paren") and _has_pm(node):
        vals: list = []
        for n in _expand_pm(node):
            v = to_expr(n)
            if not any(v == u for u in vals):
                vals.append(v)
        return vals
    if k == "upm":
        v = to_expr(node[1])
        return [v, -v] if v != 0 else [v]
    if k == "pm":
        a = to_expr(node[1])
        b = to_expr(node[2])
        return [a + b, a - b] if b != 0 else [a]
    if k == "set":
        out = []
        for it in node[1]:
            out.extend(_values_of(it))
        return out
    if k == "paren":
        return _values_of(node[1])
    return [to_expr(node)]


def _rel(op, a, b):
    if op == "<":
        return sympy.StrictLessThan(a, b)
    if op == ">":
        return sympy.StrictGreaterThan(a, b)
    if op == "<=":
        return sympy.LessThan(a, b)
    if op == ">=":
        return sympy.GreaterThan(a, b)
    if op == "!=":
        return sympy.Ne(a, b)
    return sympy.Eq(a, b)


def to_set(node):
    """AST node that denotes a subset of the reals -> sympy Set."""
    k = node[0]
    if k == "special":
        return S.EmptySet if node[1] == "empty" else S.Reals
    if k == "interval":
        a, b = to_expr(node[2]), to_expr(node[3])
        _check_endpoints(a, b)
        return sympy.Interval(a, b, not node[1], not node[4])
    if k == "tuple" and len(node[1]) == 2:
        a, b = to_expr(node[1][0]), to_expr(node[1][1])
        _check_endpoints(a, b)
        return sympy.Interval.open(a, b)
    if k == "bracket" and len(node[1]) == 2:
        a, b = to_expr(node[1][0]), to_expr(node[1][1])
        _check_endpoints(a, b)
        return sympy.Interval(a, b)
    if k == "set":
        return sympy.FiniteSet(*[v for it in node[1] for v in _values_of(it)])
    if k == "union":
        return sympy.Union(*[to_set(p) for p in node[1]])
    raise ParseError("We expected an interval or a set here.", "not-set")


def _check_endpoints(a, b):
    for v in (a, b):
        if v.free_symbols or not (v.is_real or v in (S.Infinity, S.NegativeInfinity)):
            raise ParseError("Interval endpoints must be real numbers.", "not-set")
    if (a > b) == S.true:
        raise ParseError("An interval's left end must not be bigger than its right end.", "not-set")


def relation_set(rel_node, var=None):
    """Solution set over the reals of a univariate inequality chain, or None if not univariate."""
    try:
        return _relation_set(rel_node)
    except (TypeError, ValueError, NotImplementedError) as e:
        if isinstance(e, ParseError):
            raise
        raise ParseError("We could not read this inequality: both sides must be real.", "not-real") from None


def _relation_set(rel_node):
    exprs = [to_expr(e) for e in rel_node[1]]
    ops = rel_node[2]
    syms = set().union(*[e.free_symbols for e in exprs])
    if len(syms) != 1:
        return None, None
    x = next(iter(syms))
    result = S.Reals
    for op, a, b in zip(ops, exprs, exprs[1:]):
        result = sympy.Intersection(result, _solve_rel(op, a, b, x))
    return result, x


def _solve_rel(op, a, b, x):
    # fast path: x op number / number op x
    if a == x and not b.free_symbols and b.is_real:
        return _simple(op, b, left=True)
    if b == x and not a.free_symbols and a.is_real:
        return _simple(op, a, left=False)
    if op == "!=":
        inner = _solve_rel("=", a, b, x)
        return sympy.Complement(S.Reals, inner)
    poly = _poly_relation(op, a, b, x)
    if poly is not None:
        return poly
    size = sympy.count_ops(a) + sympy.count_ops(b)
    if op == "=":
        sol = bounded(lambda: sympy.solveset(sympy.Eq(a, b), x, S.Reals), 0.5, size=size)
    else:
        sol = bounded(lambda: sympy.solveset(_rel(op, a, b), x, S.Reals), 0.5, size=size)
    if sol is None:
        raise ParseError("This inequality is too complicated to check.", "too-big")
    return sol


MAX_RELATION_DEGREE = 12


def _poly_relation(op, a, b, x):
    """Solution set of a polynomial relation from its real roots: fast and the same on a cold
    process as on a warm one (sympy's first solveset call takes about half a second)."""
    from sympy.solvers.inequalities import solve_poly_inequality

    f = a - b
    try:
        if not f.is_polynomial(x):
            return None
        P = sympy.Poly(f, x)
        if (
            P.degree() > MAX_RELATION_DEGREE
            or P.degree() < 1
            or not all(c.is_real and c.is_number for c in P.all_coeffs())
        ):
            return None
        rel = {"=": "==", "!=": "!="}.get(op, op)
        return sympy.Union(*solve_poly_inequality(P, rel))
    except (sympy.PolynomialError, NotImplementedError, ValueError, TypeError):
        return None


def _simple(op, c, left):
    # left: x op c ; else c op x
    if not left:
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}[op]
    if op == "<":
        return sympy.Interval.open(S.NegativeInfinity, c)
    if op == "<=":
        return sympy.Interval(S.NegativeInfinity, c)
    if op == ">":
        return sympy.Interval.open(c, S.Infinity)
    if op == ">=":
        return sympy.Interval(c, S.Infinity)
    if op == "=":
        return sympy.FiniteSet(c)
    return sympy.Complement(S.Reals, sympy.FiniteSet(c))


def _from_node(node, text, decimal):
    k = node[0]
    A = lambda kind, value, **kw: Answer(kind, value, node, text, decimal=decimal, **kw)  # noqa: E731
    if k == "special":
        return A("realset", to_set(node))
    if k in ("interval", "union"):
        return A("realset", to_set(node))
    if k == "matrix":
        rows = [[to_expr(c) for c in r] for r in node[1]]
        if not rows or any(len(r) != len(rows[0]) for r in rows) or not rows[0]:
            raise ParseError("Every row of a matrix needs the same number of entries.", "matrix")
        return A("matrix", sympy.ImmutableMatrix(rows))
    if k == "set":
        vals = _values_of(node)
        return A("values", vals, braces=True)
    if k in ("upm", "pm"):
        return A("values", _values_of(node))
    if k == "tuple":
        return A("tuple", [to_expr(c) for c in node[1]])
    if k == "bracket":
        return A("bracket", [to_expr(c) for c in node[1]])
    if k == "rel":
        return _from_rel(node, text, decimal)
    if k == "list":
        return _from_list(node, text, decimal)
    if _has_pm(node):
        return A("values", _values_of(node))
    return A("expr", to_expr(node))


def _from_rel(node, text, decimal):
    exprs, ops = node[1], node[2]
    A = lambda kind, value, **kw: Answer(kind, value, node, text, decimal=decimal, **kw)  # noqa: E731
    if ops == ["in"]:
        s = to_set(exprs[1])
        if not _lone_symbol(exprs[0]):
            raise ParseError("We expected 'x \u2208 ...'.", "syntax")
        return A("realset", s, var=to_expr(exprs[0]))
    if "in" in ops:
        raise ParseError("We could not read '\u2208' here.", "syntax")
    if ops and all(o == "=" for o in ops) and (len(exprs) > 2 or not _has_symbols(exprs)):
        # a chain of working "x = 5+5+1 = 11" or "5+5+1 = 11": the answer is the last member
        last = exprs[-1]
        if _lone_symbol(exprs[0]) and len(exprs) > 2:
            return _from_rel(("rel", [exprs[0], last], ["="]), text, decimal)
        return _from_node(last, text, decimal)
    if (
        ops == ["="]
        and exprs[0][0] == "tuple"
        and all(_lone_symbol(e) for e in exprs[0][1])
        and exprs[1][0] == "tuple"
        and len(exprs[0][1]) == len(exprs[1][1])
    ):
        # "(p, q) = (3, 2)": a tuple whose entries are named
        names = [e[1] for e in exprs[0][1]]
        if len(set(names)) == len(names):
            return A("tuple", [to_expr(c) for c in exprs[1][1]], extra={"names": names})
    if ops == ["="]:
        lhs, rhs = exprs
        if _lone_symbol(lhs) and rhs[0] in ("set", "interval", "union", "special"):
            if rhs[0] == "set":
                return A("values", _values_of(rhs), var=to_expr(lhs), braces=True)
            return A("realset", to_set(rhs), var=to_expr(lhs))
        if _lone_symbol(lhs) and _has_pm(rhs):
            return A("values", _values_of(rhs), var=to_expr(lhs))
        if _lone_symbol(lhs) and rhs[0] == "tuple":
            return A("tuple", [to_expr(c) for c in rhs[1]], var=to_expr(lhs))
        if _lone_symbol(lhs) and rhs[0] == "matrix":
            a = _from_node(rhs, text, decimal)
            a.var = to_expr(lhs)
            return a
        if _lone_symbol(rhs) and lhs[0] in ("upm", "pm"):
            return A("values", _values_of(lhs), var=to_expr(rhs))
        left, right = to_expr(lhs), to_expr(rhs)
        if _lone_symbol(lhs) and left not in right.free_symbols:
            return A("values", [right], var=left, extra={"lhs": left, "rhs": right})
        if _lone_symbol(rhs) and right not in left.free_symbols and not left.free_symbols:
            return A("values", [left], var=right, extra={"lhs": left, "rhs": right})
        return A("equation", (left, right))
    if "=" in ops:
        raise ParseError("We could not read a mix of '=' and inequality signs.", "syntax")
    s, x = relation_set(node)
    if s is not None:
        return A("realset", s, var=x, extra={"relation": node})
    try:
        rels = [_rel(o, to_expr(a), to_expr(b)) for o, a, b in zip(ops, exprs, exprs[1:])]
    except TypeError:
        raise ParseError("We could not read this inequality: both sides must be real.", "not-real") from None
    return A("relation", rels)


def _has_symbols(nodes) -> bool:
    for n in nodes:
        if isinstance(n, tuple):
            if n[0] == "sym":
                return True
            if _has_symbols([c for c in n[1:] if isinstance(c, (tuple, list))]):
                return True
        elif isinstance(n, list) and _has_symbols(n):
            return True
    return False


def _from_list(node, text, decimal):
    items, seps = node[1], node[2]
    A = lambda kind, value, **kw: Answer(kind, value, node, text, decimal=decimal, **kw)  # noqa: E731
    joined_by_or = "or" in seps
    parts = [_from_node(it, text, decimal) for it in items]
    kinds = {p.kind for p in parts}
    if kinds <= {"values"} and all(p.var is not None for p in parts):
        names = [p.var for p in parts]
        if len(set(names)) == 1:
            vals = [v for p in parts for v in p.value]
            return A("values", vals, var=names[0], joined_by_or=True)
        if len(set(names)) == len(names) and all(len(p.value) == 1 for p in parts) and not joined_by_or:
            return A("named", {str(p.var): p.value[0] for p in parts})
        if not joined_by_or and all(len(p.value) == 1 for p in parts):
            return A("system", [sympy.Eq(p.var, p.value[0]) for p in parts])
    named = {str(p.var) for p in parts if p.var is not None}
    if (
        kinds <= {"expr", "values"}
        and len(named) == 1
        and parts[0].var is not None
        and all(p.var is None or len(p.value) == 1 for p in parts)
    ):
        vals = [v for p in parts for v in (p.value if p.kind == "values" else [p.value])]
        return A("values", vals, var=parts[0].var, joined_by_or=joined_by_or)
    if kinds <= {"expr", "values"} and all(p.var is None for p in parts):
        if "values" in kinds:
            vals = [v for p in parts for v in p.value]
        else:
            vals = [p.value for p in parts]
        return A("values", vals, joined_by_or=joined_by_or)
    if kinds <= {"realset"}:
        if "and" in seps and "or" not in seps:
            return A("realset", sympy.Intersection(*[p.value for p in parts]), var=parts[0].var)
        return A("realset", sympy.Union(*[p.value for p in parts]), var=parts[0].var)
    if kinds <= {"tuple"} or kinds <= {"bracket"} or kinds <= {"tuple", "bracket"}:
        if all(len(p.value) == 2 for p in parts) and kinds == {"tuple"} and joined_by_or:
            pass
        return A("values", [sympy.Tuple(*p.value) for p in parts], joined_by_or=joined_by_or, extra={"tuples": True})
    if kinds <= {"equation", "values"} and not joined_by_or:
        eqs = []
        for p in parts:
            if p.kind == "equation":
                eqs.append(sympy.Eq(*p.value, evaluate=False))
            elif p.var is not None and len(p.value) == 1:
                eqs.append(sympy.Eq(p.var, p.value[0], evaluate=False))
            else:
                raise ParseError("We could not read this list of equations.", "syntax")
        return A("system", eqs)
    raise ParseError("We could not read this list: mix of different kinds of answers.", "mixed")


def read_answer(text: str, max_length: int) -> Answer:
    ast, norm = parse(text, max_length)
    ans = _from_node(ast, norm, contains_decimal(ast))
    _check_finite(ans)
    return ans


def _bad(v) -> bool:
    return v.has(S.NaN, S.ComplexInfinity) if isinstance(v, sympy.Basic) else False


def _check_finite(ans: Answer):
    vals = []
    if ans.kind == "expr":
        vals = [ans.value]
    elif ans.kind in ("values", "tuple", "bracket"):
        vals = list(ans.value)
    elif ans.kind == "equation":
        vals = list(ans.value)
    elif ans.kind == "named":
        vals = list(ans.value.values())
    for v in vals:
        if _bad(v):
            raise ParseError("Your answer contains an undefined value (like 1/0 or 0/0).", "undefined")
