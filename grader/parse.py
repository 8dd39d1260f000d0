"""Reading student answers: plain text and LaTeX -> a small AST.

No user text ever reaches ``eval``/``sympify``/``parse_expr``: a tokenizer and a
recursive-descent parser build a tuple AST, and :mod:`grader.build` turns that
into sympy objects through their constructors, with size guards.

AST nodes are tuples whose first item is the kind:

    ("num", text, Rational, is_decimal)   ("sym", name)   ("const", "pi"|"E"|"I"|"oo")
    ("add", [nodes])  ("neg", x)  ("mul", [nodes])  ("div", a, b)  ("pow", a, b)
    ("fn", name, [args])  ("fact", x)  ("pct", x)  ("abs", x)  ("pm", a, b)  ("upm", x)
    ("tuple", [items])  ("bracket", [items])  ("interval", lc, a, b, rc)  ("set", [items])
    ("matrix", [[...]])  ("union", [sets])  ("special", "empty"|"reals")
    ("rel", [exprs], [ops])  ("in", x, set)  ("list", [items], [seps])
"""

from __future__ import annotations

import re
from fractions import Fraction

import sympy

from .units import split_unit_tail

__all__ = ["ParseError", "parse", "normalize_text", "normalize_parts", "MAX_LENGTH"]

MAX_LENGTH = 10_000
MAX_DEPTH = 60  # nesting of brackets / unary operators / powers
MAX_NODES = 5_000
MAX_LITERAL_DIGITS = 1_000


class ParseError(ValueError):
    """The text could not be read; ``message`` is safe to show a student."""

    def __init__(self, message: str, code: str = "unreadable"):
        super().__init__(message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

_UNICODE = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2012": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u00d7": "*",
    "\u22c5": "*",
    "\u00b7": "*",
    "\u2217": "*",
    "\u2715": "*",
    "\u2716": "*",
    "\u00f7": "/",
    "\u2215": "/",
    "\u2044": "/",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2266": "<=",
    "\u2267": ">=",
    "\u2a7d": "<=",
    "\u2a7e": ">=",
    "\u2248": "=",
    "\u03c0": " pi ",
    "\u221e": " oo ",
    "\u221a": " sqrt ",
    "\u221b": " cbrt ",
    "\u00b1": "+-",
    "\u2213": "-+",
    "\u2205": " emptyset ",
    "\u211d": " Reals ",
    "\u222a": " cup ",
    "\u2208": " in ",
    "\u00b0": " deg ",
    "\u2032": "'",
    "\uff08": "(",
    "\uff09": ")",
    "\uff0c": ",",
    "\uff1a": ":",
    "\u3001": ",",
    "\uff1d": "=",
    "\u00a3": " ",
    "\u20ac": " ",
    "\u00a5": " ",  # currency signs: the number is the answer
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u200b": "",
    "\u3000": " ",
    "\u03b8": " theta ",
    "\u03b1": " alpha ",
    "\u03b2": " beta ",
    "\u03b3": " gamma ",
    "\u03bb": " lambda ",
    "\u03bc": " mu ",
    "\u03c6": " phi ",
    "\u03c9": " omega ",
    "\u0394": " Delta ",
    "\u03b4": " delta ",
    "\u03c3": " sigma ",
    "\u03c4": " tau ",
}
_SUPERSCRIPTS = {
    "\u2070": "0",
    "\u00b9": "1",
    "\u00b2": "2",
    "\u00b3": "3",
    "\u2074": "4",
    "\u2075": "5",
    "\u2076": "6",
    "\u2077": "7",
    "\u2078": "8",
    "\u2079": "9",
    "\u207b": "-",
    "\u207a": "+",
}
_VULGAR = {
    "\u00bd": (1, 2),
    "\u2153": (1, 3),
    "\u2154": (2, 3),
    "\u00bc": (1, 4),
    "\u00be": (3, 4),
    "\u2155": (1, 5),
    "\u2156": (2, 5),
    "\u2157": (3, 5),
    "\u2158": (4, 5),
    "\u2159": (1, 6),
    "\u215a": (5, 6),
    "\u215b": (1, 8),
    "\u215c": (3, 8),
    "\u215d": (5, 8),
    "\u215e": (7, 8),
}
_SUP_RE = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_VULGAR_RE = re.compile(r"(?<!\d)(\d+)?\s?([" + "".join(_VULGAR) + "])")
_UNICODE_RE = re.compile("|".join(re.escape(k) for k in _UNICODE))

_LATEX_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?"
    r"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|mathstrut|strut|boldsymbol|bm)(?![a-zA-Z])"
    r"|\\(?:quad|qquad)(?![a-zA-Z])|(?<!\\)\\[,;:! ]|~"
)
_TEXTLIKE = re.compile(
    r"\\(?:text|textrm|textit|textbf|mathrm|mathit|mathbf|mbox|operatorname|textnormal)"
    r"\s*\{([^{}]*)\}"
)
_DOLLAR = re.compile(r"\$+")
_THOUSANDS = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])")
_THOUSANDS_SP = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d ]|\.\d| ?/)")
_MIXED = re.compile(r"(?<![\w.)/^}])(\d+)\s+(\d+)\s*/\s*(\d+)(?![\w.(^/])")
_MIXED_TEX = re.compile(r"(?<![\w.^}])(\d+)\s*\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")

_EMPTY_PHRASES = re.compile(
    r"^(?:there\s+(?:is|are)\s+)?(?:no\s+(?:real\s+)?(?:solutions?|roots?|answers?|zeros?)(?:\s+exists?)?"
    r"|none|empty(?:\s+set)?|the\s+empty\s+set|dne|does\s+not\s+exist|no\s+real\s+numbers?|\{\s*\})$"
)
_REALS_PHRASES = re.compile(
    r"^(?:x\s*(?:is|=|can\s+be)?\s*)?(?:all\s+real\s+(?:numbers?|values?|x)|all\s+reals|any\s+real\s+(?:number|value)"
    r"|every\s+real\s+number|infinitely\s+many(?:\s+solutions)?|infinite(?:ly\s+many)?\s+solutions|all\s+x"
    r"|all\s+numbers|identity|reals|the\s+reals|r)$"
)
_APPROX_LEAD = re.compile(r"^(?:\\approx|=|~)\s*(?=[-+.\d\\(])")
_DERIV_LHS = re.compile(
    r"^(?:[A-Za-z]'+(?:\s*\(\s*[a-z]\s*\))?|\\frac\s*\{\s*d\s*[A-Za-z]?\s*\}\s*\{\s*d\s*[a-z]\s*\}"
    r"|d[A-Za-z]?\s*/\s*d[a-z]|\\frac\s*\{\s*d\s*\}\s*\{\s*d\s*[a-z]\s*\}\s*\S.*?)\s*=(?!=)\s*"
)
_FUNC_LHS = re.compile(r"^\s*([fghpqyFGHPV])'*\s*\(\s*[a-zA-Z]\s*\)\s*=(?!=)")
_REPEATING = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\(?:overline|bar|dot)\s*\{?\s*(\d{1,20})\s*\}?")
_ANSWER_PREFIX = re.compile(r"^\s*(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?|ans\s*[:=])\s*", re.I)


def normalize_text(text: str) -> str:
    """Canonical spelling of an answer, used as cache key and parser input."""
    return normalize_parts(text)[0]


def normalize_parts(text: str) -> tuple[str, str | None]:
    """(canonical spelling without the unit, the unit written after the number or None)."""
    s = text.strip()
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)
    s = _SUP_RE.sub(lambda m: "^(" + "".join(_SUPERSCRIPTS[c] for c in m.group(0)) + ")", s)
    if any(c in _VULGAR for c in s):
        s = _VULGAR_RE.sub(
            lambda m: "(" + (m.group(1) + "+" if m.group(1) else "") + "%d/%d" % _VULGAR[m.group(2)] + ")", s
        )
    # LaTeX wrappers and spacing
    s = s.replace("\\(", " ").replace("\\)", " ").replace("\\[", " ").replace("\\]", " ")
    s = re.sub(r"(\d)\\,(\d)", r"\1\2", s)
    s = s.replace("{,}", "")
    s = _LATEX_DROP.sub(" ", s)
    for _ in range(3):
        s2 = _TEXTLIKE.sub(lambda m: " " + m.group(1) + " ", s)
        if s2 == s:
            break
        s = s2
    s = re.sub(r"\\\$\s*(?=\d)", "", s)
    if s.count("$") == 1 and re.search(r"\$\s*\d", s):
        s = s.replace("$", "")  # currency
    s = _DOLLAR.sub(" ", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", " deg ", s)  # degrees
    s = re.sub(r"\s+", " ", s).strip()
    s = _ANSWER_PREFIX.sub("", s)
    s = _APPROX_LEAD.sub("", s)
    s = _DERIV_LHS.sub("", s)
    s = _FUNC_LHS.sub(r"\1 =", s)
    s = re.sub(r"(?i)\s+equals\s+", " = ", s)
    s = s.rstrip(" .;:?")
    if "\\" in s:
        s = _REPEATING.sub(_repeating, s)
    s = _MIXED_TEX.sub(r"(\1+\2/\3)", s)
    s = _MIXED.sub(r"(\1+\2/\3)", s)
    if "," in s:
        depth = _depths(s)
        s = _THOUSANDS.sub(lambda m: m.group(0).replace(",", "") if depth[m.start()] == 0 else m.group(0), s)
    s = _THOUSANDS_SP.sub(lambda m: m.group(0).replace(" ", ""), s)
    if "_" in s:
        s = BASE_N.sub(_base_n, s)
    s, unit = split_unit_tail(s)
    s = re.sub(r"\s*\bdeg\b", "", s)
    return s, unit


BASE_N = re.compile(r"(?<![\w.])(\d{1,40})_\{?(\d{1,2})\}?(?![\w{.])")


def _base_n(m) -> str:
    """52_8 -> 42: a number written in base n, inside a larger answer (a key written in base n
    is compared digit by digit in grader.text)."""
    base = int(m.group(2))
    if not 2 <= base <= 10 or any(int(d) >= base for d in m.group(1)):
        return m.group(0)
    return str(int(m.group(1), base))


def _repeating(m) -> str:
    """0.1\\overline{6} -> (15/90): a repeating decimal as an exact fraction."""
    whole, fixed, rep = m.group(1) or "0", m.group(2), m.group(3)
    if len(whole) + len(fixed) > 30:
        return m.group(0)
    num = int(whole + fixed + rep) - int(whole + fixed or "0")
    den = (10 ** len(rep) - 1) * 10 ** len(fixed)
    return "(%d/%d)" % (num, den)


def _depths(s: str) -> list:
    """Bracket depth before each position."""
    out = []
    d = 0
    for c in s:
        out.append(d)
        if c in "([{":
            d += 1
        elif c in ")]}":
            d -= 1
    return out


def special_phrase(s: str) -> str | None:
    t = s.lower().strip().strip(".").strip()
    t = re.sub(r"\\mathbb\s*\{?\s*r\s*\}?", "r", t)
    t = re.sub(r"\s+", " ", t)
    t = re.sub(r"^x\s*\\in\s*", "", t)
    t = re.sub(r"^(?:x|the equation|it) (?:has|is) ", "", t)
    t = t.replace("\\emptyset", "empty").replace("\\varnothing", "empty").replace("emptyset", "empty")
    t = t.replace("\\{\\}", "{}").replace("\\{ \\}", "{}")
    if _EMPTY_PHRASES.match(t):
        return "empty"
    if _REALS_PHRASES.match(t) and s.strip() not in ("r", "R"):
        return "reals"
    if s.strip() in ("R",):
        return None
    return None


# --------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
 (?P<ws>\s+)
|(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+(?![a-zA-Z(\d]))?)
|(?P<env>\\(?:begin|end)\s*\{\s*[a-zA-Z*]+\s*\})
|(?P<cmd>\\(?:[a-zA-Z]+|[{}|%\\]))
|(?P<word>[a-zA-Z]+)
|(?P<op>\*\*|<=|>=|=<|!=|==|\+/-|\+-|-\+|[-+*/^()\[\]{},;=<>|!%_&:])
""",
    re.X,
)

FUNCS = {
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sec": "sec",
    "csc": "csc",
    "cot": "cot",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "asin": "asin",
    "acos": "acos",
    "atan": "atan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "ln": "ln",
    "log": "log",
    "exp": "exp",
    "sqrt": "sqrt",
    "cbrt": "cbrt",
    "abs": "abs",
    "lg": "log10",
    "cosec": "csc",
    "arcsec": "asec",
    "arccsc": "acsc",
    "arccot": "acot",
}
_FUNC_NAMES_BY_LEN = sorted(FUNCS, key=len, reverse=True)
GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
}
_CMD_OPS = {
    "cdot": "*",
    "times": "*",
    "ast": "*",
    "div": "/",
    "le": "<=",
    "leq": "<=",
    "leqslant": "<=",
    "ge": ">=",
    "geq": ">=",
    "geqslant": ">=",
    "lt": "<",
    "gt": ">",
    "ne": "!=",
    "neq": "!=",
    "pm": "+-",
    "mp": "-+",
    "cup": "cup",
    "in": "in",
    "lor": "or",
    "vee": "or",
    "land": "and",
    "wedge": "and",
    "approx": "=",
    "equiv": "=",
    "to": "to",
    "implies": ";",
    "Rightarrow": ";",
    "Longrightarrow": ";",
    "rightarrow": ";",
    "iff": ";",
    "Leftrightarrow": ";",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "mid": "|",
    "|": "|",
    "{": "LBRACE_SET",
    "}": "RBRACE_SET",
    "%": "%",
    "\\": "ROWSEP",
    "setminus": "setminus",
    "cap": "cap",
    "lbrace": "LBRACE_SET",
    "rbrace": "RBRACE_SET",
    "langle": "(",
    "rangle": ")",
}
_CMD_CONST = {
    "pi": "pi",
    "infty": "oo",
    "infin": "oo",
    "emptyset": "empty",
    "varnothing": "empty",
    "e": "E",
    "imath": "I",
}
_FUNC_CMDS = {
    "sin",
    "cos",
    "tan",
    "sec",
    "csc",
    "cot",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "ln",
    "log",
    "exp",
    "lg",
    "arcsec",
    "arccsc",
    "arccot",
}


def tokenize(s: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _TOKEN_RE.match(s, pos)
        if not m:
            raise ParseError("We could not read the symbol '%s'." % s[pos][:1], "bad-char")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(0)
        if kind == "ws":
            continue
        if kind == "num":
            toks.append(("num", val))
        elif kind == "env":
            name = val[val.index("{") + 1 : -1].strip()
            toks.append(("cmd", "begin" if val[1] == "b" else "end"))
            toks.append(("env", name))
        elif kind == "op":
            toks.append(("op", {"=<": "<=", "==": "=", "+/-": "+-"}.get(val, val)))
        elif kind == "cmd":
            name = val[1:]
            if name in _CMD_OPS:
                toks.append(("op", _CMD_OPS[name]))
            elif name in _CMD_CONST:
                toks.append(("const", _CMD_CONST[name]))
            elif name in _FUNC_CMDS:
                toks.append(("func", FUNCS[name]))
            elif name in GREEK:
                toks.append(("sym", name))
            elif name in ("boxed", "fbox", "underline", "mathbf", "bf"):
                toks.append(("cmd", "boxed"))
            elif name in (
                "frac",
                "dfrac",
                "tfrac",
                "cfrac",
                "sqrt",
                "binom",
                "dbinom",
                "tbinom",
                "begin",
                "end",
                "mathbb",
                "not",
                "circ",
                "degree",
                "abs",
            ):
                toks.append(("cmd", name))
            else:
                raise ParseError("We do not know the LaTeX command \\%s." % name[:30], "bad-command")
        else:
            _split_word(val, toks)
    toks.append(("eof", ""))
    return toks


def _split_word(w: str, toks: list) -> None:
    lw = w.lower()
    if lw in FUNCS and (len(w) > 1):
        toks.append(("func", FUNCS[lw]))
        return
    if lw in ("or", "and", "cup", "in"):
        toks.append(("op", lw))
        return
    if lw in ("oo", "inf", "infty", "infinity"):
        toks.append(("const", "oo"))
        return
    if lw == "pi":
        toks.append(("const", "pi"))
        return
    if w in GREEK or lw in GREEK:
        toks.append(("sym", w if w in GREEK else lw))
        return
    if lw == "emptyset":
        toks.append(("const", "empty"))
        return
    if w == "Reals":
        toks.append(("const", "reals"))
        return
    if w == "U":
        toks.append(("op", "cup"))
        return
    i = 0
    while i < len(w):
        for f in _FUNC_NAMES_BY_LEN:
            if len(f) > 1 and w.startswith(f, i) and f not in ("in",):
                toks.append(("func", FUNCS[f]))
                i += len(f)
                break
        else:
            if w.startswith("pi", i):
                toks.append(("const", "pi"))
                i += 2
                continue
            c = w[i]
            if c == "e":
                toks.append(("const", "E"))
            elif c == "i":
                toks.append(("const", "I"))
            else:
                toks.append(("sym", c))
            i += 1


# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------

_RELOPS = {"=", "<", ">", "<=", ">=", "!=", "in"}
_ATOM_START_OPS = {"(", "[", "{", "LBRACE_SET", "|"}


def _num_node(text: str):
    if len(text) > MAX_LITERAL_DIGITS:
        raise ParseError("That number is too long to check.", "too-big")
    mant, _, exp = text.lower().partition("e")
    try:
        fr = Fraction(mant if mant not in (".",) else "0")
    except (ValueError, ZeroDivisionError):
        raise ParseError("We could not read the number %s." % text[:20], "bad-number") from None
    is_dec = "." in mant or bool(exp)
    if exp:
        e = int(exp)
        if abs(e) > 2000:
            raise ParseError("That number is too large to check.", "too-big")
        fr = fr * Fraction(10) ** e
    return ("num", text, sympy.Rational(fr.numerator, fr.denominator), is_dec)


class _Parser:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0
        self.depth = 0
        self.nodes = 0

    # helpers
    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def at(self, kind, val=None):
        t = self.peek()
        return t[0] == kind and (val is None or t[1] == val)

    def at_op(self, *vals):
        t = self.peek()
        return t[0] == "op" and t[1] in vals

    def expect_op(self, val):
        t = self.next()
        if t != ("op", val):
            raise ParseError("Something is missing: we expected '%s'." % _show(val), "syntax")

    def node(self, n):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ParseError("That answer is too long to check.", "too-big")
        return n

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("That answer is nested too deeply to check.", "too-deep")

    def leave(self):
        self.depth -= 1

    # grammar
    def parse_top(self):
        items = [self.parse_relation()]
        seps = []
        while self.at_op(",", ";", "or", "and"):
            seps.append(self.next()[1])
            if self.at("eof"):
                break
            items.append(self.parse_relation())
        if not self.at("eof"):
            t = self.peek()
            raise ParseError("We could not read your answer after '%s'." % _show(t[1])[:20], "syntax")
        if len(items) == 1:
            return items[0]
        return self.node(("list", items, seps))

    def parse_relation(self):
        first = self.parse_setexpr()
        exprs = [first]
        ops = []
        while self.at_op(*_RELOPS):
            ops.append(self.next()[1])
            if self.at_op("+-") and ops[-1] == "=":
                pass
            exprs.append(self.parse_setexpr())
        if not ops:
            return first
        return self.node(("rel", exprs, ops))

    def parse_setexpr(self):
        left = self.parse_sum()
        if self.at_op("cup"):
            parts = [left]
            while self.at_op("cup"):
                self.next()
                parts.append(self.parse_sum())
            return self.node(("union", parts))
        return left

    def parse_sum(self):
        self.enter()
        left = self.parse_term()
        terms = [left]
        while self.at_op("+", "-", "+-", "-+"):
            op = self.next()[1]
            right = self.parse_term()
            if op == "+":
                terms.append(right)
            elif op == "-":
                terms.append(("neg", right))
            else:
                base = terms[0] if len(terms) == 1 else ("add", terms)
                terms = [self.node(("pm", base, right if op == "+-" else ("neg", right)))]
        self.leave()
        if len(terms) == 1:
            return terms[0]
        return self.node(("add", terms))

    def _starts_atom(self):
        t = self.peek()
        if t[0] in ("num", "sym", "const", "func", "cmd"):
            return t[0] != "cmd" or t[1] in (
                "frac",
                "dfrac",
                "tfrac",
                "cfrac",
                "sqrt",
                "binom",
                "dbinom",
                "tbinom",
                "begin",
                "mathbb",
                "abs",
                "boxed",
            )
        return t[0] == "op" and t[1] in ("(", "[", "{", "LBRACE_SET")

    def parse_term(self):
        if self.at_op("-"):
            self.next()
            self.enter()
            x = self.parse_term()
            self.leave()
            return self.node(("neg", x))
        left = self.parse_unary()
        factors = [left]
        while True:
            if self.at_op("*", "/"):
                op = self.next()[1]
                right = self.parse_unary()
                if op == "*":
                    factors.append(right)
                else:
                    cur = factors[0] if len(factors) == 1 else self.node(("mul", factors))
                    factors = [self.node(("div", cur, right))]
            elif self._starts_atom():
                prev = factors[-1]
                if self.peek()[0] == "num" and _ends_with_number(prev):
                    raise ParseError("Two numbers are written next to each other; add an operator.", "syntax")
                factors.append(self.parse_power())
            else:
                break
        if len(factors) == 1:
            return factors[0]
        return self.node(("mul", factors))

    def parse_unary(self):
        if self.at_op("-", "+", "+-", "-+"):
            op = self.next()[1]
            self.enter()
            x = self.parse_unary()
            self.leave()
            if op == "-":
                return self.node(("neg", x))
            if op == "+":
                return x
            return self.node(("upm", x if op == "+-" else ("neg", x)))
        return self.parse_power()

    def parse_power(self):
        base = self.parse_postfix(self.parse_atom())
        if self.at_op("^") or self.at_op("**"):
            self.next()
            self.enter()
            if self.at_op("{"):
                exp = self.parse_group()
            elif self.at_op("-", "+"):
                exp = self.parse_unary()
            else:
                exp = self.parse_power()  # right-associative: 2^3^2 = 2^(3^2)
            self.leave()
            base = self.node(("pow", base, exp))
            base = self.parse_postfix(base)
            if self.at_op("^") or self.at_op("**"):
                raise ParseError("A power of a power needs brackets to be read unambiguously.", "ambiguous")
        return base

    def parse_postfix(self, x):
        while True:
            if self.at_op("!") and not (self.peek(1) == ("op", "=")):
                self.next()
                x = self.node(("fact", x))
            elif self.at_op("%"):
                self.next()
                x = self.node(("pct", x))
            elif self.at_op("_") and x[0] == "sym":
                self.next()
                sub = self._subscript_text()
                x = ("sym", x[1] + "_" + sub)
            else:
                return x

    def _subscript_text(self):
        t = self.next()
        if t == ("op", "{"):
            parts: list[str] = []
            while not self.at_op("}"):
                u = self.next()
                if u[0] == "eof" or len(parts) > 10:
                    raise ParseError("A subscript is not closed.", "syntax")
                parts.append(u[1])
            self.next()
            return "".join(parts)
        if t[0] in ("num", "sym"):
            return t[1]
        if t[0] == "const":
            return {"E": "e", "I": "i"}.get(t[1], t[1])
        raise ParseError("We could not read a subscript.", "syntax")

    def parse_group(self):
        """``{ ... }`` as a LaTeX argument (grouping only)."""
        self.expect_op("{")
        self.enter()
        x = self.parse_relation_or_list("}")
        self.leave()
        self.expect_op("}")
        return x

    def parse_arg(self):
        """LaTeX macro argument: a brace group or a single token."""
        if self.at_op("{"):
            return self.parse_group()
        t = self.next()
        if t[0] == "num":
            return _num_node(t[1])
        if t[0] == "sym":
            return ("sym", t[1])
        if t[0] == "const":
            return ("const", t[1])
        raise ParseError("A LaTeX command is missing its argument.", "syntax")

    def parse_top_until(self, closer):
        """A whole answer (lists, relations) inside a wrapper such as \\boxed{...}."""
        self.enter()
        items = [self.parse_relation()]
        seps = []
        while self.at_op(",", ";", "or", "and"):
            seps.append(self.next()[1])
            items.append(self.parse_relation())
        self.leave()
        return items[0] if len(items) == 1 else self.node(("list", items, seps))

    def parse_relation_or_list(self, closer):
        items = [self.parse_relation()]
        while self.at_op(","):
            self.next()
            items.append(self.parse_relation())
        if len(items) == 1:
            return items[0]
        return ("commas", items)

    def parse_atom(self):
        t = self.next()
        kind, val = t
        if kind == "num":
            # \frac12 style handled in frac; here plain number
            return self.node(_num_node(val))
        if kind == "sym":
            return self.node(("sym", val))
        if kind == "const":
            if val == "empty":
                return ("special", "empty")
            if val == "reals":
                return ("special", "reals")
            return self.node(("const", val))
        if kind == "func":
            return self.parse_function(val)
        if kind == "cmd":
            return self.parse_command(val)
        if kind == "op":
            if val in ("(", "["):
                return self.parse_bracket(val)
            if val == "{":
                return self.parse_brace(set_brace=False)
            if val == "LBRACE_SET":
                return self.parse_brace(set_brace=True)
            if val == "|":
                self.enter()
                x = self.parse_sum()
                self.leave()
                self.expect_op("|")
                return self.node(("abs", x))
        if kind == "eof":
            raise ParseError("Your answer seems to end too early.", "syntax")
        raise ParseError("We could not read your answer at '%s'." % _show(val)[:20], "syntax")

    def parse_bracket(self, opener):
        self.enter()
        if opener == "[" and self.at_op("["):
            # matrix [[1,2],[3,4]]
            rows = []
            while True:
                self.expect_op("[")
                rows.append(self._comma_items("]"))
                self.expect_op("]")
                if self.at_op(","):
                    self.next()
                    continue
                break
            self.expect_op("]")
            self.leave()
            return self.node(("matrix", rows))
        items = self._comma_items(")]")
        t = self.next()
        self.leave()
        if t not in (("op", ")"), ("op", "]")):
            raise ParseError("A bracket is not closed.", "unbalanced")
        closer = t[1]
        if len(items) == 1:
            if opener == "(" and closer == ")":
                x = items[0]
                return ("paren", x) if x[0] in ("add", "neg", "pm", "upm") else x
            if opener == "[" and closer == "]":
                return items[0]
            raise ParseError("Brackets do not match.", "unbalanced")
        if opener == "(" and closer == ")":
            return self.node(("tuple", items))
        if opener == "[" and closer == "]":
            return self.node(("bracket", items))
        if len(items) != 2:
            raise ParseError("An interval needs exactly two endpoints.", "syntax")
        return self.node(("interval", opener == "[", items[0], items[1], closer == "]"))

    def _comma_items(self, closers):
        if self.peek()[0] == "op" and self.peek()[1] in closers:
            return []
        items = [self.parse_relation()]
        while self.at_op(",", ";"):
            self.next()
            items.append(self.parse_relation())
        return items

    def parse_brace(self, set_brace):
        self.enter()
        closer = "RBRACE_SET" if set_brace else "}"
        if self.at_op(closer):
            self.next()
            self.leave()
            return ("special", "empty")
        items = self._comma_items((closer,))
        if len(items) == 1 and items[0][0] == "sym" and self.at_op("|", ":"):
            # set-builder notation {x | x > 2}
            self.next()
            conds = [self.parse_relation()]
            seps = []
            while self.at_op(",", "or", "and"):
                seps.append(self.next()[1])
                conds.append(self.parse_relation())
            self.leave()
            self.expect_op(closer)
            return conds[0] if len(conds) == 1 else self.node(("list", conds, seps))
        self.leave()
        self.expect_op(closer)
        if len(items) == 1 and not set_brace:
            return items[0]
        return self.node(("set", items))

    def parse_function(self, name):
        power = None
        base = None
        self.enter()
        if name in ("log",) and self.at_op("_"):
            self.next()
            base = self.parse_arg() if not self.at("num") else _num_node(self.next()[1])
        if self.at_op("^"):
            self.next()
            power = self.parse_arg() if not self.at_op("-") else self.parse_unary()
        if name in ("log",) and self.at_op("_") and base is None:
            self.next()
            base = self.parse_arg()
        if self.at_op("("):
            self.next()
            args = self._comma_items(")")
            self.expect_op(")")
            if not args:
                raise ParseError("The function %s needs an argument." % name, "syntax")
        elif self.at_op("{"):
            args = [self.parse_group()]
        elif name == "sqrt" and self.at_op("["):
            self.next()
            idx = self.parse_sum()
            self.expect_op("]")
            args = [self.parse_arg(), idx]
        else:
            if not self._starts_atom() and not self.at_op("-"):
                raise ParseError("The function %s needs an argument." % name, "syntax")
            # implicit argument: a run of implicitly multiplied factors, e.g. sin 2x
            if self.at_op("-"):
                self.next()
                factors = [("neg", self.parse_power())]
            else:
                factors = [self.parse_power()]
            while self._starts_atom() and self.peek()[0] != "func" and not self.at_op("(", "["):
                factors.append(self.parse_power())
            args = [factors[0] if len(factors) == 1 else ("mul", factors)]
        self.leave()
        if base is not None:
            args = [args[0], base]
        node = self.node(("fn", name, args))
        if power is not None:
            if power == ("neg", ("num", "1", sympy.Integer(1), False)) and name in ("sin", "cos", "tan"):
                return ("fn", "a" + name, args)
            node = ("pow", node, power)
        return node

    def parse_command(self, name):
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            if self.at("num") and len(self.peek()[1]) >= 2 and self.peek()[1].isdigit():
                digits = self.next()[1]
                num = _num_node(digits[0])
                rest = digits[1:]
                den = _num_node(rest[0]) if rest else self.parse_arg()
                if len(rest) > 1:
                    raise ParseError("Write \\frac{a}{b} with braces.", "syntax")
                return self.node(("div", num, den))
            num = self.parse_arg()
            if self.at("num") and len(self.peek()[1]) >= 2 and self.peek()[1].isdigit():
                raise ParseError("Write \\frac{a}{b} with braces.", "syntax")
            den = self.parse_arg()
            return self.node(("div", num, den))
        if name in ("binom", "dbinom", "tbinom"):
            a = self.parse_arg()
            b = self.parse_arg()
            return self.node(("fn", "binomial", [a, b]))
        if name == "sqrt":
            idx = None
            if self.at_op("["):
                self.next()
                idx = self.parse_sum()
                self.expect_op("]")
            arg = self.parse_arg()
            return self.node(("fn", "sqrt", [arg] if idx is None else [arg, idx]))
        if name == "abs":
            return self.node(("abs", self.parse_arg()))
        if name == "boxed":
            if not self.at_op("{"):
                raise ParseError("\\boxed needs braces.", "syntax")
            self.next()
            x = self.parse_top_until("}")
            self.expect_op("}")
            return x
        if name == "mathbb":
            arg = self.next()
            if arg == ("op", "{"):
                arg = self.next()
                self.expect_op("}")
            if arg[0] == "sym" and arg[1] == "R":
                return ("special", "reals")
            raise ParseError("We only understand \\mathbb{R} here.", "syntax")
        if name == "begin":
            return self.parse_matrix_env()
        raise ParseError("We could not read \\%s here." % name, "syntax")

    def parse_matrix_env(self):
        env = self._env_name()
        if env not in ("pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix", "vmatrix", "array"):
            raise ParseError("We cannot read a %s environment." % env[:20], "syntax")
        if env == "array" and self.at_op("{"):
            # column spec {cc} or {c|c}: layout only
            self.next()
            for _ in range(40):
                if self.at_op("}") or self.at("eof"):
                    break
                self.next()
            self.expect_op("}")
        rows: list[list] = [[]]
        self.enter()
        while True:
            if self.at("cmd", "end"):
                self.next()
                self._env_name()
                break
            if self.at("eof"):
                raise ParseError("A matrix is not closed.", "unbalanced")
            rows[-1].append(self.parse_sum())
            if self.at_op("&"):
                self.next()
            elif self.at_op("ROWSEP"):
                self.next()
                rows.append([])
        self.leave()
        if rows and not rows[-1]:
            rows.pop()
        return self.node(("matrix", rows))

    def _env_name(self):
        t = self.next()
        if t[0] != "env":
            raise ParseError("We could not read a LaTeX environment.", "syntax")
        return t[1]


def _ends_with_number(node) -> bool:
    return node[0] == "num"


def _show(v: str) -> str:
    return {"LBRACE_SET": "\\{", "RBRACE_SET": "\\}", "ROWSEP": "\\\\", "cup": "\u222a"}.get(v, v)


def _max_bracket_depth(s: str) -> int:
    d = m = 0
    for c in s:
        if c in "([{":
            d += 1
            if d > m:
                m = d
        elif c in ")]}":
            d -= 1
    return m


def parse(text: str, max_length: int = MAX_LENGTH):
    """Parse an answer.  Returns ``(ast, normalized_text)``; raises :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError("The answer must be text.", "bad-type")
    if len(text) > max_length:
        raise ParseError("That answer is too long to check (more than %d characters)." % max_length, "too-long")
    s = normalize_text(text)
    if not s:
        raise ParseError("The answer is empty.", "empty")
    sp = special_phrase(s)
    if sp:
        return ("special", sp), s
    if _max_bracket_depth(s) > MAX_DEPTH // 2:
        raise ParseError("That answer is nested too deeply to check.", "too-deep")
    toks = tokenize(s)
    p = _Parser(toks)
    try:
        ast = p.parse_top()
    except RecursionError:
        raise ParseError("That answer is nested too deeply to check.", "too-deep") from None
    return ast, s
