#!/usr/bin/env python
"""Benchmark: Stepwise's grader against Math-Verify (the baseline), measured in the same run.

Accuracy, per category, on three corpora written for this benchmark:

* ``algebra``: equal and unequal numbers, expressions, equations, sets, intervals (the cases
  of the first benchmark);
* ``everyday``: what school students write every day: words and names, multiple choice,
  units, rounding, decimal commas, derivatives, base-n numbers, clock times, chains;
* ``model``: whole model outputs (reasoning, ``</think>``, boxes, "Final Answer" markers,
  cut-off boxes) graded against the gold answer; Stepwise runs ``extract_final_answer`` then
  ``check_answer``, Math-Verify runs ``parse`` on the output.

Speed, per check (parsing both answers and comparing), over the algebra and everyday cases:

* cold: each pass is a NEW PROCESS (imports done, nothing else): every check is the first of
  its kind, with empty result and sympy caches; ``--passes`` processes per tool;
* warm, result cache off: the same process after a pass, Stepwise's result cache cleared
  before every check (sympy warm);
* warm, result cache on: Stepwise answering from its result cache (a class sending the same
  answers); Math-Verify has no result cache, its warm row is the same in both.

Each row gives the median over passes of the per-pass median (and mean) time per check, with
the spread (min-max over passes); ratios are Math-Verify / Stepwise, both for medians and
for means.  Math-Verify is a dev dependency only:  pip install math-verify

Usage:  python bench/grader.py [--passes N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

T, F = True, False

# (student, reference, expected full credit?)
ALGEBRA = [
    ("1/2", "0.5", T),
    ("2/4", "\\frac{1}{2}", T),
    ("50\\%", "\\frac{1}{2}", T),
    ("\\frac{3}{4}", "0.75", T),
    ("0.25", "\\frac{1}{4}", T),
    ("6/3", "2", T),
    ("\\dfrac{7}{2}", "3.5", T),
    ("\\frac{-3}{4}", "-0.75", T),
    ("2^{3}", "8", T),
    ("5!", "120", T),
    ("\\binom{5}{2}", "10", T),
    ("10^{-2}", "0.01", T),
    ("1,000", "1000", T),
    ("1.5 \\times 10^{3}", "1500", T),
    ("2\\frac{1}{2}", "\\frac{5}{2}", T),
    ("12", "12", T),
    ("-7", "-7", T),
    ("0", "0", T),
    ("\\frac{22}{7}", "\\pi", F),
    ("3.14", "\\pi", F),
    ("0.333", "\\frac{1}{3}", F),
    ("1.414", "\\sqrt{2}", F),
    ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", F),
    ("\\frac{1}{2004!}", "\\frac{1}{2006!}", F),
    ("2^{100}", "2^{100}+1", F),
    ("7", "5", F),
    ("-5", "5", F),
    ("10", "5", F),
    ("\\frac{2}{3}", "\\frac{3}{2}", F),
    ("0.5", "5", F),
    ("\\sqrt{8}", "2\\sqrt{2}", T),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", T),
    ("\\sqrt[3]{27}", "3", T),
    ("2\\pi", "\\pi \\cdot 2", T),
    ("\\frac{\\pi}{4}", "\\frac{45\\pi}{180}", T),
    ("\\log_2 8", "3", T),
    ("\\ln e^{2}", "2", T),
    ("\\sin\\frac{\\pi}{6}", "\\frac{1}{2}", T),
    ("\\cos \\pi", "-1", T),
    ("\\tan\\frac{\\pi}{4}", "1", T),
    ("e^{i\\pi}", "-1", T),
    ("12\\sqrt{3}", "\\sqrt{432}", T),
    ("3\\sqrt{2}", "\\sqrt{19}", F),
    ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5}", F),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", T),
    ("\\sin^2 x + \\cos^2 x", "1", T),
    ("2x+2", "2(x+1)", T),
    ("x^2+2x+1", "(x+1)^2", T),
    ("x(x+1)", "x^2+x", T),
    ("\\frac{x^2-1}{x-1}", "x+1", T),
    ("(x+1)(x-1)", "x^2-1", T),
    ("2x+3x", "5x", T),
    ("x^2-5x+6", "(x-2)(x-3)", T),
    ("\\frac{x}{2}", "0.5x", T),
    ("x^2+1", "x^2", F),
    ("x-1", "1-x", F),
    ("2x", "x", F),
    ("x^2+3x-2", "x^2+3x+2", F),
    ("\\sqrt{x^2}", "x", F),
    ("\\frac{1}{x}+\\frac{1}{y}", "\\frac{x+y}{xy}", T),
    ("a^2-b^2", "(a-b)(a+b)", T),
    ("(a+b)^2", "a^2+b^2", F),
    ("\\pi r^2", "r^2\\pi", T),
    ("\\frac{d}{2}", "0.5d", T),
    ("x^3-1", "(x-1)(x^2+x+1)", T),
    ("2\\sin x\\cos x", "\\sin 2x", T),
    ("y=2x+1", "2y=4x+2", T),
    ("y-2x=1", "y=2x+1", T),
    ("x=5", "5", T),
    ("5", "x=5", T),
    ("x=3", "2x+1=7", T),
    ("y=2x+2", "y=2x+1", F),
    ("y=-2x+1", "y=2x+1", F),
    ("x+y=1", "y=1-x", T),
    ("x^2+y^2=1", "y^2=1-x^2", T),
    ("x=4", "x=5", F),
    ("3, -2", "x=-2 \\text{ or } x=3", T),
    ("x=3 \\text{ or } x=-2", "-2, 3", T),
    ("\\{1, 2\\}", "\\{2, 1\\}", T),
    ("\\pm 3", "3, -3", T),
    ("x = \\pm 3", "x=3, x=-3", T),
    ("3", "3, -2", F),
    ("3, -2, 5", "3, -2", F),
    ("1, 2, 3", "3, 2, 1", T),
    ("x=1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", T),
    ("-1, 0, 1", "0, 1, -1", T),
    ("4, 5", "3, -2", F),
    ("\\{3\\}", "3", T),
    ("[1, 3]", "1 \\le x \\le 3", T),
    ("x > 2", "2 < x", T),
    ("(2, \\infty)", "x > 2", T),
    ("x \\ge 2", "[2, \\infty)", T),
    ("(-\\infty, 5)", "x < 5", T),
    ("(1, 3]", "1 < x \\le 3", T),
    ("x > 2", "x \\ge 2", F),
    ("x < 2", "x > 2", F),
    ("[1,3]", "(1,3)", F),
    ("(-\\infty, 2) \\cup (3, \\infty)", "x<2 \\text{ or } x>3", T),
    ("x^2 < 4", "-2 < x < 2", T),
    ("(1, 2)", "(1, 2)", T),
    ("(2, 1)", "(1, 2)", F),
    ("(\\frac{1}{2}, 3)", "(0.5, 3)", T),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", T),
    ("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", F),
    ("a=2, b=3", "b=3, a=2", T),
    ("a=2, b=4", "a=2, b=3", F),
    ("2+3i", "3i+2", T),
    ("(1+i)^2", "2i", T),
    ("2-3i", "2+3i", F),
    ("i^2", "-1", T),
    ("\\emptyset", "\\text{no solution}", T),
    ("\\mathbb{R}", "\\text{all real numbers}", T),
    ("\\emptyset", "x=2", F),
]

# (category, student, reference, expected full credit?)  Everyday answers: the verdict a
# teacher gives.  A right number without the key's unit, an answer to more decimal places than
# the rounded key, or a less rounded one, is not full credit.
EVERYDAY = [
    # words, names, choices, yes/no; algebra stays algebra; junk is not an answer
    ("text", "east", "east", T),
    ("text", "seat", "east", F),
    ("text", "east", "seat", F),
    ("text", "Evlyne", "Evelyn", F),
    ("text", "Evelyn", "Evelyn", T),
    ("text", "evelyn", "\\text{Evelyn}", T),
    ("text", "Paris", "\\text{London}", F),
    ("text", "North West", "north west", T),
    ("text", "yes", "Yes", T),
    ("text", "no", "yes", F),
    ("text", "true", "True", T),
    ("text", "false", "true", F),
    ("text", "B", "(B)", T),
    ("text", "(C)", "B", F),
    ("text", "\\text{(B)}", "B", T),
    ("text", "b", "\\text{(B)}", T),
    ("text", "D", "\\text{(A)}", F),
    ("text", "square", "\\text{rectangle}", F),
    ("text", "tangent", "\\text{tangent}", T),
    ("text", "idk", "5", F),
    ("text", "asdf", "x+1", F),
    ("text", "ba", "ab", T),
    ("text", "2yx", "2xy", T),
    ("text", "five", "5", T),
    ("text", "six", "5", F),
    # units
    ("units", "250 cm", "2.5 m", T),
    ("units", "3 kg", "3000 g", T),
    ("units", "1.5 h", "90 min", T),
    ("units", "5000 m/h", "5 km/h", T),
    ("units", "50.3 cm\u00b2", "50.3 cm^2", T),
    ("units", "50.3 cm^2", "50.3\\,\\text{cm}^2", T),
    ("units", "90\u00b0", "90^\\circ", T),
    ("units", "90 degrees", "90\u00b0", T),
    ("units", "2 L", "2000 mL", T),
    ("units", "20 sq cm", "20 cm^2", T),
    ("units", "0.5 h", "30 min", T),
    ("units", "50.3 cm", "50.3 cm^2", F),
    ("units", "3 kg", "3 m", F),
    ("units", "250 m", "2.5 m", F),
    ("units", "3 h", "30 min", F),
    ("units", "2.5", "2.5 m", F),
    ("units", "12 apples", "12", T),
    ("units", "$12.50", "12.5", T),
    # rounding and decimals
    ("rounding", "50.3", "50.3", T),
    ("rounding", "\u224850.3", "50.3", T),
    ("rounding", "\\approx 50.3", "50.3", T),
    ("rounding", "50.30", "50.3", T),
    ("rounding", "50.27", "50.3", F),
    ("rounding", "3.142", "3.14", F),
    ("rounding", "3.1", "3.14", F),
    ("rounding", "50", "50.3", F),
    ("rounding", "0,5", "0.5", T),
    ("rounding", "3,5", "3.5", T),
    ("rounding", "1,000.5", "1000.5", T),
    ("rounding", "12,500", "12500", T),
    ("rounding", "0,25", "\\frac{1}{4}", T),
    ("rounding", "0.33", "0.3", F),
    ("rounding", "2.50", "2.5", T),
    # notation
    ("notation", "y' = 2x \\sin x + x^2 \\cos x", "2x\\sin x + x^2\\cos x", T),
    ("notation", "f'(x) = 6x", "6x", T),
    ("notation", "\\frac{dy}{dx} = 3x^2", "3x^2", T),
    ("notation", "52_8", "52_8", T),
    ("notation", "4210_{5}", "4210_5", T),
    ("notation", "53_8", "52_8", F),
    ("notation", "12:00", "12:00", T),
    ("notation", "7:32", "7:32", T),
    ("notation", "7:23", "7:32", F),
    ("notation", "4:6", "2:3", T),
    ("notation", "(p,q)=(3,2)", "(3,2)", T),
    ("notation", "(3,2)", "(p,q)=(3,2)", T),
    ("notation", "x = 5+5+1 = 11", "11", T),
    ("notation", "x = 3.", "3", T),
    ("notation", "\\left(1, 2\\right)", "(1,2)", T),
    ("notation", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)", T),
    ("notation", "\\mathrm{e}^{2}", "e^2", T),
    ("notation", "3 \\text{ and } 5", "3, 5", T),
    ("notation", "\\begin{array}{cc}1&2\\\\3&4\\end{array}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", T),
]

# Written after this round of the grader was finished and NOT used to tune it: a rough check
# of how it does on answers it was not built around.  (category "held-out" in the report.)
HELD_OUT = [
    ("held-out", "0.75 m", "75 cm", T),
    ("held-out", "75", "75 cm", F),
    ("held-out", "1.2 kg", "1200 g", T),
    ("held-out", "2 hours", "120 minutes", T),
    ("held-out", "45 seconds", "0.75 min", T),
    ("held-out", "3.5 km", "3500 m", T),
    ("held-out", "350 m", "3.5 km", F),
    ("held-out", "12 m²", "12 m^2", T),
    ("held-out", "180°", "180 degrees", T),
    ("held-out", "1.25", "1\\frac{1}{4}", T),
    ("held-out", "5/4", "1.25", T),
    ("held-out", "0.6", "60%", T),
    ("held-out", "6/10", "3/5", T),
    ("held-out", "3.33", "3.3", F),
    ("held-out", "3.3", "3.33", F),
    ("held-out", "2,75", "2.75", T),
    ("held-out", "x = 7.", "7", T),
    ("held-out", "No", "no", T),
    ("held-out", "FALSE", "false", T),
    ("held-out", "(A)", "A", T),
    ("held-out", "circle", "\\text{circle}", T),
    ("held-out", "triangle", "\\text{square}", F),
    ("held-out", "Isosceles", "isosceles", T),
    ("held-out", "y = 3x - 2", "y = -2 + 3x", T),
    ("held-out", "x = -4, x = 1", "x = 1 or x = -4", T),
    ("held-out", "x \\geq 3", "[3, \\infty)", T),
    ("held-out", "4:30", "4:30", T),
    ("held-out", "3:1", "6:2", T),
    ("held-out", "11_2", "3", T),
    ("held-out", "1011_2", "1011_2", T),
    ("held-out", "-\\frac{2}{3}", "-0.\\overline{6}", T),
    ("held-out", "20 mph", "20 miles per hour", T),
    ("held-out", "5 m/s", "18 km/h", T),
    ("held-out", "n = 12", "12", T),
    ("held-out", "twelve", "12", T),
    ("held-out", "asdfgh", "12", F),
]

# (category, model output, gold answer, expected: the output's answer equals the gold one)
MODEL = [
    ("boxed", "<think>2+2 is 4.</think>\nThe answer is $\\boxed{4}$.", "4", T),
    ("boxed", "Okay, 6*7 = 42.\n</think>\n\n**Final Answer**\n\\boxed{42}", "42", T),
    ("boxed", "</think> So the value is \\boxed{\\dfrac{3}{4}}.", "0.75", T),
    ("boxed", "</think> \\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}", T),
    ("boxed", "</think> The solution set is $\\boxed{(-\\infty, 2) \\cup (3, \\infty)}$.", "x<2 \\text{ or } x>3", T),
    ("boxed", "</think> The roots are \\boxed{2} and \\boxed{-3}.", "-3, 2", T),
    ("boxed", "</think> Therefore $x = \\boxed{5}$.", "5", T),
    ("boxed", "</think> \\boxed{7}", "8", F),
    ("boxed", "We compute the sum: $1+2+3 = 6$. So the answer is $\\boxed{6}$.", "6", T),
    ("boxed", "</think> \\boxed{\\text{(C)}}", "C", T),
    ("boxed", "</think> The area is \\boxed{50.3\\text{ cm}^2}", "50.3 cm^2", T),
    ("boxed", "</think> \\boxed{x^2 + 2x + 1}", "(x+1)^2", T),
    ("several", "</think> Fill in $\\boxed{\\phantom{2}}$ first. Counting, there are 4 squares: \\boxed{4}", "4", T),
    ("several", "</think> First guess \\boxed{3}. That fails the check, so the answer is larger: \\boxed{5}", "5", T),
    ("several", "Draft: \\boxed{1}.\n\nFinal Answer: The final answer is $\\boxed{2}$. I hope it is correct.", "2", T),
    ("several", "</think> **Final Answer**\n\\boxed{12}\n\nCheck: $3 \\cdot 4 = \\boxed{12}$", "12", T),
    ("several", "</think> We set $y = \\boxed{2}$ earlier, but the question asks for x, so x is \\boxed{7}.", "7", T),
    ("several", "</think> Answer: \\boxed{-1} or \\boxed{1}", "1, -1", T),
    ("marker", "</think> Final Answer: 12", "12", T),
    ("marker", "</think> The final answer is $x = 5$. I hope it is correct.", "5", T),
    ("marker", "</think> Therefore, the answer is \\(2\\sqrt{2}\\).", "\\sqrt{8}", T),
    ("marker", "</think> 所以答案是 42", "42", T),
    ("marker", "Step 1 ... Step 2 ... Final Answer: $\\dfrac{7}{2}$", "3.5", T),
    ("marker", "</think> The answer is 1,000 apples.", "1000", T),
    ("cut-off", "<think>Let me think. The value is \\boxed{3", "3", F),
    ("cut-off", "<think>First, \\boxed{3} is wrong. Let me", "3", F),
    ("cut-off", "</think> So far \\boxed{3}. Recheck: the answer is \\boxed{\\frac{7}{", "3", F),
    ("cut-off", "Thus the area is \\boxed{4} ... hmm, actually \\boxed{\\sqrt{", "4", F),
    ("cut-off", "</think> **Final Answer**\n\\boxed{\\dfrac{3", "3", F),
    ("cut-off", "<think>so it is \\boxed{8}</think>", "8", T),
]


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


# ------------------------------------------------------------------ the two tools


def _stepwise():
    import grader

    return grader


def sw_check(g, s, r, cache: bool):
    if not cache:
        g.clear_cache()
    return g.check_answer(s, r).correct


def sw_model(g, out, gold):
    ans = g.extract_final_answer(out)
    return ans is not None and g.check_answer(ans, gold).correct


def _mv():
    try:
        from math_verify import parse, verify
    except ImportError:
        return None
    return parse, verify


def mv_check(mv, s, r):
    parse, verify = mv
    try:
        return bool(verify(parse("$" + r + "$"), parse("$" + s + "$")))
    except Exception:
        return False


def mv_model(mv, out, gold):
    parse, verify = mv
    try:
        return bool(verify(parse("$" + gold + "$"), parse(out)))
    except Exception:
        return False


def _timed(fn, cases):
    times, verdicts = [], []
    for case in cases:
        t = time.perf_counter()
        v = fn(*case)
        times.append(time.perf_counter() - t)
        verdicts.append(v)
    return times, verdicts


def _speed_cases():
    return [(s, r) for s, r, _ in ALGEBRA] + [(s, r) for _, s, r, _ in EVERYDAY + HELD_OUT]


# ------------------------------------------------------------------ one pass in this process


def run_pass(tool: str) -> dict:
    """Run by a fresh process: a cold pass, then warm passes; timings and verdicts as JSON."""
    cases = _speed_cases()
    out: dict = {}
    if tool == "stepwise-warmed":  # what a worker sees: warm_up() at process start
        g = _stepwise()
        g.warm_up()
        out["cold"] = _timed(lambda s, r: sw_check(g, s, r, cache=True), cases)
        return out
    if tool == "stepwise":
        g = _stepwise()
        out["cold"] = _timed(lambda s, r: sw_check(g, s, r, cache=True), cases)
        out["warm_nocache"] = _timed(lambda s, r: sw_check(g, s, r, cache=False), cases)
        for s, r in cases:  # fill the result cache (not timed)
            sw_check(g, s, r, cache=True)
        out["warm_cache"] = _timed(lambda s, r: sw_check(g, s, r, cache=True), cases)
        g.clear_cache()
        out["model"] = _timed(lambda o, gold: sw_model(g, o, gold), [(o, gd) for _, o, gd, _ in MODEL])
    else:
        mv = _mv()
        if mv is None:
            return {}
        out["cold"] = _timed(lambda s, r: mv_check(mv, s, r), cases)
        out["warm_nocache"] = _timed(lambda s, r: mv_check(mv, s, r), cases)
        out["warm_cache"] = out["warm_nocache"]
        out["model"] = _timed(lambda o, gold: mv_model(mv, o, gold), [(o, gd) for _, o, gd, _ in MODEL])
    return out


def fresh_pass(tool: str) -> dict:
    """A pass in a new Python process, so 'cold' means nothing is cached."""
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--one-pass", tool],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report


def _row(name, passes, key):
    meds = [statistics.median(p[key][0]) * 1e3 for p in passes]
    means = [statistics.mean(p[key][0]) * 1e3 for p in passes]
    p95 = [_pct(p[key][0], 0.95) * 1e3 for p in passes]
    return {
        "name": name,
        "median": statistics.median(meds),
        "median_lo": min(meds),
        "median_hi": max(meds),
        "mean": statistics.median(means),
        "mean_lo": min(means),
        "mean_hi": max(means),
        "p95": statistics.median(p95),
    }


def _accuracy(verdicts, expected, cats):
    out: dict = {}
    for v, e, c in zip(verdicts, expected, cats):
        hit, n = out.get(c, (0, 0))
        out[c] = (hit + (v == e), n + 1)
    return out


def _print_row(row):
    print(
        "%-44s %7.3f [%5.3f-%5.3f] %7.3f [%5.3f-%5.3f] %8.3f"
        % (
            row["name"],
            row["median"],
            row["median_lo"],
            row["median_hi"],
            row["mean"],
            row["mean_lo"],
            row["mean_hi"],
            row["p95"],
        )
    )


def report(results: dict, passes: int) -> dict:
    sw, mv = results["stepwise"], results.get("mathverify") or []
    print("Stepwise grader vs Math-Verify: %d passes per tool, each in a new process" % passes)
    print(
        "%d timed cases (algebra %d + everyday %d + held-out %d); times per check in ms; median "
        "over passes [min-max]" % (len(_speed_cases()), len(ALGEBRA), len(EVERYDAY), len(HELD_OUT))
    )
    print()
    print("%-44s %21s %21s %8s" % ("pass / tool", "median", "mean", "p95"))
    rows = {}
    labels = [
        ("cold", "cold (new process, caches empty)"),
        ("warm_nocache", "warm, result cache off"),
        ("warm_cache", "warm, result cache on"),
    ]
    for key, label in labels:
        for tool, ps in (("stepwise", sw), ("math-verify", mv)):
            if not ps:
                continue
            row = _row("%s: %s" % (label, tool), ps, key)
            rows[(key, tool)] = row
            _print_row(row)
        if key == "cold" and results.get("warmed"):
            row = _row("cold after warm_up(): stepwise", results["warmed"], "cold")
            rows[("cold_warmed", "stepwise")] = row
            _print_row(row)
    summary: dict = {"rows": list(rows.values())}
    if mv:
        print()
        print("speed ratio Math-Verify / Stepwise (> 1: Stepwise is faster)")
        ratio_rows = labels[:1] + [("cold_warmed", "cold, Stepwise after warm_up()")] + labels[1:]
        for key, label in ratio_rows:
            if (key, "stepwise") not in rows:
                continue
            a, b = rows[(key if key != "cold_warmed" else "cold", "math-verify")], rows[(key, "stepwise")]
            rm, rmean = a["median"] / b["median"], a["mean"] / b["mean"]
            summary["ratio_" + key] = {"median": rm, "mean": rmean}
            print("  %-34s median %7.1fx   mean %7.1fx" % (label, rm, rmean))
    print()
    print("accuracy (agreement with the expected verdict)")
    corpora = [
        ("algebra", [e for _, _, e in ALGEBRA], ["algebra"] * len(ALGEBRA), "cold", 0),
        ("everyday", [e for *_, e in EVERYDAY], [c for c, *_ in EVERYDAY], "cold", len(ALGEBRA)),
        (
            "held-out everyday",
            [e for *_, e in HELD_OUT],
            [c for c, *_ in HELD_OUT],
            "cold",
            len(ALGEBRA) + len(EVERYDAY),
        ),
        ("model outputs", [e for *_, e in MODEL], [c for c, *_ in MODEL], "model", 0),
    ]
    summary["accuracy"] = {}
    print("%-26s %8s %12s %12s" % ("corpus / category", "cases", "Stepwise", "Math-Verify"))
    for name, expected, cats, key, start in corpora:
        n = len(expected)
        acc_sw = _accuracy(sw[0][key][1][start : start + n], expected, cats)
        acc_mv = _accuracy(mv[0][key][1][start : start + n], expected, cats) if mv else {}
        tot_sw = sum(h for h, _ in acc_sw.values())
        tot_mv = sum(h for h, _ in acc_mv.values()) if mv else None
        print("%-26s %8d %11.1f%% %11s" % (name, n, 100 * tot_sw / n, "%.1f%%" % (100 * tot_mv / n) if mv else "-"))
        summary["accuracy"][name] = {"stepwise": tot_sw / n, "math-verify": (tot_mv / n) if mv else None}
        if len(acc_sw) > 1:
            for c, (h, k) in acc_sw.items():
                hm = acc_mv.get(c, (0, k))[0] if mv else None
                print("  %-24s %8d %11.1f%% %11s" % (c, k, 100 * h / k, "%.1f%%" % (100 * hm / k) if mv else "-"))
                summary["accuracy"]["%s/%s" % (name, c)] = {"stepwise": h / k, "math-verify": (hm / k) if mv else None}
    # verdicts that differ from the expected ones, for reading
    print()
    cases = [(s, r, e) for s, r, e in ALGEBRA] + [(s, r, e) for _, s, r, e in EVERYDAY + HELD_OUT]
    for tool, ps in (("stepwise", sw), ("math-verify", mv)):
        if not ps:
            continue
        wrong = [(s, r, e) for (s, r, e), v in zip(cases, ps[0]["cold"][1]) if v != e]
        wrong += [(o.replace("\n", " ")[-40:], g, e) for (_, o, g, e), v in zip(MODEL, ps[0]["model"][1]) if v != e]
        print("wrong verdicts, %s: %d" % (tool, len(wrong)))
        for s, r, e in wrong[:40]:
            print("  %-42s vs %-22s expected %s" % (s[:42], r[:22], e))
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passes", type=int, default=5, help="passes (new processes) per tool")
    ap.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    ap.add_argument("--one-pass", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one_pass:
        print(json.dumps(run_pass(args.one_pass)))
        return 0
    results: dict = {"stepwise": [], "mathverify": [], "warmed": []}
    have_mv = _mv() is not None
    if not have_mv:
        print("Math-Verify is not installed (pip install math-verify); baseline skipped.")
    for _ in range(args.passes):  # interleaved, so machine load hits both tools alike
        results["stepwise"].append(fresh_pass("stepwise"))
        results["warmed"].append(fresh_pass("stepwise-warmed"))
        if have_mv:
            results["mathverify"].append(fresh_pass("mathverify"))
    summary = report(results, args.passes)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
