"""Extraction tables for extract_final_answer: (model output, expected answer or None)."""

import pytest

from grader import extract_final_answer

EXTRACT = [
    # DeepSeek-R1 style: reasoning, </think>, final part with a boxed answer.
    ("<think>Let me compute 2+2. It is 4.</think>\nThe answer is $\\boxed{4}$.", "4"),
    ("<think>\\boxed{3} maybe?</think> Final: \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    # The chat template put <think> in the prompt: the output only has </think>.
    ("Okay, so 6*7... 42.\n</think>\n\n**Final Answer**\n\\boxed{42}", "42"),
    ("reasoning \\boxed{1} </think> so \\boxed{2}", "2"),
    # Nested braces.
    ("</think> \\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
    ("</think> $\\boxed{x^{2}+\\frac{1}{x^{3}}}$", "x^{2}+\\frac{1}{x^{3}}"),
    ("</think> \\boxed{\\left\\{1, 2\\right\\}}", "\\left\\{1, 2\\right\\}"),
    ("</think> \\fbox{7}", "7"),
    ("</think> \\boxed 5", "5"),
    ("</think> \\boxed{\\text{(C)}}", "\\text{(C)}"),
    # Several boxed answers in the final part form a list (duplicates collapse).
    ("</think> The roots are \\boxed{2} and \\boxed{-3}.", "2, -3"),
    ("</think> \\boxed{x=1}, \\boxed{y=2}", "x=1, y=2"),
    ("</think> So \\boxed{5}. Therefore the answer is \\boxed{5}.", "5"),
    # Phrases instead of boxes.
    ("</think> Final Answer: 12", "12"),
    ("</think> **Final Answer:** $\\frac{3}{4}$", "\\frac{3}{4}"),
    ("</think> The final answer is $x = 5$. I hope it is correct.", "x = 5"),
    ("</think> the answer is 3.5.", "3.5"),
    ("</think> Therefore, the answer is \\(2\\sqrt{2}\\)", "2\\sqrt{2}"),
    ("</think> 所以答案是 42", "42"),
    ("</think> 答案是：$\\frac{1}{2}$", "\\frac{1}{2}"),
    ("Answer: 17", "17"),
    ("The answer is 1,000 apples.", "1,000 apples"),
    # No </think>: a plain (non-reasoning) model answer.
    ("We get \\boxed{10}.", "10"),
    ("Step 1 ... Step 2 ... Final Answer: $\\dfrac{7}{2}$", "\\dfrac{7}{2}"),
    # Cut off inside the reasoning: no answer.
    ("<think>Let me think about this. The value is \\boxed{3", None),
    ("<think>First, \\boxed{3} is wrong. Let me", None),
    ("<think>", None),
    ("", None),
    ("   ", None),
    # Closed reasoning with nothing after it: fall back to the last boxed answer inside.
    ("<think>so it is \\boxed{8}</think>", "8"),
    ("<think>so it is \\boxed{8}</think>\n\n", "8"),
    # Final part without any marker.
    ("<think>x</think> I am not sure.", None),
    # Unbalanced box ignored.
    ("</think> \\boxed{\\frac{1}{2}", None),
    # The answer the model means: not every box of the final part joined.
    ("</think> Put $\\boxed{\\phantom{2}}$ in the grid. Counting gives 4 squares, so \\boxed{4}.", "4"),
    ("</think> First try \\boxed{3}. That fails the check, so the answer must be larger: \\boxed{5}", "5"),
    ("</think> We set $x = \\boxed{2}$ earlier, but the question asks for y. So y is \\boxed{7}.", "7"),
    ("</think> \\boxed{} then \\boxed{9}", "9"),
    # After a final-answer marker: the box that follows it, even if the model writes more boxes after.
    ("</think> **Final Answer**\n\\boxed{12}\n\nCheck: \\boxed{12 = 3 \\cdot 4}", "12"),
    ("</think> The final answer is \\boxed{6}. Verification: 2 \\cdot 3 = \\boxed{6}.", "6"),
    ("Draft: \\boxed{1}. Final Answer: The final answer is $\\boxed{2}$", "2"),
    ("</think> Final answer: \\boxed{1} or \\boxed{-1}", "1, -1"),
    ("</think> The roots: $\\boxed{2}$, $\\boxed{3}$", "2, 3"),
    # A box left open at the end (a budget-forced continuation that ran out) -> None.
    ("</think> So far \\boxed{3}. Wait, recheck: the answer is \\boxed{\\frac{7}{", None),
    ("Thus the area is \\boxed{4} ... hmm, actually \\boxed{\\sqrt{", None),
    ("</think> **Final Answer**\n\\boxed{\\dfrac{3", None),
    # Nested boxes are one answer.
    ("</think> \\boxed{\\boxed{5}}", "\\boxed{5}"),
    # Escaped braces are not groups.
    ("</think> \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("</think> \\boxed{x \\in \\{1\\}", None),
    # MATH-style solutions without think tags: the last box.
    ("Since $2^2 = 4$, the side is $\\boxed{2}$.", "2"),
    ("Case 1 gives $\\boxed{3}$? No: case 1 is impossible. Hence $\\boxed{8}$.", "8"),
]


@pytest.mark.parametrize("text,expected", EXTRACT, ids=[t[:30] for t, _ in EXTRACT])
def test_extract_table(text, expected):
    assert extract_final_answer(text) == expected


def test_extract_non_string():
    assert extract_final_answer(None) is None  # type: ignore[arg-type]


def test_extract_huge_output_is_fast():
    import time

    text = "<think>" + "blah { " * 100000 + "</think> \\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"
    t = time.perf_counter()
    out = extract_final_answer(text)
    assert time.perf_counter() - t < 1.0
    assert out is not None and out.endswith("}")


def test_extract_then_check():
    from grader import check_answer

    ans = extract_final_answer("<think>...</think> So $\\boxed{\\dfrac{2}{4}}$")
    assert check_answer(ans, "0.5").correct


def test_nested_boxes_are_linear_time_and_bounded():
    import time

    text = "</think> " + "\\boxed{" * 3000 + "1" + "}" * 3000  # 24 KB of nested boxes
    t = time.perf_counter()
    out = extract_final_answer(text)
    assert time.perf_counter() - t < 1.0  # about 10 ms on an idle machine
    assert out is None or len(out) <= 20_000  # longer than any answer: not an answer


def test_large_outputs_are_linear_time():
    import time

    for text in (
        "</think>" + "\\boxed{x} and " * 30000,  # 468 KB, many boxes
        "</think>" + "\\boxed{" * 200000,  # never closed
        "x" * 400000 + "The final answer is " * 20000 + "\\boxed{2}",
        "{" * 500000 + "\\boxed{3}",
    ):
        t = time.perf_counter()
        out = extract_final_answer(text)
        assert time.perf_counter() - t < 2.0, text[:30]
        assert out is None or len(out) <= 20_000


def test_only_the_end_of_a_huge_output_is_read():
    text = "\\boxed{1} " + "x" * 2_100_000 + " \\boxed{2}"
    assert extract_final_answer(text) == "2"
