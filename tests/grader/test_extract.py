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
