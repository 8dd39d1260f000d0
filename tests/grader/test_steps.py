"""Step tables for check_steps: (lines, first_error, diagnosis of that step, words in feedback)."""

import pytest

from grader import StepsResult, check_steps

STEPS = [
    # Correct linear solving.
    (["3(x - 2) = 12", "3x - 6 = 12", "3x = 18", "x = 6"], None, "", ""),
    (["2x + 5 = 11", "2x = 6", "x = 3"], None, "", ""),
    (["x/3 = 4", "x = 12"], None, "", ""),
    (["5 - x = 2", "-x = -3", "x = 3"], None, "", ""),
    (["4(x + 1) = 2(x - 3)", "4x + 4 = 2x - 6", "2x = -10", "x = -5"], None, "", ""),
    (["\\frac{x}{2} + 1 = 4", "\\frac{x}{2} = 3", "x = 6"], None, "", ""),
    (["0.5x = 2", "x = 4"], None, "", ""),
    # Distributing over brackets: forgetting a term (the issue's example).
    (["3(x - 2) = 12", "3x - 2 = 12", "3x = 14"], 1, "distribution", "did you multiply -2 by 3?"),
    (["2(x + 4) = 10", "2x + 4 = 10"], 1, "distribution", "did you multiply 4 by 2?"),
    (["5 - (x - 3) = 1", "5 - x - 3 = 1"], 1, "distribution", "sign of every term"),
    # Moving a term without changing its sign.
    (["x + 3 = 5", "x = 8"], 1, "sign-error", "change its sign"),
    (["2x - 4 = 6", "2x = 2"], 1, "sign-error", "change its sign"),
    # Multiplying instead of dividing.
    (["2x = 6", "x = 12"], 1, "off-by-factor", "divide both sides"),
    (["4x = 8", "x = 4"], 1, "wrong-operation", "divide both sides"),
    # Losing roots: square roots without +-, dividing by a variable.
    (["x^2 = 9", "x = 3"], 1, "missing-solution", "\u00b1"),
    (["x^2 = 2x", "x = 2"], 1, "missing-solution", "can be zero"),
    (["x^2 = 9", "x = \\pm 3"], None, "", ""),
    (["x^2 = 9", "x = 3 or x = -3"], None, "", ""),
    (["x^2 - 5x + 6 = 0", "(x - 2)(x - 3) = 0", "x = 2 or x = 3"], None, "", ""),
    (["x^2 - 5x + 6 = 0", "(x - 2)(x - 3) = 0", "x = 2"], 2, "missing-solution", "lost"),
    (["x(x - 4) = 0", "x - 4 = 0"], 1, "missing-solution", "zero"),
    # Squaring both sides can add a root.
    (["\\sqrt{x} = -2", "x = 4"], 1, "extra-solution", "adds a solution"),
    (["x = 3", "x^2 = 9"], 1, "extra-solution", "squaring"),
    # Inequalities: multiplying by a negative flips the sign.
    (["-2x > 6", "x < -3"], None, "", ""),
    (["-2x > 6", "x > -3"], 1, "flipped-inequality", "flip the inequality"),
    (["3x + 1 \\le 7", "3x \\le 6", "x \\le 2"], None, "", ""),
    (["-x \\ge 4", "x \\ge -4"], 1, "flipped-inequality", "negative"),
    (["2x < 8", "x \\le 4"], 1, "wrong-endpoints", "endpoints"),
    (["x + 1 > 3", "x > 2"], None, "", ""),
    # Expressions: each line must be equal to the one before.
    (["(x + 1)^2", "x^2 + 2x + 1"], None, "", ""),
    (["(x + 1)^2", "= x^2 + 2x + 1"], None, "", ""),
    (["(x+1)^2", "= x^2 + 1"], 1, "wrong-value", "Step 2"),
    (["2(3x - 4)", "6x - 4"], 1, "distribution", "multiply -4 by 2"),
    (["\\frac{2}{4} + \\frac{1}{4}", "\\frac{3}{4}"], None, "", ""),
    (["2x + 3x", "5x", "= 5x"], None, "", ""),
    (["x^2 - 4x + 4 - 1", "x^2 - 4x + 5"], 1, "sign-error", "sign"),
    (["(x+2)(x-2)", "x^2 - 4"], None, "", ""),
    (["\\sin^2 x + \\cos^2 x + 1", "2"], None, "", ""),
    # Continuation lines after an equation compare with its right-hand side.
    (["f = (x+1)(x+2)", "= x^2 + 3x + 2"], None, "", ""),
    # Leading words / arrows are ignored.
    (["2x = 10", "\\Rightarrow x = 5"], None, "", ""),
    (["2x = 10", "so x = 5"], None, "", ""),
    # Unreadable lines are invalid and count as the first error.
    (["2x = 4", "x = = 2", "x = 2"], 1, "unreadable", "could not read"),
    (["", "x = 2"], 0, "unreadable", "could not read"),
    # Systems lines with several variables: equivalent linear equations.
    (["2x + 2y = 6", "x + y = 3", "y = 3 - x"], None, "", ""),
    (["2x + 2y = 6", "x + y = 6"], 1, "", ""),
    # Non-polynomial equations are compared by solving for one variable.
    (["y = e^x", "\\ln y = x"], None, "", ""),
    (["y = e^x", "\\ln y = 2x"], 1, "wrong-value", "same solutions"),
    (["2^x = 8", "x = 3"], None, "", ""),
    (["\\frac{x}{2} = 3", "x = \\frac{3}{2}"], 1, "off-by-factor", "multiply both sides"),
    (["x - 3 = 5", "x = 2"], 1, "sign-error", "move -3"),
    # Givens written as lines are substituted into the formula that uses them (issue 8, item 6).
    (["r = 4", "A = \\pi r^2", "A = 16\\pi"], None, "", ""),
    (["r = 4", "h = 3", "V = \\pi r^2 h", "V = 48\\pi"], None, "", ""),
    (["r = 4", "A = \\pi r^2", "A = 8\\pi"], 2, "wrong-value", "Step 3"),
    (["r = 4", "C = 2\\pi r", "C = 8\\pi", "C \\approx 25.13"], None, "", ""),
    (["x = 3", "x^2 = 9"], 1, "extra-solution", ""),  # not a given: no formula follows
    # Approximation steps follow when the decimal is correctly rounded.
    (["A = 16\\pi", "A \u2248 50.27"], None, "", ""),
    (["A = 16\\pi", "A \\approx 50.3"], None, "", ""),
    (["A = 16\\pi", "A \u2248 50.26"], 1, "rounded", "correctly rounded"),
    (["\\sqrt{2}", "\\approx 1.414"], None, "", ""),
    (["\\sqrt{2}", "\u2248 1.42"], 1, "rounded", "digits"),
    (["x = \\frac{1}{3}", "x \u2248 0.333", "x \u2248 0.33"], None, "", ""),
    # A wrong factoring blames the factors, not "moving a term across".
    (["x^2 - 5x + 6 = 0", "(x + 2)(x + 3) = 0", "x = -2 or x = -3"], 1, "factoring", "signs inside your brackets"),
    (["x^2 - 5x + 6 = 0", "(x - 1)(x - 6) = 0"], 1, "factoring", "multiplying them out"),
    (["x^2 + 5x + 6", "(x - 2)(x - 3)"], 1, "factoring", "brackets"),
    (["x^2 + x - 6", "(x - 2)(x - 3)"], 1, "factoring", "multiplying them out"),
    (["x^2 - 9 = 0", "(x - 3)(x + 3) = 0", "x = 3 or x = -3"], None, "", ""),
    # Adding numerators and denominators.
    (["\\frac{3}{4} + \\frac{5}{6}", "\\frac{8}{10}"], 1, "added-fractions", "common denominator"),
    (["1/2 + 1/3", "= 2/5"], 1, "added-fractions", "numerators and the denominators"),
    (["1/2 + 1/3", "= 5/6"], None, "", ""),
]


@pytest.mark.parametrize("lines,first_error,diag,words", STEPS, ids=[" | ".join(s[0])[:40] for s in STEPS])
def test_steps_table(lines, first_error, diag, words):
    r = check_steps(lines)
    assert isinstance(r, StepsResult)
    assert len(r.steps) == len(lines)
    assert r.first_error == first_error, [(s.status, s.feedback) for s in r.steps]
    for i, s in enumerate(r.steps):
        assert s.index == i and s.line == lines[i]
        assert s.feedback.startswith("Step %d" % (i + 1))
    if first_error is not None:
        bad = r.steps[first_error]
        assert not bad.ok
        if diag:
            assert bad.diagnosis == diag, bad.feedback
        if words:
            assert words in bad.feedback, bad.feedback
        assert all(s.ok for s in r.steps[:first_error])
    else:
        assert r.ok and all(s.ok for s in r.steps)


def test_issue_example_feedback_exactly():
    r = check_steps(["3(x - 2) = 12", "3x - 2 = 12"])
    assert r.steps[1].feedback == ("Step 2: 3x - 2 = 12 does not follow from 3(x - 2) = 12: did you multiply -2 by 3?")


def test_steps_interpreted_and_dict():
    r = check_steps(["x^2 = 9", "x = \u00b13"])
    assert r.steps[0].interpreted == "x^{2} = 9"
    d = r.to_dict()
    assert d["first_error"] is None and len(d["steps"]) == 2


def test_steps_hostile_lines_do_not_crash():
    lines = ["9^9^9^9", "(" * 3000 + ")" * 3000, "x = 1/0", "\\frac{", "1" * 20000, "x = 2"]
    r = check_steps(lines)
    assert r.first_error == 0
    assert all(s.status in ("invalid", "incorrect", "timeout", "start", "correct", "unverified") for s in r.steps)


def test_steps_empty_list():
    r = check_steps([])
    assert r.steps == [] and r.first_error is None


# (lines, given, first_error, statuses)
GIVEN = [
    (["A = \\pi r^2", "A = 16\\pi"], {"r": 4}, None, ["start", "correct"]),
    (["A = \\pi r^2", "A = 16\\pi", "A \u2248 50.27"], {"r": "4"}, None, ["start", "correct", "correct"]),
    (["A = \\pi r^2", "A = 12\\pi"], {"r": 4}, 1, ["start", "incorrect"]),
    (["r = 4", "A = \\pi r^2", "A = 16\\pi"], {"r": 4}, None, ["start", "start", "correct"]),
    (["V = l w h", "V = 60"], {"l": 5, "w": 4, "h": 3}, None, ["start", "correct"]),
    (["V = l w h", "V = 20h"], {"l": 5, "w": 4}, None, ["start", "correct"]),
    (["s = d/t", "s = 2.5"], {"d": 10, "t": 4.0}, None, ["start", "correct"]),
]


@pytest.mark.parametrize("lines,given,first_error,statuses", GIVEN, ids=[" | ".join(g[0]) for g in GIVEN])
def test_steps_with_given_values(lines, given, first_error, statuses):
    r = check_steps(lines, given=given)
    assert r.first_error == first_error, [s.feedback for s in r.steps]
    assert [s.status for s in r.steps] == statuses


# (lines, score, valid steps, summary)
CREDIT = [
    (["2x + 4 = 10", "2x = 6", "x = 3"], 1.0, 2, "Steps 2-3 are right."),
    (["2x + 4 = 10", "2x = 6", "x = 3", "x = 4"], 0.6667, 2, "Steps 2-3 are right; step 4 is the first error."),
    (["2x + 4 = 10", "2x = 14", "x = 7"], 0.0, 0, "Step 2 is the first error."),
    (["3(x - 2) = 12", "3x - 6 = 12", "3x = 6", "x = 2"], 0.3333, 1, "Step 2 is right; step 3 is the first error."),
    (["x = 3"], 1.0, 0, ""),
]


@pytest.mark.parametrize("lines,score,valid,summary", CREDIT, ids=[" | ".join(c[0]) for c in CREDIT])
def test_step_credit_gives_method_marks(lines, score, valid, summary):
    r = check_steps(lines, {"step_credit": True})
    assert r.score == score and r.details["valid_steps"] == valid
    assert r.details["summary"] == summary
    assert r.to_dict()["score"] == score
    assert check_steps(lines).score is None
