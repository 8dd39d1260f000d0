"""Fast equality tests: exact rationals, then evaluation at fixed random points.

Rational functions are evaluated *exactly* (``fractions.Fraction``) at rational sample
points, so tiny differences such as ``x + 1/2004!`` vs ``x + 1/2006!`` are seen.  Everything
else is evaluated with a private, thread-local mpmath context at 77 significant digits and
compared to 25 significant digits.  A tree walker does the evaluation directly, which is
much faster than ``xreplace`` + ``evalf``.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import mpmath
import sympy
from sympy import S

__all__ = ["values_equal", "numeric_value", "point_values", "num_close", "ratio_constant", "ctx"]

_VALS = [
    Fraction(p, q)
    for p, q in (
        (7, 11),
        (-13, 17),
        (29, 23),
        (-37, 19),
        (53, 31),
        (3, 41),
        (-61, 43),
        (83, 29),
        (11, 47),
        (-5, 3),
        (97, 37),
        (-2, 53),
    )
]
SAMPLE_POINTS = 6
PREC_BITS = 256
REL_TOL = 1e-25
MAX_EXACT_BITS = 200_000

_tls = threading.local()


def ctx() -> mpmath.MPContext:
    """A private, thread-local mpmath context (the global one is shared by all threads)."""
    c = getattr(_tls, "ctx", None)
    if c is None:
        c = mpmath.MPContext()
        c.prec = PREC_BITS
        _tls.ctx = c
    return c


class _Unsupported(Exception):
    pass


# ------------------------------------------------------------------ exact evaluation


def _exact(e, pt):
    if e.is_Symbol:
        return pt[e]
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e.is_Add:
        total = Fraction(0)
        for a in e.args:
            total += _exact(a, pt)
        return total
    if e.is_Mul:
        prod = Fraction(1)
        for a in e.args:
            prod *= _exact(a, pt)
        return prod
    if e.is_Pow and e.exp.is_Integer:
        b = _exact(e.base, pt)
        n = int(e.exp)
        bits = max(b.numerator.bit_length(), b.denominator.bit_length())
        if bits * abs(n) > MAX_EXACT_BITS:
            raise _Unsupported
        return b**n
    raise _Unsupported


def _is_rational_function(e) -> bool:
    if e.is_Symbol or e.is_Rational:
        return True
    if e.is_Add or e.is_Mul:
        return all(_is_rational_function(a) for a in e.args)
    if e.is_Pow:
        return e.exp.is_Integer and _is_rational_function(e.base)
    return False


# ------------------------------------------------------------------ approximate evaluation


def _fn_table(c):
    t = getattr(_tls, "fns", None)
    if t is None:
        t = {
            sympy.sin: c.sin,
            sympy.cos: c.cos,
            sympy.tan: c.tan,
            sympy.sec: c.sec,
            sympy.csc: c.csc,
            sympy.cot: c.cot,
            sympy.asin: c.asin,
            sympy.acos: c.acos,
            sympy.atan: c.atan,
            sympy.asec: c.asec,
            sympy.acsc: c.acsc,
            sympy.acot: c.acot,
            sympy.sinh: c.sinh,
            sympy.cosh: c.cosh,
            sympy.tanh: c.tanh,
            sympy.exp: c.exp,
            sympy.log: c.log,
            sympy.Abs: abs,
            sympy.factorial: c.factorial,
            sympy.gamma: c.gamma,
        }
        _tls.fns = t
    return t


def _approx(e, pt, c):
    if e.is_Symbol:
        v = pt[e]
        return c.mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else v
    if e.is_Integer:
        return c.mpf(int(e))
    if e.is_Rational:
        return c.mpf(int(e.p)) / int(e.q)
    if e.is_Float:
        return c.mpf(e._mpf_)
    if e is S.Pi:
        return +c.pi
    if e is S.Exp1:
        return +c.e
    if e is S.ImaginaryUnit:
        return c.mpc(0, 1)
    if e.is_Add:
        return c.fsum(_approx(a, pt, c) for a in e.args)
    if e.is_Mul:
        return c.fprod(_approx(a, pt, c) for a in e.args)
    if e.is_Pow:
        b = _approx(e.base, pt, c)
        if e.exp.is_Integer:
            return b ** int(e.exp)
        if e.exp == S.Half:
            return c.sqrt(b)
        return c.power(b, _approx(e.exp, pt, c))
    f = _fn_table(c).get(e.func)
    if f is not None and len(e.args) == 1:
        return f(_approx(e.args[0], pt, c))
    if e.func is sympy.binomial:
        return c.binomial(_approx(e.args[0], pt, c), _approx(e.args[1], pt, c))
    raise _Unsupported


def _to_mpc(v, c):
    if isinstance(v, Fraction):
        return c.mpc(c.mpf(v.numerator) / v.denominator)
    return c.mpc(v)


def _finite(z, c) -> bool:
    return c.isfinite(z.real) and c.isfinite(z.imag)


def _evaluate(e, pt, exact: bool):
    """Value at a point: Fraction (exact) or mpc, or None where undefined / unsupported."""
    if exact:
        try:
            return _exact(e, pt)
        except ZeroDivisionError:
            return None
        except _Unsupported:
            pass
    c = ctx()
    try:
        v = c.mpc(_approx(e, pt, c))
    except _Unsupported:
        return _slow_value(e, pt)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    return v if _finite(v, c) else None


def _slow_value(e, pt):
    try:
        sub = {s: sympy.Rational(v.numerator, v.denominator) for s, v in pt.items()}
        v = e.xreplace(sub)
        return numeric_value(v)
    except (TypeError, ValueError, ArithmeticError, RecursionError, AttributeError):
        return None


def numeric_value(expr, prec_digits: int = 40):
    """Value of a constant sympy expression as an mpc (thread-local context), or None."""
    c = ctx()
    try:
        if expr.has(S.NaN, S.ComplexInfinity):
            return None
        if expr.is_Rational:
            return c.mpc(c.mpf(int(expr.p)) / int(expr.q))
        try:
            v = c.mpc(_approx(expr, {}, c))
            return v if _finite(v, c) else None
        except _Unsupported:
            pass
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
        v = expr.evalf(prec_digits)
        if v.has(S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity):
            return None
        if v.is_Float:
            return c.mpc(c.mpf(v._mpf_))
        if not v.is_number or v.free_symbols:
            return None
        re, im = v.as_real_imag()
        if not (re.is_Number and im.is_Number):
            return None
        return c.mpc(
            c.mpf(re.evalf(prec_digits)._mpf_) if not re.is_zero else 0,
            c.mpf(im.evalf(prec_digits)._mpf_) if not im.is_zero else 0,
        )
    except (TypeError, ValueError, ArithmeticError, AttributeError, NotImplementedError, RecursionError):
        return None


def num_close(a, b, rel=REL_TOL, abs_tol=0) -> bool:
    c = ctx()
    a, b = _to_mpc(a, c), _to_mpc(b, c)
    if a == b:
        return True
    d = abs(a - b)
    scale = max(abs(a), abs(b))
    return d <= rel * scale or d <= abs_tol


def _points(syms, k):
    for i in range(k):
        yield {s: _VALS[(i * 5 + j * 7 + j * j) % len(_VALS)] for j, s in enumerate(syms)}


def point_values(expr, syms, k=SAMPLE_POINTS, exact=None):
    """Values of expr at the sample points (None where undefined)."""
    if exact is None:
        exact = _is_rational_function(expr)
    return [_evaluate(expr, pt, exact) for pt in _points(syms, k)]


def _same(va, vb, rel=REL_TOL, abs_tol=0):
    if va is None or vb is None:
        return None
    if isinstance(va, Fraction) and isinstance(vb, Fraction) and rel == REL_TOL and not abs_tol:
        return va == vb
    return num_close(va, vb, rel, abs_tol)


def values_equal(a, b, rel=None, abs_tol=None):
    """True / False, or None when no sample point gave a verdict.

    With no tolerance this is mathematical equality: exact for rational values and
    rational functions, 25 significant digits otherwise.
    """
    tol = REL_TOL if rel is None else rel
    atol = 0 if abs_tol is None else abs_tol
    exact_mode = rel is None and abs_tol is None
    if a == b:
        return True
    if a.has(S.NaN, S.ComplexInfinity) or b.has(S.NaN, S.ComplexInfinity):
        return False
    if a.has(S.Infinity, S.NegativeInfinity) or b.has(S.Infinity, S.NegativeInfinity):
        return a == b
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not syms:
        if a.is_Rational and b.is_Rational and exact_mode:
            return a == b
        r = _same(numeric_value(a), numeric_value(b), tol, atol)
        if r and exact_mode:
            c = ctx()
            old = c.prec
            c.prec = 700
            try:
                r = _same(numeric_value(a, 200), numeric_value(b, 200), 1e-80)
            finally:
                c.prec = old
        return r
    exact = _is_rational_function(a) and _is_rational_function(b)
    agree = 0
    for pt in _points(syms, SAMPLE_POINTS):
        r = _same(_evaluate(a, pt, exact), _evaluate(b, pt, exact), tol, atol)
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
    exact = _is_rational_function(a) and _is_rational_function(b)
    ratio = None
    c = ctx()
    for pt in _points(syms, SAMPLE_POINTS):
        va, vb = _evaluate(a, pt, exact), _evaluate(b, pt, exact)
        if va is None or vb is None:
            continue
        if isinstance(va, Fraction) and isinstance(vb, Fraction):
            if vb == 0:
                continue
            q = va / vb
        else:
            va, vb = _to_mpc(va, c), _to_mpc(vb, c)
            if vb == 0:
                continue
            q = va / vb
        if ratio is None:
            ratio = q
        elif not _close_any(ratio, q):
            return None
    if ratio is None:
        return None
    if isinstance(ratio, Fraction):
        return sympy.Rational(ratio.numerator, ratio.denominator)
    return _nice(ratio)


def _close_any(a, b):
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    return num_close(a, b, 1e-20)


def _nice(z):
    """mpc -> a sympy number (a rational if it is close to a small one)."""
    c = ctx()
    if abs(z.imag) > 1e-20 * max(abs(z), 1):
        return None
    x = z.real
    try:
        f = Fraction(float(x)).limit_denominator(1000)
        if abs(x - c.mpf(f.numerator) / f.denominator) < 1e-20 * max(1, abs(x)):
            return sympy.Rational(f.numerator, f.denominator)
        return sympy.Float(c.nstr(x, 30), 30)
    except (OverflowError, ValueError, TypeError, AttributeError):
        return None
