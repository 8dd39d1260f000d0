from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from worker import generation
from worker.keys import KEY_FIELDS, generation_settings, prompt_version, reference_cache_key, statement_hash

ROOT = Path(__file__).resolve().parents[2]
GEN = {
    "temperature": 0.6,
    "top_p": 0.95,
    "max_new_tokens": 8192,
    "repetition_penalty": 1.0,
    "samples": 5,
    "agreement": 0.6,
    "prompt_version": "p1",
    "vote_version": "v1",
}


def test_cache_key_is_stable_and_normalises_whitespace():
    a = reference_cache_key("Solve  2x + 3 = 7.\n", "m", GEN)
    b = reference_cache_key(" Solve 2x +\t3 = 7.", "m", dict(reversed(list(GEN.items()))))
    assert a == b
    assert all(re.fullmatch(r"[0-9a-f]{64}", part) for part in a)
    assert a[1] == statement_hash("Solve 2x + 3 = 7.")


def test_cache_key_changes_with_model_settings_and_statement():
    base = reference_cache_key("x^2 = 4", "m", GEN)
    assert reference_cache_key("x^2 = 4", "other", GEN)[0] != base[0]
    assert reference_cache_key("x^2 = 4", "m", {**GEN, "max_new_tokens": 4096})[0] != base[0]
    assert reference_cache_key("X^2 = 4", "m", GEN) != base  # case matters in math
    assert reference_cache_key("x^2 = 4", "other", GEN)[1] == base[1]


@pytest.mark.parametrize(
    "field,value",
    [
        ("agreement", 0.8),
        ("prompt_version", "p2"),
        ("vote_version", "v2"),
        ("temperature", 0.7),
        ("top_p", 0.9),
        ("repetition_penalty", 1.1),
        ("samples", 7),
    ],
)
def test_everything_that_changes_a_reference_changes_the_key(field, value):
    assert reference_cache_key("x^2 = 4", "m", {**GEN, field: value})[0] != reference_cache_key("x^2 = 4", "m", GEN)[0]


def test_generation_settings_hold_every_key_field(tiny_settings, monkeypatch):
    gen = generation_settings(tiny_settings)
    assert set(gen) == set(KEY_FIELDS)
    assert gen["samples"] == tiny_settings.samples and gen["max_new_tokens"] == tiny_settings.max_new_tokens
    assert gen["agreement"] == tiny_settings.agreement
    # Editing a prompt or forcing text changes the prompt version, hence every key.
    before = prompt_version()
    monkeypatch.setattr(generation, "FORCE_ANSWER", generation.FORCE_ANSWER + " ")
    assert prompt_version() != before
    monkeypatch.setattr(generation, "FORCE_ANSWER", generation.FORCE_ANSWER.rstrip(" "))
    monkeypatch.setattr(generation, "INSTRUCTION", "Think.")
    assert prompt_version() != before


def test_no_torch_at_import():
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import worker.keys, worker.voting, worker.generation, worker.runtime, worker.evaluate, tasks.reasoning\n"
        "import worker.engine, worker.engine_hf, worker.engine_vllm, worker.engine_openai, worker.reference\n"
        "from worker.runtime import model_available\n"
        "from store.settings import Settings\n"
        "print(model_available(Settings(model='/nonexistent/model', secret_key='x', database_url='sqlite://',"
        " instance_dir='/tmp')))\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n" % str(ROOT)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "huggingface-cli download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" in out.stdout


def test_tasks_and_web_do_not_import_torch_at_module_level():
    pattern = re.compile(r"^(import|from) (torch|transformers)", re.MULTILINE)
    for folder in ("tasks", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not pattern.search(path.read_text()), path
