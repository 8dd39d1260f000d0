#!/usr/bin/env python
"""Benchmark: Stepwise ``check_answer`` against Math-Verify's ``verify`` (the baseline).

Both tools grade the same (student, reference) cases in one run.  For each tool we time
every check (parsing both answers + comparing) and report median and p95:

* cold: our result cache and sympy's cache are cleared before the pass;
* warm: a second pass over the same cases (a class of 30 sends the same few answers).

It also reports how often each tool agrees with the expected verdict.
Math-Verify is a dev dependency only:  pip install math-verify

Usage:  python bench/grader.py [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sympy.core.cache  # noqa: E402

from grader import check_answer, clear_cache  # noqa: E402

# (student, reference, expected correct?)
CASES = [
    # equal numbers in different forms
    ("1/2", "0.5", True), ("2/4", "\\frac{1}{2}", True), ("50\\%", "\\frac{1}{2}", True),
    ("\\frac{3}{4}", "0.75", True), ("0.25", "\\frac{1}{4}", True), ("6/3", "2", True),
    ("\\dfrac{7}{2}", "3.5", True), ("\\frac{-3}{4}", "-0.75", True), ("2^{3}", "8", True),
    ("5!", "120", True), ("\\binom{5}{2}", "10", True), ("10^{-2}", "0.01", True),
    ("1,000", "1000", True), ("1.5 \\times 10^{3}", "1500", True), ("2\\frac{1}{2}", "\\frac{5}{2}", True),
    ("12", "12", True), ("-7", "-7", True), ("0", "0", True), ("\\frac{22}{7}", "\\pi", False),
    ("3.14", "\\pi", False), ("0.333", "\\frac{1}{3}", False), ("1.414", "\\sqrt{2}", False),
    ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False), ("\\frac{1}{2004!}", "\\frac{1}{2006!}", False),
    ("2^{100}", "2^{100}+1", False), ("7", "5", False), ("-5", "5", False), ("10", "5", False),
    ("\\frac{2}{3}", "\\frac{3}{2}", False), ("0.5", "5", False),
    # radicals, pi, logs, trig
    ("\\sqrt{8}", "2\\sqrt{2}", True), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("\\sqrt[3]{27}", "3", True), ("2\\pi", "\\pi \\cdot 2", True), ("\\frac{\\pi}{4}", "\\frac{45\\pi}{180}", True),
    ("\\log_2 8", "3", True), ("\\ln e^{2}", "2", True), ("\\sin\\frac{\\pi}{6}", "\\frac{1}{2}", True),
    ("\\cos \\pi", "-1", True), ("\\tan\\frac{\\pi}{4}", "1", True), ("e^{i\\pi}", "-1", True),
    ("12\\sqrt{3}", "\\sqrt{432}", True), ("3\\sqrt{2}", "\\sqrt{19}", False), ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5}", False),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", True), ("\\sin^2 x + \\cos^2 x", "1", True),
    # expressions
    ("2x+2", "2(x+1)", True), ("x^2+2x+1", "(x+1)^2", True), ("x(x+1)", "x^2+x", True),
    ("\\frac{x^2-1}{x-1}", "x+1", True), ("(x+1)(x-1)", "x^2-1", True), ("2x+3x", "5x", True),
    ("x^2-5x+6", "(x-2)(x-3)", True), ("\\frac{x}{2}", "0.5x", True), ("x^2+1", "x^2", False),
    ("x-1", "1-x", False), ("2x", "x", False), ("x^2+3x-2", "x^2+3x+2", False),
    ("\\sqrt{x^2}", "x", False), ("\\frac{1}{x}+\\frac{1}{y}", "\\frac{x+y}{xy}", True),
    ("a^2-b^2", "(a-b)(a+b)", True), ("(a+b)^2", "a^2+b^2", False), ("\\pi r^2", "r^2\\pi", True),
    ("\\frac{d}{2}", "0.5d", True), ("x^3-1", "(x-1)(x^2+x+1)", True), ("2\\sin x\\cos x", "\\sin 2x", True),
    # equations
    ("y=2x+1", "2y=4x+2", True), ("y-2x=1", "y=2x+1", True), ("x=5", "5", True), ("5", "x=5", True),
    ("x=3", "2x+1=7", True), ("y=2x+2", "y=2x+1", False), ("y=-2x+1", "y=2x+1", False),
    ("x+y=1", "y=1-x", True), ("x^2+y^2=1", "y^2=1-x^2", True), ("x=4", "x=5", False),
    # solution sets
    ("3, -2", "x=-2 \\text{ or } x=3", True), ("x=3 \\text{ or } x=-2", "-2, 3", True),
    ("\\{1, 2\\}", "\\{2, 1\\}", True), ("\\pm 3", "3, -3", True), ("x = \\pm 3", "x=3, x=-3", True),
    ("3", "3, -2", False), ("3, -2, 5", "3, -2", False), ("1, 2, 3", "3, 2, 1", True),
    ("x=1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", True), ("-1, 0, 1", "0, 1, -1", True),
    ("4, 5", "3, -2", False), ("\\{3\\}", "3", True),
    # intervals and inequalities
    ("[1, 3]", "1 \\le x \\le 3", True), ("x > 2", "2 < x", True), ("(2, \\infty)", "x > 2", True),
    ("x \\ge 2", "[2, \\infty)", True), ("(-\\infty, 5)", "x < 5", True), ("(1, 3]", "1 < x \\le 3", True),
    ("x > 2", "x \\ge 2", False), ("x < 2", "x > 2", False), ("[1,3]", "(1,3)", False),
    ("(-\\infty, 2) \\cup (3, \\infty)", "x<2 \\text{ or } x>3", True), ("x^2 < 4", "-2 < x < 2", True),
    # tuples, matrices, named values
    ("(1, 2)", "(1, 2)", True), ("(2, 1)", "(1, 2)", False), ("(\\frac{1}{2}, 3)", "(0.5, 3)", True),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
    ("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False),
    ("a=2, b=3", "b=3, a=2", True), ("a=2, b=4", "a=2, b=3", False),
    # complex
    ("2+3i", "3i+2", True), ("(1+i)^2", "2i", True), ("2-3i", "2+3i", False), ("i^2", "-1", True),
    # special
    ("\\emptyset", "\\text{no solution}", True), ("\\mathbb{R}", "\\text{all real numbers}", True),
    ("\\emptyset", "x=2", False),
    # units / text
    ("5 \\text{ cm}", "5", True), ("\\$12.50", "12.5", True), ("12 \\text{ apples}", "12", True),
    ("\\text{(B)}", "B", True), ("18", "\\text{18 days}", True),
]


def _pct(xs, q):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[k]


def run_stepwise(cases):
    times, verdicts = [], []
    for s, r, _ in cases:
        t = time.perf_counter()
        res = check_answer(s, r)
        times.append(time.perf_counter() - t)
        verdicts.append(res.correct)
    return times, verdicts


def run_math_verify(cases, parse, verify):
    times, verdicts = [], []
    for s, r, _ in cases:
        t = time.perf_counter()
        try:
            ok = bool(verify(parse("$" + r + "$"), parse("$" + s + "$")))
        except Exception:  # noqa: BLE001 - the baseline may raise; count as not correct
            ok = False
        times.append(time.perf_counter() - t)
        verdicts.append(ok)
    return times, verdicts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="repeat the case list N times per pass")
    args = ap.parse_args(argv)
    cases = CASES * args.repeat
    try:
        from math_verify import parse, verify
    except ImportError:
        print("Math-Verify is not installed (pip install math-verify); baseline skipped.")
        parse = verify = None

    # warm up imports of both tools (not timed)
    check_answer("1", "1")
    if parse:
        verify(parse("$1$"), parse("$1$"))

    rows = {}
    clear_cache()
    sympy.core.cache.clear_cache()
    rows["stepwise cold"] = run_stepwise(cases)
    rows["stepwise warm"] = run_stepwise(cases)
    if parse:
        sympy.core.cache.clear_cache()
        rows["math-verify cold"] = run_math_verify(cases, parse, verify)
        rows["math-verify warm"] = run_math_verify(cases, parse, verify)

    expected = [e for _, _, e in cases]
    print("%d cases (%d distinct), times per check in milliseconds" % (len(cases), len(CASES)))
    print("%-18s %9s %9s %9s %10s" % ("tool / pass", "median", "p95", "mean", "accuracy"))
    for name, (times, verdicts) in rows.items():
        acc = sum(v == e for v, e in zip(verdicts, expected)) / len(expected)
        print("%-18s %9.3f %9.3f %9.3f %9.1f%%" % (name, statistics.median(times) * 1e3,
                                                 _pct(times, 0.95) * 1e3,
                                                 statistics.mean(times) * 1e3, acc * 100))
    if parse:
        print()
        print("ratios (Math-Verify baseline / Stepwise; > 1 means Stepwise is faster)")
        for p in ("cold", "warm"):
            sw, mv = rows["stepwise " + p][0], rows["math-verify " + p][0]
            print("  %-5s median %7.1fx   p95 %7.1fx" % (
                p, statistics.median(mv) / statistics.median(sw), _pct(mv, 0.95) / _pct(sw, 0.95)))
        mv_v = rows["math-verify cold"][1]
        sw_v = rows["stepwise cold"][1]
        wrong_mv = [(s, r, e) for (s, r, e), v in zip(cases, mv_v) if v != e]
        wrong_sw = [(s, r, e) for (s, r, e), v in zip(cases, sw_v) if v != e]
        print()
        print("wrong verdicts: Stepwise %d, Math-Verify %d" % (len(wrong_sw), len(wrong_mv)))
        for s, r, e in wrong_sw[:20]:
            print("  stepwise    %-28s vs %-28s expected %s" % (s[:28], r[:28], e))
        for s, r, e in wrong_mv[:40]:
            print("  math-verify %-28s vs %-28s expected %s" % (s[:28], r[:28], e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
