"""AST -> sympy objects, through constructors only, with guards against huge work."""

from __future__ import annotations

import contextvars

import sympy
from sympy import S

from .parse import ParseError

__all__ = ["TooBig", "to_expr", "MAX_DIGITS", "MAX_FACTORIAL"]

MAX_DIGITS = 20_000  # refuse exact numbers with more digits than this
MAX_FACTORIAL = 3_000
MAX_SYMBOLIC_EXP = 10**6


class TooBig(ParseError):
    def __init__(self, message="That number is too large to check."):
        super().__init__(message, "too-big")


_FN = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "cot": sympy.cot,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "asec": sympy.asec,
    "acsc": sympy.acsc,
    "acot": sympy.acot,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
}
_CONST = {"pi": S.Pi, "E": S.Exp1, "I": S.ImaginaryUnit, "oo": S.Infinity}

_SYMBOLS: dict[str, sympy.Symbol] = {}

# "log x" with no base: natural log by default; check_answer retries with base 10.
BARE_LOG_BASE10: contextvars.ContextVar = contextvars.ContextVar("bare_log_base10", default=False)


def symbol(name: str) -> sympy.Symbol:
    s = _SYMBOLS.get(name)
    if s is None:
        s = sympy.Symbol(name)
        if len(_SYMBOLS) < 10_000:
            _SYMBOLS[name] = s
    return s


def _log10_abs(r) -> float:
    """log10 of the largest of numerator/denominator of a Rational."""
    p, q = abs(int(r.p)), int(r.q)
    m = max(p, q)
    return (m.bit_length()) * 0.30103


def _bits(v) -> int:
    if v.is_Rational:
        return int(v.p).bit_length() + int(v.q).bit_length()
    return sum(_bits(a) for a in v.args if a.is_Rational) if v.is_Mul else 0


def _check_product(factors):
    """Refuse exact products whose size would pass MAX_DIGITS (one huge C-level multiply)."""
    if sum(_bits(f) for f in factors) > MAX_DIGITS * 3.33:
        raise TooBig()


def check_pow(base, exp):
    """Raise TooBig if evaluating base**exp would build an enormous exact number."""
    if exp.is_Number and not exp.is_finite:
        return
    if base.is_Rational and exp.is_Rational:
        if base in (S.Zero, S.One, S.NegativeOne):
            return
        e = abs(exp)
        if e > MAX_DIGITS * 4 or e * _log10_abs(base) > MAX_DIGITS:
            raise TooBig()
        return
    if exp.is_Rational and abs(exp) > MAX_SYMBOLIC_EXP:
        raise TooBig("That exponent is too large to check.")
    if not exp.is_number and _tower(exp) >= 2:
        raise TooBig("That power tower is too large to check.")
    if exp.is_number and not exp.is_Rational:
        # e.g. e^(e^(e^10)) or 2^(10^9/3 + pi): look at the size without exact work
        big = False
        try:
            v = exp.evalf(15)
            if v.is_Number:
                big = bool(not v.is_finite or abs(v) > MAX_SYMBOLIC_EXP)
            elif v.is_number:
                big = bool(abs(v).evalf(15) > MAX_SYMBOLIC_EXP)
        except (ValueError, TypeError, ArithmeticError):
            pass
        if big:
            raise TooBig("That exponent is too large to check.")


def _tower(e, depth=0) -> int:
    """Height of the tower of powers with variable exponents inside e (x^(x^x) -> 2)."""
    if depth > 3:
        return depth
    m = 0
    for p in e.atoms(sympy.Pow, sympy.exp):
        ex = p.exp if isinstance(p, sympy.Pow) else p.args[0]
        if not ex.is_number:
            m = max(m, 1 + _tower(ex, depth + 1))
            if m >= 3:
                return m
    return m


def to_expr(node, evaluate: bool = True):
    """Build a sympy expression from an expression AST node."""
    k = node[0]
    if k == "num":
        return node[2]
    if k == "sym":
        return symbol(node[1])
    if k == "const":
        return _CONST[node[1]]
    if k == "paren":
        return to_expr(node[1], evaluate)
    if k == "add":
        return sympy.Add(*[to_expr(t, evaluate) for t in node[1]], evaluate=evaluate)
    if k == "neg":
        x = to_expr(node[1], evaluate)
        if evaluate:
            return -x
        if x.is_Number:
            return -x
        return sympy.Mul(S.NegativeOne, x, evaluate=False)
    if k == "mul":
        factors = [to_expr(t, evaluate) for t in node[1]]
        if evaluate:
            _check_product(factors)
        return sympy.Mul(*factors, evaluate=evaluate)
    if k == "div":
        a = to_expr(node[1], evaluate)
        b = to_expr(node[2], evaluate)
        if evaluate:
            if b == 0:
                raise ParseError("Your answer divides by zero.", "undefined")
            _check_product([a, b])
            return a / b
        return sympy.Mul(a, sympy.Pow(b, -1, evaluate=False), evaluate=False)
    if k == "pow":
        a = to_expr(node[1], evaluate)
        b = to_expr(node[2], evaluate)
        if evaluate:
            check_pow(a, b)
            if a == 0 and (b.is_negative or b == 0):
                raise ParseError("Your answer contains an undefined power of zero.", "undefined")
            return sympy.Pow(a, b)
        return sympy.Pow(a, b, evaluate=False)
    if k == "pct":
        x = to_expr(node[1], evaluate)
        if evaluate:
            return x / 100
        return sympy.Mul(x, sympy.Pow(100, -1, evaluate=False), evaluate=False)
    if k == "fact":
        x = to_expr(node[1], evaluate)
        if evaluate:
            if x.is_Integer:
                if x < 0:
                    raise ParseError("A factorial of a negative number is undefined.", "undefined")
                if x > MAX_FACTORIAL:
                    raise TooBig("That factorial is too large to check.")
            elif x.is_number:
                raise ParseError("We can only take factorials of whole numbers.", "undefined")
        return sympy.factorial(x, evaluate=evaluate)
    if k == "abs":
        return sympy.Abs(to_expr(node[1], evaluate), evaluate=evaluate)
    if k == "fn":
        return _fn(node[1], [to_expr(a, evaluate) for a in node[2]], evaluate)
    if k in ("pm", "upm"):
        raise ParseError("We could not read \u00b1 inside a larger expression.", "pm")
    raise ParseError("We expected a single expression here.", "not-expression")


def _fn(name, args, evaluate):
    if name == "sqrt":
        if len(args) == 2:
            x, n = args
            if evaluate:
                if n == 0:
                    raise ParseError("A zeroth root is undefined.", "undefined")
                return (
                    sympy.root(x, n)
                    if not (x.is_number and x.is_negative and n.is_Integer and n % 2)
                    else -sympy.root(-x, n)
                )
            return sympy.Pow(x, sympy.Pow(n, -1, evaluate=False), evaluate=False)
        if len(args) != 1:
            raise ParseError("sqrt takes one argument.", "syntax")
        return sympy.sqrt(args[0], evaluate=evaluate)
    if name == "cbrt":
        if len(args) != 1:
            raise ParseError("cbrt takes one argument.", "syntax")
        x = args[0]
        if evaluate and x.is_number and x.is_negative:
            return -sympy.cbrt(-x)
        return sympy.Pow(x, sympy.Rational(1, 3), evaluate=evaluate)
    if name == "abs":
        return sympy.Abs(args[0], evaluate=evaluate)
    if name in ("ln", "log", "log10"):
        if name == "log10":
            args = [args[0], sympy.Integer(10)]
        if len(args) == 1 and name == "log" and BARE_LOG_BASE10.get():
            args = [args[0], sympy.Integer(10)]
        if len(args) == 1:
            x = args[0]
            if evaluate and x == 0:
                raise ParseError("The logarithm of zero is undefined.", "undefined")
            return sympy.log(x, evaluate=evaluate)
        if len(args) == 2:
            x, b = args
            if evaluate and (x == 0 or b in (0, 1)):
                raise ParseError("That logarithm is undefined.", "undefined")
            if not evaluate:
                return sympy.Mul(
                    sympy.log(x, evaluate=False),
                    sympy.Pow(sympy.log(b, evaluate=False), -1, evaluate=False),
                    evaluate=False,
                )
            return sympy.log(x, b)
        raise ParseError("log takes one or two arguments.", "syntax")
    if name == "binomial":
        a, b = args
        if evaluate and a.is_Integer and a > MAX_FACTORIAL:
            raise TooBig()
        return sympy.binomial(a, b, evaluate=evaluate)
    f = _FN.get(name)
    if f is None or len(args) != 1:
        raise ParseError("We could not read the function %s." % name, "syntax")
    x = args[0]
    if evaluate and name == "exp":
        check_pow(S.Exp1, x)
    return f(x, evaluate=evaluate)


def has_bare_log(node) -> bool:
    if isinstance(node, list):
        return any(has_bare_log(n) for n in node)
    if not isinstance(node, tuple):
        return False
    if node[0] == "fn" and node[1] == "log" and len(node[2]) == 1:
        return True
    return any(has_bare_log(c) for c in node[1:] if isinstance(c, (tuple, list)))


def contains_decimal(node) -> bool:
    if not isinstance(node, tuple):
        if isinstance(node, list):
            return any(contains_decimal(n) for n in node)
        return False
    if node[0] == "num":
        return node[3]
    return any(contains_decimal(c) for c in node[1:] if isinstance(c, (tuple, list)))


def decimal_places(node) -> int | None:
    """Decimal places of a lone decimal literal (possibly negated)."""
    if node[0] == "neg":
        return decimal_places(node[1])
    if node[0] == "num" and node[3] and "e" not in node[1].lower():
        return len(node[1].partition(".")[2])
    return None


def sig_figs(node) -> int | None:
    if node[0] == "neg":
        return sig_figs(node[1])
    if node[0] != "num":
        return None
    t = node[1].lower().partition("e")[0]
    digits = t.replace(".", "").lstrip("0")
    if "." in t:
        return max(len(digits), 1)
    return max(len(digits.rstrip("0")), 1)
