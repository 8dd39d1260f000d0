"""extract_final_answer: the final answer in a (reasoning) model's output."""
from __future__ import annotations

import re

__all__ = ["extract_final_answer"]

MAX_OUTPUT = 2_000_000
MAX_BOX = 20_000
_BARE = re.compile(r"[^\s$]{1,200}")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_MARKERS = re.compile(
    r"(?:\*\*)?(?:final\s+answer|the\s+(?:final\s+)?answer\s+is|answer\s*:|答案是|答案为|答案：|答案:|最终答案是?)"
    r"(?:\*\*)?\s*[:：]?\s*(?:\*\*)?",
    re.I)


def _boxed_contents(text: str) -> list[str]:
    out = []
    for m in _BOXED.finditer(text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth = 0
            j = i
            end = min(len(text), i + MAX_BOX)
            while j < end:
                c = text[j]
                if c == "\\" and j + 1 < len(text):
                    j += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        out.append(text[i + 1:j].strip())
                        break
                j += 1
            # unbalanced: ignore this box
        else:
            m2 = _BARE.match(text, i)     # \boxed 5
            if m2:
                out.append(m2.group(0))
    return [o for o in out if o]


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


def _after_marker(text: str) -> str | None:
    ms = list(_MARKERS.finditer(text))
    if not ms:
        return None
    rest = text[ms[-1].end():]
    boxed = _boxed_contents(rest)
    if boxed:
        return boxed[0]
    rest = rest.strip()
    if rest.startswith("$$"):
        end = rest.find("$$", 2)
        if end > 0:
            return _clean(rest[2:end])
    if rest.startswith("$"):
        end = rest.find("$", 1)
        if end > 0:
            return _clean(rest[1:end])
    if rest.startswith("\\["):
        end = rest.find("\\]")
        if end > 0:
            return _clean(rest[2:end])
    line = rest.split("\n", 1)[0]
    line = re.split(r"(?<=[^\d\s])\.\s|\.$|。", line)[0]
    out = _clean(line)
    return out or None


def _dedupe(items):
    seen = []
    for x in items:
        if x not in seen:
            seen.append(x)
    return seen


def extract_final_answer(model_output: str) -> str | None:
    """Final answer of a model output, or None.

    * Prefer what follows the last ``</think>``; an opened ``<think>`` that never closes
      means the output was cut off while reasoning -> None.
    * ``\\boxed{}`` / ``\\fbox{}`` (nested braces) in the final part; several distinct ones
      form a list joined by ", ".
    * Otherwise "Final Answer:", "the answer is", "答案是" ...
    """
    if not isinstance(model_output, str) or not model_output.strip():
        return None
    text = model_output[:MAX_OUTPUT]
    reasoning = ""
    if "</think>" in text:
        reasoning, final = text.rsplit("</think>", 1)
    elif "<think>" in text:
        return None
    else:
        final = text
    boxed = _dedupe(_boxed_contents(final))
    if boxed:
        return ", ".join(_clean(b) for b in boxed)
    marked = _after_marker(final)
    if marked:
        return marked
    if reasoning and not final.strip():
        # closed reasoning with an empty final part: fall back to its last boxed answer
        boxed = _boxed_contents(reasoning[-MAX_BOX:])
        if boxed:
            return _clean(boxed[-1])
    return None
