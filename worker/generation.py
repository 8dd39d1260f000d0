"""Prompting, budget forcing and batching helpers for the reasoning model. Torch-free at import.

Prompting follows the DeepSeek-R1-Distill model card: no system prompt, the problem followed by
"Please reason step by step, and put your final answer within \\boxed{}.", and the output starts
in "<think>\\n" (the chat template's generation prompt ends with it; we add it if a template
does not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Budget forcing: when the token budget runs out, close the thinking and ask for the answer in a
# short continuation, so every solution ends with an answer or an explicit "no answer".
FORCE_CLOSE_THINKING = (
    "\n\nConsidering the limited time, I have to give the solution based on the thinking directly now.\n"
    + THINK_CLOSE
    + "\n\n"
)
FORCE_ANSWER = "**Final Answer**\n\nThe final answer is $\\boxed{"
NO_ANSWER_NOTE = "\n\n[no answer: the model did not reach a final answer within its token budget]"
FORCED_TOKENS = 48  # the continuation only has to close one \boxed{...}


@dataclass
class Sample:
    """One sampled solution for one problem."""

    text: str  # everything the model wrote after "<think>\n", thinking kept, forced parts included
    answer: str | None
    completion_tokens: int  # generated tokens (both phases), the EOS included
    truncated: bool  # the budget ran out before the model stopped
    forced: bool  # budget forcing added the answer request
    prompt_tokens: int = 0
    latency_s: float = 0.0  # from the batch's start until this sample's last token

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("prompt_tokens")
        data.pop("latency_s")
        return data


def user_message(problem: str) -> str:
    return f"{problem.strip()}\n{INSTRUCTION}"


def is_reasoning_model(tokenizer: Any) -> bool:
    """An R1-style model thinks in <think>...</think>: its chat template or vocabulary says so."""
    template = getattr(tokenizer, "chat_template", None) or ""
    if THINK_OPEN in str(template):
        return True
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    return THINK_OPEN in vocab and THINK_CLOSE in vocab


def render_prompt(tokenizer: Any, problem: str, *, thinking: bool = True) -> str:
    """The chat-templated prompt (no system message); a reasoning model's ends in "<think>\\n".

    A plain model (`thinking=False`, e.g. Qwen2.5-1.5B for eval-model's comparison) gets the same
    user message without <think>; a base model without a chat template gets the message as text."""
    messages = [{"role": "user", "content": user_message(problem)}]
    if not getattr(tokenizer, "chat_template", None):
        return user_message(problem) + "\n"
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not thinking:
        return prompt
    if not prompt.rstrip().endswith(THINK_OPEN):
        prompt += THINK_OPEN + "\n"  # older R1 templates stop at <｜Assistant｜>
    elif not prompt.endswith("\n"):
        prompt += "\n"
    return prompt


def forcing_suffix(text: str, truncated: bool, answer: str | None, *, thinking: bool = True) -> str | None:
    """What to append before a short answer continuation, or None when the sample is complete."""
    if not truncated:
        return None
    if thinking and THINK_CLOSE not in text:
        return FORCE_CLOSE_THINKING + FORCE_ANSWER
    if answer is None:
        return "\n\n" + FORCE_ANSWER
    return None  # cut off after it had already answered


__all__ = [
    "FORCED_TOKENS",
    "FORCE_ANSWER",
    "FORCE_CLOSE_THINKING",
    "INSTRUCTION",
    "NO_ANSWER_NOTE",
    "Sample",
    "forcing_suffix",
    "is_reasoning_model",
    "render_prompt",
    "user_message",
]
