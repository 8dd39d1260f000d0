"""Units after a number: "250 cm", "50.3 cm²", "5 km/h", "90°".

The unit words are read by our own small tokenizer (never by a general parser) and mapped to
``sympy.physics.units`` quantities.  We keep sympy's unit library rather than adding pint:
sympy is already a dependency, its scale factors are exact rationals (250 cm is exactly 5/2 m,
so conversion never adds rounding error to a check), and its dimension system tells a length
from an area.  Words that are not units ("5 apples", "7 dollars") are labels and are ignored,
as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sympy
import sympy.physics.units as u
from sympy.physics.units.systems.si import SI

__all__ = ["Unit", "split_unit_tail", "read_unit", "UNIT_WORDS"]

MAX_UNIT_TAIL = 40
# name -> (sympy.physics.units attribute, LaTeX)
_UNITS: dict[str, tuple[str, str]] = {}


def _add(names: str, attr: str, tex: str) -> None:
    for n in names.split():
        _UNITS[n] = (attr, tex)


_add("mm millimetre millimetres millimeter millimeters", "millimeter", "mm")
_add("cm centimetre centimetres centimeter centimeters", "centimeter", "cm")
_add("m metre metres meter meters", "meter", "m")
_add("km kilometre kilometres kilometer kilometers", "kilometer", "km")
_add("in inch inches", "inch", "in")
_add("ft foot feet", "foot", "ft")
_add("yd yard yards", "yard", "yd")
_add("mi mile miles", "mile", "mi")
_add("mg milligram milligrams", "milligram", "mg")
_add("g gram grams gramme grammes", "gram", "g")
_add("kg kilogram kilograms kilo kilos", "kilogram", "kg")
_add("t tonne tonnes", "tonne", "t")
_add("lb lbs pound pounds", "pound", "lb")
_add("ms millisecond milliseconds", "millisecond", "ms")
_add("s sec secs second seconds", "second", "s")
_add("min mins minute minutes", "minute", "min")
_add("h hr hrs hour hours", "hour", "h")
_add("day days", "day", "\\text{days}")
_add("week weeks", "week", "\\text{weeks}")
_add("ml mL millilitre millilitres milliliter milliliters", "milliliter", "mL")
_add("cl cL centilitre centilitres", "centiliter", "cL")
_add("l L litre litres liter liters", "liter", "L")
_add("ha hectare hectares", "hectare", "ha")
_add("N newton newtons", "newton", "N")
_add("J joule joules", "joule", "J")
_add("kJ kilojoule kilojoules", "kilojoule", "kJ")
_add("W watt watts", "watt", "W")
_add("kW kilowatt kilowatts", "kilowatt", "kW")
_add("Pa pascal pascals", "pascal", "Pa")
_add("kPa kilopascal kilopascals", "kilopascal", "kPa")
_add("Hz hertz", "hertz", "Hz")
_add("V volt volts", "volt", "V")
_add("A amp amps ampere amperes", "ampere", "A")
_add("K kelvin kelvins", "kelvin", "K")
_add("deg degree degrees", "degree", "^{\\circ}")
_add("rad radian radians", "radian", "\\text{rad}")
_SPEEDS = {
    "mph": ("mile", "hour", "\\text{mph}"),
    "kph": ("kilometer", "hour", "km/h"),
    "kmh": ("kilometer", "hour", "km/h"),
}
_TEMPERATURES = {
    "C": "celsius",
    "F": "fahrenheit",
    "c": "celsius",
    "f": "fahrenheit",
    "celsius": "celsius",
    "fahrenheit": "fahrenheit",
    "degC": "celsius",
    "degF": "fahrenheit",
}
_POWER_WORDS = {"sq": 2, "square": 2, "cubic": 3, "cu": 3}
UNIT_WORDS = frozenset(_UNITS) | frozenset(_SPEEDS)
# Units that may follow a digit with no space ("5cm", "3h"); longer words need a space.
_GLUED = {
    "cm",
    "mm",
    "km",
    "kg",
    "mg",
    "ml",
    "mL",
    "min",
    "hr",
    "hrs",
    "sec",
    "ft",
    "in",
    "mph",
    "kph",
    "lb",
    "lbs",
    "deg",
}
_LETTER = re.compile(r"[A-Za-z]")
_COMMANDS = re.compile(r"\\(?:[dt]?frac|sqrt|left|right|cdot|times)(?![A-Za-z])")
_NAME_EQ = re.compile(r"^\s*[A-Za-z](?:_\w+)?\s*=")
_MATH_WORDS = {
    "sin",
    "cos",
    "tan",
    "sec",
    "csc",
    "cot",
    "arcsin",
    "arccos",
    "arctan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "ln",
    "log",
    "exp",
    "sqrt",
    "cbrt",
    "abs",
    "pi",
    "oo",
    "inf",
    "infty",
    "infinity",
    "or",
    "and",
    "cup",
    "emptyset",
    "reals",
    "theta",
    "alpha",
    "beta",
    "gamma",
    "lambda",
    "mu",
    "phi",
    "omega",
    "delta",
    "sigma",
    "tau",
    "i",
    "e",
    "x",
    "y",
    "z",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z]+)\.?|(?P<pow>\^\s*(?:\(\s*-?\d\s*\)|\{\s*-?\d\s*\}|-?\d))"
    r"|(?P<op>[/*]))"
)


@dataclass(frozen=True)
class Unit:
    """A unit read after a number.  ``kind``: "physical", "temperature" or "label"."""

    text: str
    kind: str
    latex: str = ""
    scale: sympy.Expr | None = None  # size in SI base units (exact)
    dims: tuple = ()  # ((dimension, power), ...) sorted
    name: str = ""  # temperature scale

    @property
    def is_angle(self) -> bool:
        return self.kind == "physical" and not self.dims

    def describe(self) -> str:
        return _DIM_NAMES.get(self.dims, "a quantity measured in %s" % self.text)


_DIM_NAMES = {
    (("length", 1),): "a length",
    (("length", 2),): "an area",
    (("length", 3),): "a volume",
    (("mass", 1),): "a mass",
    (("time", 1),): "a time",
    (("length", 1), ("time", -1)): "a speed",
    (): "an angle",
    (("length", 1), ("time", -2)): "an acceleration",
}


def _tokens(t: str) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(t):
        m = _TOKEN.match(t, pos)
        if not m or m.end() == pos:
            return None if t[pos:].strip() else out
        pos = m.end()
        kind = m.lastgroup or ""
        val = m.group(kind)
        if kind == "pow":
            val = re.sub(r"[\s^(){}]", "", val)
            if not out or out[-1][0] != "word":
                return None
        elif kind == "op" and (not out or out[-1][0] == "op"):
            return None
        elif kind == "word" and val.lower() == "per":
            if not out or out[-1][0] == "op":
                return None
            kind, val = "op", "/"
        out.append((kind, val))
    if not out or out[-1][0] == "op" or out[0][0] != "word":
        return None
    return out


def split_unit_tail(s: str) -> tuple[str, str | None]:
    """Split "50.3 cm^(2)" into ("50.3", "cm^(2)"); (s, None) when no unit follows a number."""
    n = len(s)
    for i in range(max(1, n - MAX_UNIT_TAIL), n):
        if not s[i].isalpha() or s[i - 1].isalpha():
            continue
        head = s[:i].rstrip()
        if not head or head[-1] not in "0123456789)}.":
            continue
        toks = _tokens(s[i:])
        if toks is None:
            continue
        words = [v for k, v in toks if k == "word"]
        first = words[0]
        if any(w.lower() in _MATH_WORDS and w not in UNIT_WORDS for w in words):
            continue
        if not s[i - 1].isspace() and first not in _GLUED:
            continue
        if len(first) == 1 and (not s[i - 1].isspace() or _LETTER.search(_COMMANDS.sub("", _NAME_EQ.sub("", head)))):
            # "20h", "pi r^2 h": a one-letter unit only after a plain number and a space ("2.5 m")
            continue
        if len(first) < 3 and first not in UNIT_WORDS and first not in _POWER_WORDS:
            continue
        return head, s[i:].strip()
    return s, None


def read_unit(tail: str | None) -> Unit | None:
    if not tail:
        return None
    return _read_unit(tail)


@lru_cache(maxsize=512)
def _read_unit(tail: str) -> Unit | None:
    toks = _tokens(tail)
    if not toks:
        return None
    words = [v for k, v in toks if k == "word"]
    if len(words) <= 2 and words[0] in ("deg", "degree", "degrees") and len(words) == 2 and words[1] in _TEMPERATURES:
        return Unit(tail, "temperature", "^{\\circ}\\mathrm{%s}" % words[1].upper()[0], name=_TEMPERATURES[words[1]])
    if len(words) == 1 and words[0] in ("degC", "degF", "celsius", "fahrenheit"):
        return Unit(
            tail, "temperature", "^{\\circ}\\mathrm{%s}" % words[0][-1].upper()[0], name=_TEMPERATURES[words[0]]
        )
    if not all(w in UNIT_WORDS or w in _POWER_WORDS for w in words):
        return Unit(tail, "label")
    expr: sympy.Expr = sympy.Integer(1)
    tex: list[str] = []
    sign = 1
    power_word = 1
    last = None
    for kind, val in toks:
        if kind == "op":
            sign = -1 if val == "/" else 1
            if val == "/":
                tex.append("/")
            continue
        if kind == "word":
            if val in _POWER_WORDS:
                power_word = _POWER_WORDS[val]
                continue
            if val in _SPEEDS:
                a, b, t = _SPEEDS[val]
                q = getattr(u, a) / getattr(u, b)
            else:
                attr, t = _UNITS[val]
                q = getattr(u, attr)
            last = (q, sign, t)
            expr = expr * q ** (sign * power_word)
            if tex and tex[-1] != "/":
                tex.append("\\,")
            tex.append(t + ("^{%d}" % power_word if power_word != 1 else ""))
            power_word = 1
            continue
        if kind == "pow" and last is not None:
            k = int(val)
            q, sg, t = last
            expr = expr * q ** (sg * (k - 1))
            tex[-1] = t + "^{%d}" % k
            last = None
    try:
        scale, dim = SI._collect_factor_and_dimension(expr)
        deps = SI.get_dimension_system().get_dimensional_dependencies(dim)
    except (TypeError, ValueError, AttributeError):
        return Unit(tail, "label")
    dims = tuple(sorted((str(k.name), int(v)) for k, v in deps.items()))
    latex = "".join("\\mathrm{%s}" % t if t[:1].isalpha() else t for t in tex)
    return Unit(tail, "physical", latex, scale if isinstance(scale, sympy.Basic) else sympy.Rational(scale), dims)
