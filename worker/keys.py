"""Cache keys for reference solutions. Torch-free: the web intake imports this.

A reference solution is reused whenever the same statement (after normalising whitespace and
Unicode) is solved by the same model with the same generation settings, prompt and forcing
texts, agreement threshold and answer extraction, so re-uploads and re-grades never run the
model again, and any change that would change a reference gives a new key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from store.refkeys import normalise_statement, reference_cache_key, statement_hash  # the intake needs them too

# Everything that changes a reference: the sampling settings, the agreement a "ready" answer
# needs, the prompt and budget-forcing texts (a digest, so editing a text changes every key), and
# the extraction/voting rules (the grader's version: it extracts and parses the answers).
GENERATION_FIELDS = ("temperature", "top_p", "max_new_tokens", "repetition_penalty", "samples")
KEY_FIELDS = GENERATION_FIELDS + ("agreement", "prompt_version", "vote_version")
VOTE_RULES = "2"  # bump when worker/voting.py changes how answers are taken or counted


def prompt_version() -> str:
    """A short digest of every text the model is shown or forced with."""
    from worker import generation as g

    texts = [g.INSTRUCTION, g.THINK_OPEN, g.FORCE_CLOSE_THINKING, g.FORCE_ANSWER, str(g.FORCED_TOKENS)]
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()[:16]


def vote_version() -> str:
    from grader import GRADER_VERSION

    return f"{VOTE_RULES}/grader-{GRADER_VERSION}"


def generation_settings(settings: Any) -> dict[str, Any]:
    """Everything in `KEY_FIELDS` for these settings (the dict stored in ReferenceSolution.settings)."""
    return {
        "temperature": float(settings.temperature),
        "top_p": float(settings.top_p),
        "max_new_tokens": int(settings.max_new_tokens),
        "repetition_penalty": float(settings.repetition_penalty),
        "samples": int(settings.samples),
        "agreement": float(settings.agreement),
        "prompt_version": prompt_version(),
        "vote_version": vote_version(),
    }


__all__ = [
    "GENERATION_FIELDS",
    "KEY_FIELDS",
    "generation_settings",
    "normalise_statement",
    "prompt_version",
    "reference_cache_key",
    "statement_hash",
    "vote_version",
]
