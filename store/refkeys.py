"""Cache keys of reference solutions: pure hashing the intake needs (the model side fills the
generation settings, `worker.keys.generation_settings`)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

_SPACE = re.compile(r"\s+")


def normalise_statement(statement: str) -> str:
    """NFC, trimmed, every run of whitespace one space; case and symbols are kept (math is case-sensitive)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", statement or "")).strip()


def statement_hash(statement: str) -> str:
    return hashlib.sha256(normalise_statement(statement).encode("utf-8")).hexdigest()


def reference_cache_key(statement: str, model_id: str, gen_settings: dict[str, Any]) -> tuple[str, str]:
    """(cache_key, statement_hash), both sha256 hex: the key covers statement, model id and settings.

    Pass `generation_settings(settings)`: it holds every field of KEY_FIELDS (an empty dict is the
    "no model on this install" row)."""
    s_hash = statement_hash(statement)
    canonical = {k: gen_settings[k] for k in sorted(gen_settings)}
    payload = json.dumps(
        {"statement": s_hash, "model": model_id.strip(), "settings": canonical},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest(), s_hash
