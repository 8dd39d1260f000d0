"""Cache keys for reference solutions. Torch-free: the web intake imports this.

A reference solution is reused whenever the same statement (after normalising whitespace and
Unicode) is solved by the same model with the same generation settings, so re-uploads and
re-grades never run the model again.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

_SPACE = re.compile(r"\s+")

# The settings fields that change what the model writes; nothing else belongs in the cache key.
GENERATION_FIELDS = ("temperature", "top_p", "max_new_tokens", "repetition_penalty", "samples")


def normalise_statement(statement: str) -> str:
    """NFC, trimmed, every run of whitespace one space; case and symbols are kept (math is case-sensitive)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", statement or "")).strip()


def statement_hash(statement: str) -> str:
    return hashlib.sha256(normalise_statement(statement).encode("utf-8")).hexdigest()


def generation_settings(settings: Any) -> dict[str, Any]:
    """The model-relevant generation settings (the dict stored in ReferenceSolution.settings)."""
    return {
        "temperature": float(settings.temperature),
        "top_p": float(settings.top_p),
        "max_new_tokens": int(settings.max_new_tokens),
        "repetition_penalty": float(settings.repetition_penalty),
        "samples": int(settings.samples),
    }


def reference_cache_key(statement: str, model_id: str, gen_settings: dict[str, Any]) -> tuple[str, str]:
    """(cache_key, statement_hash), both sha256 hex: the key covers statement, model id and settings."""
    s_hash = statement_hash(statement)
    canonical = {k: gen_settings[k] for k in sorted(gen_settings)}
    payload = json.dumps(
        {"statement": s_hash, "model": model_id.strip(), "settings": canonical},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest(), s_hash


__all__ = ["GENERATION_FIELDS", "generation_settings", "normalise_statement", "reference_cache_key", "statement_hash"]
