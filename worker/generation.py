"""Prompting, budget forcing and batching helpers for the reasoning model. Torch-free at import.

Prompting follows the DeepSeek-R1-Distill model card: no system prompt, the problem followed by
"Please reason step by step, and put your final answer within \\boxed{}.", and the output starts
in "<think>\\n" (the chat template's generation prompt ends with it; we add it if a template
does not).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

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
    latency_s: float = 0.0  # wall time of the batch this sample was generated in

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("prompt_tokens")
        data.pop("latency_s")
        return data


def user_message(problem: str) -> str:
    return f"{problem.strip()}\n{INSTRUCTION}"


def render_prompt(tokenizer: Any, problem: str) -> str:
    """The chat-templated prompt (no system message) ending in "<think>\\n"."""
    messages = [{"role": "user", "content": user_message(problem)}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not prompt.rstrip().endswith(THINK_OPEN):
        prompt += THINK_OPEN + "\n"  # older R1 templates stop at <｜Assistant｜>
    elif not prompt.endswith("\n"):
        prompt += "\n"
    return prompt


def forcing_suffix(text: str, truncated: bool, answer: str | None) -> str | None:
    """What to append before a short answer continuation, or None when the sample is complete."""
    if not truncated:
        return None
    if THINK_CLOSE not in text:
        return FORCE_CLOSE_THINKING + FORCE_ANSWER
    if answer is None:
        return "\n\n" + FORCE_ANSWER
    return None  # cut off after it had already answered


def cut_at_eos(ids: Sequence[int], stop_ids: set[int]) -> tuple[list[int], bool]:
    """Generated ids up to (excluding) the first stop token, and whether a stop token was reached."""
    out: list[int] = []
    for token in ids:
        if token in stop_ids:
            return out, True
        out.append(int(token))
    return out, False


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Left-pad token id lists to one length: (input_ids, attention_mask)."""
    width = max(len(s) for s in sequences)
    ids = [[pad_id] * (width - len(s)) + list(s) for s in sequences]
    mask = [[0] * (width - len(s)) + [1] * len(s) for s in sequences]
    return ids, mask


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start:start + size]


def kv_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """KV-cache bytes one token costs across all layers (Qwen2: GQA, head_dim = hidden / heads)."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return 2 * config.num_hidden_layers * kv_heads * head_dim * dtype_bytes


def memory_bound_batch(free_bytes: int, per_token_bytes: int, seq_len: int, *, headroom: float = 0.7) -> int:
    """How many sequences of `seq_len` tokens fit in `headroom` of `free_bytes` of KV cache."""
    if per_token_bytes <= 0 or seq_len <= 0:
        return 1
    return max(1, int(free_bytes * headroom) // (per_token_bytes * seq_len))


__all__ = [
    "FORCED_TOKENS",
    "FORCE_ANSWER",
    "FORCE_CLOSE_THINKING",
    "INSTRUCTION",
    "NO_ANSWER_NOTE",
    "Sample",
    "chunks",
    "cut_at_eos",
    "forcing_suffix",
    "kv_bytes_per_token",
    "left_pad",
    "memory_bound_batch",
    "render_prompt",
    "user_message",
]
