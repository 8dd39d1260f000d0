"""extract_final_answer: the one final answer a (reasoning) model's output means.

Linear in the length of the output: braces are matched in one pass, every box is looked at
once, and the answer returned is at most :data:`MAX_BOX` characters.
"""

from __future__ import annotations

import re

__all__ = ["extract_final_answer"]

MAX_OUTPUT = 2_000_000  # characters looked at (the end of a longer output)
MAX_BOX = 20_000  # a box longer than this is not an answer
_BARE = re.compile(r"[^\s$]{1,200}")
_BOXED = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])\s*")
_BRACES = re.compile(r"\\.|[{}]", re.S)
_PHANTOM = re.compile(r"\\(?:h|v)?phantom\s*\{[^{}]*\}")
_MARKERS = re.compile(
    r"(?:\*\*)?(?:final\s+answer|the\s+(?:final\s+)?answer\s+is|answer\s*:|答案是|答案为|答案：|答案:|最终答案是?)"
    r"(?:\*\*)?\s*[:：]?\s*(?:\*\*)?",
    re.I,
)
# Text allowed between boxes that together give one answer: "\boxed{2} and \boxed{-3}".
_JOINER = re.compile(r"(?:\s|\$|,|;|&|\\quad|\\qquad|\\text\s*\{\s*(?:and|or)\s*\}|\band\b|\bor\b)*")


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of each balanced '{' -> position of its '}' (escaped braces do not count)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in _BRACES.finditer(text):
        c = m.group(0)
        if c == "{":
            stack.append(m.start())
        elif c == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


class _Box:
    __slots__ = ("start", "end", "content")

    def __init__(self, start: int, end: int, content: str | None):
        self.start, self.end, self.content = start, end, content  # content None: cut off


def _boxes(text: str) -> list[_Box]:
    """Top-level boxes in order (a box inside a box is part of it)."""
    pairs = _brace_pairs(text) if "{" in text else {}
    out: list[_Box] = []
    covered = -1
    for m in _BOXED.finditer(text):
        if m.start() < covered:
            continue
        i = m.end()
        if i < len(text) and text[i] == "{":
            j = pairs.get(i)
            if j is None:
                out.append(_Box(m.start(), len(text), None))
                break  # everything after an unclosed box is inside it
            covered = j + 1
            inner = text[i + 1 : j] if j - i <= MAX_BOX else None
            out.append(_Box(m.start(), j + 1, inner))
        else:
            m2 = _BARE.match(text, i)  # \boxed 5
            if m2:
                covered = m2.end()
                out.append(_Box(m.start(), m2.end(), m2.group(0)))
    return out


def _meaningful(box: _Box) -> bool:
    return box.content is None or bool(_clean(_PHANTOM.sub("", box.content)))


def _group_ending_at(text: str, boxes: list[_Box], k: int) -> str | None:
    """The answer of box k together with the boxes just before it that only joining words
    separate from it ("\\boxed{2} and \\boxed{-3}")."""
    if boxes[k].content is None:
        return None
    first = k
    while (
        first > 0
        and boxes[first - 1].content is not None
        and _JOINER.fullmatch(text, boxes[first - 1].end, boxes[first].start)
    ):
        first -= 1
    return _join(boxes[first : k + 1])


def _group_starting_at(text: str, boxes: list[_Box], k: int) -> str | None:
    if boxes[k].content is None:
        return None
    last = k
    while (
        last + 1 < len(boxes)
        and boxes[last + 1].content is not None
        and _JOINER.fullmatch(text, boxes[last].end, boxes[last + 1].start)
    ):
        last += 1
    return _join(boxes[k : last + 1])


def _join(group: list[_Box]) -> str | None:
    seen: list[str] = []
    for b in group:
        c = _clean(b.content or "")
        if c and c not in seen:
            seen.append(c)
    return ", ".join(seen) or None


def _clean(ans: str) -> str:
    a = ans.strip()
    a = re.sub(r"^\*\*|\*\*$", "", a).strip()
    for _ in range(2):
        a = a.strip()
        if len(a) >= 2 and a[0] == "$" and a[-1] == "$":
            a = a.strip("$").strip()
        if a.startswith("\\(") and a.endswith("\\)"):
            a = a[2:-2].strip()
        if a.startswith("\\[") and a.endswith("\\]"):
            a = a[2:-2].strip()
    a = a.rstrip(" .。")
    return a.strip()


def _plain_after(rest: str) -> str | None:
    """The answer written right after a marker, without a box."""
    rest = rest.strip()
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener), len(opener) + MAX_BOX)
            if end > 0:
                return _clean(rest[len(opener) : end]) or None
            return None
    line = rest[:MAX_BOX].split("\n", 1)[0]
    line = re.split(r"(?<=[^\d\s])\.\s|\.$|。", line)[0]
    return _clean(line) or None


def extract_final_answer(model_output: str) -> str | None:
    """Final answer of a model output, or None.

    * What follows the last ``</think>`` is the final part; an opened ``<think>`` that never
      closes means the output was cut off while reasoning -> None.
    * After a "Final Answer" / "the answer is" / "答案是" marker: the box that follows it (with
      boxes joined to it by "and", commas...), else the text that follows it.
    * Else the last box of the final part (with the boxes joined to it); a box left open
      (a budget ran out mid-answer) -> None.  Empty boxes and ``\\phantom`` are skipped.
    * A closed reasoning with an empty final part: the last box inside the reasoning.
    """
    if not isinstance(model_output, str) or not model_output.strip():
        return None
    text = model_output[-MAX_OUTPUT:]
    reasoning = ""
    cut = text.rfind("</think>")
    if cut >= 0:
        reasoning, final = text[:cut], text[cut + len("</think>") :]
    elif "<think>" in text:
        return None
    else:
        final = text
    boxes = [b for b in _boxes(final) if _meaningful(b)]
    markers = list(_MARKERS.finditer(final))
    if markers:
        at = markers[-1].end()
        after = [k for k, b in enumerate(boxes) if b.start >= at]
        inside = [b for b in boxes if b.start < at < b.end]
        if not inside:
            if after:
                return _group_starting_at(final, boxes, after[0])
            plain = _plain_after(final[at:])
            if plain:
                return plain
    if boxes:
        return _group_ending_at(final, boxes, len(boxes) - 1)
    if reasoning and not final.strip():
        boxes = [b for b in _boxes(reasoning[-MAX_BOX * 2 :]) if _meaningful(b)]
        if boxes:
            return _group_ending_at(reasoning[-MAX_BOX * 2 :], boxes, len(boxes) - 1)
    return None
