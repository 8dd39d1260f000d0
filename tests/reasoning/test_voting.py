"""Extraction and self-consistency voting on recorded R1-format outputs."""

from __future__ import annotations

import pytest

from worker.voting import extract_answer, has_cut_off_box, parseable, vote

R1_HALF = (
    "Okay, so I need to add 1/3 and 1/6. The common denominator is 6, so 2/6 + 1/6 = 3/6.\n"
    "Wait, that simplifies to 1/2. Let me double-check: 0.333 + 0.1667 = 0.5. Yes.\n</think>\n\n"
    "To add the fractions, write both over 6:\n\\[\n\\frac{2}{6} + \\frac{1}{6} = \\frac{3}{6} = \\frac{1}{2}\n\\]\n\n"
    "**Final Answer**\n\\[\n\\boxed{\\dfrac{1}{2}}\n\\]"
)
R1_DECIMAL = (
    "Hmm, 1/3 + 1/6. Maybe I can think of it as \\boxed{3} parts... no.\nActually it is 0.5.\n</think>\n\n"
    "The sum is $0.5$, so the answer is $\\boxed{0.5}$."
)
R1_WRONG = "Let me see, 1/3 + 1/6 = 2/9.\n</think>\n\nThe answer is \\boxed{\\frac{2}{9}}."
R1_NESTED = "We need x.\n</think>\n\nThus $x = \\boxed{\\frac{\\sqrt{3}}{2}}$."
R1_NO_ANSWER = "Okay, let me think about this problem. The numbers are 1/3 and 1/6, so"
R1_FORCED = (
    "Okay, 1/3 is 2/6, plus 1/6 is 3/6\n\nConsidering the limited time, I have to give the solution based on "
    "the thinking directly now.\n</think>\n\n**Final Answer**\n\nThe final answer is $\\boxed{\\frac{1}{2}}$."
)


def test_extracts_the_boxed_answer_after_thinking():
    assert extract_answer(R1_WRONG).replace(" ", "") == "\\frac{2}{9}"
    assert extract_answer(R1_DECIMAL) == "0.5"  # the \boxed{3} inside <think> is not the answer
    assert extract_answer(R1_NESTED).replace(" ", "") == "\\frac{\\sqrt{3}}{2}"
    assert extract_answer(R1_FORCED).replace(" ", "") == "\\frac{1}{2}"
    assert extract_answer(R1_NO_ANSWER) is None


# Rule 1: a cut-off answer counts as no answer.
CUT_OFF = [
    "x\n</think>\n\n$\\boxed{\\frac{1}{",  # budget-forced box never closed
    "x\n</think>\n\nSo \\boxed{2} is wrong, the answer is $\\boxed{\\frac{1}{",  # a closed box before the cut
    "Okay so the answer is \\boxed{5}",  # cut inside the thinking: nothing after </think> yet
]


@pytest.mark.parametrize("text", CUT_OFF)
def test_cut_off_answers_are_no_answer(text):
    assert extract_answer(text) is None or extract_answer(text, truncated=True) is None
    assert extract_answer(text, truncated=True) is None


def test_truncated_text_needs_a_closed_box():
    # A marker answer at the cut may be the start of a longer one ("1" of "1/2").
    assert extract_answer("x\n</think>\n\nThe answer is 1", truncated=True) is None
    assert extract_answer("x\n</think>\n\nThe answer is 1") == "1"
    assert extract_answer("x\n</think>\n\nThe answer is $\\boxed{1/2}$. Let me also", truncated=True) == "1/2"
    assert has_cut_off_box("</think> \\boxed{\\frac{1}{") and not has_cut_off_box("</think> \\boxed{\\{1\\}}")


def test_identical_cut_offs_cannot_reach_ready():
    answers = [extract_answer("t\n</think>\n\n$\\boxed{\\frac{1}{", truncated=True) for _ in range(5)]
    result = vote(answers)
    assert result.answer is None and result.agreement == 0.0


# Rule 2: the final answer is taken as the grader takes it (grader.extract_final_answer).
def test_final_answer_follows_the_grader_contract():
    from grader import extract_final_answer

    for text in (R1_HALF, R1_DECIMAL, R1_WRONG, R1_NESTED, R1_FORCED, R1_NO_ANSWER):
        assert extract_answer(text) == extract_final_answer(text)


# Rule 3: only parseable answers can win.
def test_unparseable_answers_never_win():
    result = vote(["\\frac{1}{", "\\frac{1}{", "\\frac{1}{", "4"])
    assert result.answer == "4" and result.agreement == 0.25 and result.rejected == [0, 1, 2]
    assert not parseable("\\frac{1}{") and parseable("\\frac{1}{2}") and parseable("x = 2")
    nothing = vote(["\\sqrt{", "(((", None])
    assert nothing.answer is None and nothing.agreement == 0.0 and nothing.rejected == [0, 1]


def test_vote_groups_equivalent_answers_with_the_grader():
    answers = [extract_answer(t) for t in (R1_HALF, R1_DECIMAL, R1_WRONG, R1_FORCED, R1_NO_ANSWER)]
    result = vote(answers)
    assert result.agreement == pytest.approx(3 / 5)
    assert sorted(result.members) == [0, 1, 3]
    assert result.answer == answers[0]
    assert sorted(len(g) for g in result.groups) == [1, 3]


def test_none_answers_count_but_never_win():
    result = vote([None, None, None, "4"])
    assert result.answer == "4" and result.agreement == 0.25
    empty = vote([None, None])
    assert empty.answer is None and empty.agreement == 0.0 and empty.members == []


def test_ties_go_to_the_first_group_and_custom_equivalence():
    result = vote(["a", "b", "B", "A"], equivalent=lambda x, y: x.lower() == y.lower())
    assert result.answer == "a" and result.agreement == 0.5 and result.members == [0, 3]
