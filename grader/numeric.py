"""Fast equality tests: exact rationals, then evaluation at fixed random points."""
from __future__ import annotations

import threading

import mpmath
import sympy
from sympy import S

__all__ = ["values_equal", "numeric_value", "point_values", "num_close", "SAMPLE_POINTS"]

# Random-looking rationals (no small integers, no simple fractions) used as sample points.
_VALS = [sympy.Rational(p, q) for p, q in (
    (7, 11), (-13, 17), (29, 23), (-37, 19), (53, 31), (3, 41), (-61, 43), (83, 29), (11, 47),
    (-5, 3), (97, 37), (-2, 53))]
SAMPLE_POINTS = 6
PREC = 40
_tls = threading.local()


def ctx() -> mpmath.MPContext:
    """A private, thread-local mpmath context (the global one is shared by all threads)."""
    c = getattr(_tls, "ctx", None)
    if c is None:
        c = mpmath.MPContext()
        c.prec = 500
        _tls.ctx = c
    return c


REL_TOL = 1e-25
MAX_EXACT_EXP = 60


def _zero(x) -> bool:
    return x == 0 or (hasattr(x, "_mpf_") and x._mpf_[1] == 0)


def numeric_value(expr, prec: int = PREC):
    """Value of a constant sympy expression as an mpmath mpc, or None if undefined/unknown."""
    try:
        if expr.has(S.NaN, S.ComplexInfinity):
            return None
        if expr.is_Rational:
            c = ctx()
            return c.mpc(c.mpf(int(expr.p)) / int(expr.q)) if abs(expr.q) < 10**300 and \
                abs(expr.p) < 10**300 else _fallback(expr, prec)
        v = expr.evalf(prec)
        if v.has(S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity):
            return None
        if v.is_Float:
            return ctx().mpc(_mpf(v))
        if not v.is_number or v.free_symbols:
            return None
        re, im = v.as_real_imag()
        if not (re.is_Number and im.is_Number) or not re.is_finite or not im.is_finite:
            return None
        return ctx().mpc(_mpf(re), _mpf(im))
    except (TypeError, ValueError, ArithmeticError, AttributeError, NotImplementedError):
        return None


def _mpf(v):
    c = ctx()
    if v.is_Float:
        m = c.mpf(v._mpf_)
        return c.mpf(0) if v._mpf_[1] == 0 else m
    if v.is_Rational:
        return c.mpf(int(v.p)) / int(v.q)
    return c.mpf(v.evalf(PREC)._mpf_)


def _fallback(expr, prec):
    v = expr.evalf(prec)
    return ctx().mpc(_mpf(v)) if v.is_Float else None


def num_close(a, b, rel=REL_TOL, abs_tol=0) -> bool:
    if _zero(a.real) and _zero(a.imag) and _zero(b.real) and _zero(b.imag):
        return True
    d = abs(a - b)
    scale = max(abs(a), abs(b))
    return d <= rel * scale or d <= abs_tol


def _max_int_exp(expr) -> int:
    m = 0
    for p in expr.atoms(sympy.Pow):
        e = p.exp
        if e.is_Integer and not p.base.is_number:
            m = max(m, abs(int(e)))
        elif not e.is_number:
            m = max(m, MAX_EXACT_EXP + 1)  # symbolic exponent: use floating points
    return m


def _subs(expr, point):
    try:
        return expr.xreplace(point)
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return None


def point_values(expr, syms, k=SAMPLE_POINTS, exact=None):
    """Values of expr at the sample points (None where undefined)."""
    if exact is None:
        exact = _max_int_exp(expr) <= MAX_EXACT_EXP
    out = []
    for i in range(k):
        point = {s: _VALS[(i * 5 + j * 7 + j * j) % len(_VALS)] for j, s in enumerate(syms)}
        if not exact:
            point = {s: sympy.Float(v, PREC) for s, v in point.items()}
        v = _subs(expr, point)
        if v is None or v.free_symbols:
            out.append(None)
            continue
        if v.is_Rational:
            out.append(v)
        else:
            out.append(numeric_value(v))
    return out


def _same(va, vb, rel=REL_TOL, abs_tol=0):
    if va is None or vb is None:
        return None
    if isinstance(va, sympy.Rational) and isinstance(vb, sympy.Rational):
        if rel == REL_TOL and not abs_tol:
            return va == vb
    if isinstance(va, sympy.Basic):
        va = numeric_value(va)
    if isinstance(vb, sympy.Basic):
        vb = numeric_value(vb)
    if va is None or vb is None:
        return None
    return num_close(va, vb, rel, abs_tol)


def values_equal(a, b, rel=None, abs_tol=None):
    """True / False, or None when no sample point gave a verdict.

    With the default (no tolerance) this is mathematical equality: exact for rational
    values and rational functions, 25 significant digits otherwise.
    """
    tol = REL_TOL if rel is None else rel
    atol = 0 if abs_tol is None else abs_tol
    exact_mode = rel is None and abs_tol is None
    if a == b:
        return True
    if a.has(S.NaN, S.ComplexInfinity) or b.has(S.NaN, S.ComplexInfinity):
        return False
    if a.is_infinite or b.is_infinite:
        return a == b
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not syms:
        if a.is_Rational and b.is_Rational and exact_mode:
            return a == b
        va, vb = numeric_value(a), numeric_value(b)
        r = _same(va, vb, tol, atol)
        if r and exact_mode and not (a.is_Rational and b.is_Rational):
            r = _same(numeric_value(a, 100), numeric_value(b, 100), 1e-80)
        return r
    exact = _max_int_exp(a) <= MAX_EXACT_EXP and _max_int_exp(b) <= MAX_EXACT_EXP
    pa = point_values(a, syms, exact=exact)
    pb = point_values(b, syms, exact=exact)
    agree = 0
    for va, vb in zip(pa, pb):
        r = _same(va, vb, tol, atol)
        if r is False:
            return False
        if r:
            agree += 1
    if agree >= 3:
        return True
    return None


def ratio_constant(a, b):
    """If a/b is the same constant at every sample point, return it (sympy number) else None."""
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not syms:
        if b == 0:
            return None
        r = a / b
        return r if r.is_number else None
    pa = point_values(a, syms)
    pb = point_values(b, syms)
    ratio = None
    for va, vb in zip(pa, pb):
        if va is None or vb is None:
            continue
        if isinstance(va, sympy.Basic) and isinstance(vb, sympy.Basic):
            if vb == 0:
                continue
            q = va / vb
        else:
            va = numeric_value(va) if isinstance(va, sympy.Basic) else va
            vb = numeric_value(vb) if isinstance(vb, sympy.Basic) else vb
            if va is None or vb is None or (_zero(vb.real) and _zero(vb.imag)):
                continue
            q = va / vb
        if ratio is None:
            ratio = q
        elif not _close_any(ratio, q):
            return None
    if ratio is None:
        return None
    if isinstance(ratio, sympy.Basic):
        return ratio
    return _nice(ratio)


def _close_any(a, b):
    if isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic) and a.is_Rational and b.is_Rational:
        return a == b
    a = numeric_value(a) if isinstance(a, sympy.Basic) else a
    b = numeric_value(b) if isinstance(b, sympy.Basic) else b
    return a is not None and b is not None and num_close(a, b, 1e-20)


def _nice(z):
    """mpc -> a sympy number (a rational if it is close to a small one)."""
    if abs(z.imag) > 1e-20 * max(abs(z), 1):
        return None
    x = z.real
    try:
        from fractions import Fraction
        f = Fraction(float(x)).limit_denominator(1000)
        if abs(x - ctx().mpf(f.numerator) / f.denominator) < 1e-20 * max(1, abs(x)):
            return sympy.Rational(f.numerator, f.denominator)
    except (OverflowError, ValueError):
        pass
    return sympy.Float(x, 30)
