"""Echo an answer as LaTeX exactly as it was read (from the AST, before any simplification)."""

from __future__ import annotations

from .parse import GREEK

__all__ = ["ast_latex", "MAX_LATEX"]

MAX_LATEX = 2_000

_FN_TEX = {
    "sin": "\\sin",
    "cos": "\\cos",
    "tan": "\\tan",
    "sec": "\\sec",
    "csc": "\\csc",
    "cot": "\\cot",
    "asin": "\\arcsin",
    "acos": "\\arccos",
    "atan": "\\arctan",
    "sinh": "\\sinh",
    "cosh": "\\cosh",
    "tanh": "\\tanh",
    "ln": "\\ln",
    "log": "\\log",
    "exp": "\\exp",
    "asec": "\\operatorname{arcsec}",
    "acsc": "\\operatorname{arccsc}",
    "acot": "\\operatorname{arccot}",
    "log10": "\\log_{10}",
}
_CONST_TEX = {"pi": "\\pi", "E": "e", "I": "i", "oo": "\\infty"}
_REL_TEX = {"=": "=", "<": "<", ">": ">", "<=": "\\le", ">=": "\\ge", "!=": "\\ne", "in": "\\in"}
_PREC = {"add": 1, "pm": 1, "neg": 2, "upm": 2, "mul": 3, "div": 3, "pow": 5, "fact": 6, "pct": 6}


def _sym(name: str) -> str:
    base, _, sub = name.partition("_")
    b = "\\" + base if base in GREEK else base
    return b + ("_{%s}" % sub if sub else "")


def _wrap(s: str) -> str:
    return "\\left(" + s + "\\right)"


def _p(node, min_prec: int) -> str:
    s = _tex(node)
    prec = _PREC.get(node[0], 9)
    if node[0] == "num" and node[1].startswith("-"):
        prec = 2
    return _wrap(s) if prec < min_prec else s


def _tex(node) -> str:
    k = node[0]
    if k == "num":
        t = node[1]
        if "e" in t.lower():
            m, _, e = t.lower().partition("e")
            return "%s \\times 10^{%d}" % (m, int(e))
        return t
    if k == "sym":
        return _sym(node[1])
    if k == "const":
        return _CONST_TEX[node[1]]
    if k == "paren":
        return _wrap(_tex(node[1]))
    if k == "add":
        out = _tex(node[1][0])
        for t in node[1][1:]:
            if t[0] == "neg":
                out += " - " + _p(t[1], 2 if t[1][0] != "neg" else 9)
            else:
                out += " + " + _p(t, 2)
        return out
    if k == "neg":
        return "-" + _p(node[1], 3)
    if k == "upm":
        return "\\pm " + _p(node[1], 3)
    if k == "pm":
        return _tex(node[1]) + " \\pm " + _p(node[2], 2)
    if k == "mul":
        parts: list[str] = []
        for i, f in enumerate(node[1]):
            s = _p(f, 3)
            if i and (f[0] == "num" or (parts and parts[-1][-1:].isdigit() and s[:1].isdigit())):
                parts.append(" \\cdot " + s)
            elif i:
                parts.append(" " + s if s[:1].isalpha() and parts[-1][-1:].isalpha() else s)
            else:
                parts.append(s)
        return "".join(parts)
    if k == "div":
        return "\\frac{%s}{%s}" % (_tex(node[1]), _tex(node[2]))
    if k == "pow":
        base = node[1]
        if base[0] == "fn" and base[1] in _FN_TEX:
            return "%s^{%s}\\left(%s\\right)" % (_FN_TEX[base[1]], _tex(node[2]), ", ".join(_tex(a) for a in base[2]))
        return "%s^{%s}" % (_p(base, 6), _tex(node[2]))
    if k == "fact":
        return _p(node[1], 6) + "!"
    if k == "pct":
        return _p(node[1], 6) + "\\%"
    if k == "abs":
        return "\\left|" + _tex(node[1]) + "\\right|"
    if k == "fn":
        name, args = node[1], node[2]
        if name == "sqrt":
            if len(args) == 2:
                return "\\sqrt[%s]{%s}" % (_tex(args[1]), _tex(args[0]))
            return "\\sqrt{%s}" % _tex(args[0])
        if name == "cbrt":
            return "\\sqrt[3]{%s}" % _tex(args[0])
        if name == "abs":
            return "\\left|" + _tex(args[0]) + "\\right|"
        if name == "binomial":
            return "\\binom{%s}{%s}" % (_tex(args[0]), _tex(args[1]))
        if name == "log" and len(args) == 2:
            return "\\log_{%s}\\left(%s\\right)" % (_tex(args[1]), _tex(args[0]))
        return "%s\\left(%s\\right)" % (
            _FN_TEX.get(name, "\\operatorname{%s}" % name),
            ", ".join(_tex(a) for a in args),
        )
    if k == "tuple":
        return _wrap(", ".join(_tex(a) for a in node[1]))
    if k == "bracket":
        return "\\left[" + ", ".join(_tex(a) for a in node[1]) + "\\right]"
    if k == "interval":
        return (
            ("\\left[" if node[1] else "\\left(")
            + _tex(node[2])
            + ", "
            + _tex(node[3])
            + ("\\right]" if node[4] else "\\right)")
        )
    if k == "set":
        return "\\left\\{" + ", ".join(_tex(a) for a in node[1]) + "\\right\\}"
    if k == "union":
        return " \\cup ".join(_tex(a) for a in node[1])
    if k == "special":
        return "\\emptyset" if node[1] == "empty" else "\\mathbb{R}"
    if k == "matrix":
        return "\\begin{pmatrix}" + " \\\\ ".join(" & ".join(_tex(c) for c in r) for r in node[1]) + "\\end{pmatrix}"
    if k == "rel":
        out = _tex(node[1][0])
        for op, e in zip(node[2], node[1][1:]):
            out += " %s %s" % (_REL_TEX[op], _tex(e))
        return out
    if k == "list":
        out = _tex(node[1][0])
        for sep, it in zip(node[2], node[1][1:]):
            out += (", " if sep in (",", ";") else " \\text{ %s } " % sep) + _tex(it)
        return out
    if k == "commas":
        return ", ".join(_tex(a) for a in node[1])
    return "?"


def ast_latex(node) -> str:
    try:
        s = _tex(node)
    except RecursionError:
        return "\\ldots"
    if len(s) > MAX_LATEX:
        s = s[:MAX_LATEX] + "\\ldots"
    return s
