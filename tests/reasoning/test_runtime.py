"""The model runner through the real transformers classes, on a tiny random Qwen2 (CPU)."""
from __future__ import annotations

import pytest

from worker.generation import FORCE_ANSWER, FORCE_CLOSE_THINKING, NO_ANSWER_NOTE, left_pad, render_prompt
from worker.runtime import (
    DOWNLOAD_COMMAND,
    FatalDeviceError,
    ModelRunner,
    ModelUnavailable,
    get_runner,
    is_fatal_device_error,
    model_available,
)

PROBLEMS = ["What is 1/3 + 1/6?", "Solve for x: 2x + 3 = 7. Show every step of the work carefully."]


def test_load_health_and_prompt(tiny_runner, tiny_model_path):
    health = tiny_runner.health()
    assert health["ok"] and health["state"] == "ready"
    assert health["device"] == "cpu" and health["dtype"] == "float32"
    assert health["load_time_s"] > 0 and health["warmup_s"] is not None
    prompt = render_prompt(tiny_runner.tokenizer, "What is 2+2?")
    assert prompt.startswith("<｜begin▁of▁sentence｜><｜User｜>What is 2+2?\nPlease reason step by step")
    assert prompt.endswith("<｜Assistant｜><think>\n")  # no system prompt, output starts in <think>
    assert model_available(tiny_runner.settings) == (True, f"model weights found in {tiny_model_path}")


def test_left_padding_batch_matches_single_sequences(tiny_runner):
    tok = tiny_runner.tokenizer
    prompts = [tiny_runner._encode(render_prompt(tok, p)) for p in PROBLEMS]
    assert len(prompts[0]) != len(prompts[1])
    ids, mask = left_pad(prompts, tiny_runner._pad_id)
    short = 0 if len(prompts[0]) < len(prompts[1]) else 1
    assert mask[short][0] == 0 and ids[short][0] == tiny_runner._pad_id and mask[short][-1] == 1
    greedy = tiny_runner._generation_config(max_new_tokens=6, greedy=True)
    calls = tiny_runner.generate_calls
    batched = tiny_runner._run_batched(prompts, greedy)
    assert tiny_runner.generate_calls == calls + 1  # one generate call for the batch
    alone = [tiny_runner._run_batched([p], greedy)[0] for p in prompts]
    assert batched == alone


def test_generate_samples_and_budget_forcing(tiny_runner):
    calls = tiny_runner.generate_calls
    results = tiny_runner.generate(PROBLEMS, samples=3, max_new_tokens=10)
    assert [len(r) for r in results] == [3, 3]
    # one batched call for 6 sequences, one batched forcing continuation
    assert tiny_runner.generate_calls - calls <= 2
    for samples in results:
        for s in samples:
            assert s.prompt_tokens > 0 and s.latency_s > 0
            assert set(s.to_dict()) == {"text", "answer", "completion_tokens", "truncated", "forced"}
            # a random model never stops within 10 tokens: the thinking is closed and an answer asked for
            if s.truncated:
                assert s.forced
                assert FORCE_CLOSE_THINKING + FORCE_ANSWER in s.text
                assert s.text.count("</think>") >= 1
                assert 10 < s.completion_tokens <= 10 + tiny_runner.forced_tokens
                assert (s.answer is not None) or s.text.endswith(NO_ANSWER_NOTE)


def test_oom_halves_the_batch_and_retries(tiny_runner, monkeypatch):
    import torch

    seen = []
    real = ModelRunner._generate_chunk

    def flaky(self, sequences, config):
        seen.append(len(sequences))
        if len(sequences) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, sequences, config)

    monkeypatch.setattr(ModelRunner, "_generate_chunk", flaky)
    monkeypatch.setattr(tiny_runner, "max_batch", 8)
    results = tiny_runner.generate(PROBLEMS, samples=3, max_new_tokens=4)
    assert [len(r) for r in results] == [3, 3]
    assert seen[:3] == [6, 3, 1]  # 6 sequences, halved to 3, then to 1
    assert tiny_runner.max_batch <= 2 and tiny_runner.oom_backoffs >= 1


def test_other_cuda_errors_are_fatal(tiny_runner, monkeypatch):
    def broken(self, sequences, config):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(ModelRunner, "_generate_chunk", broken)
    with pytest.raises(FatalDeviceError):
        tiny_runner.generate(PROBLEMS[:1], samples=1, max_new_tokens=2)
    assert not is_fatal_device_error(ValueError("CUDA error"))
    assert not is_fatal_device_error(RuntimeError("shape mismatch"))


def test_missing_weights_say_what_to_do(tmp_path, settings_factory):
    settings = settings_factory(tmp_path / "no-model-here")
    ok, why = model_available(settings)
    assert not ok and DOWNLOAD_COMMAND in why and "does not exist" in why
    runner = ModelRunner(settings)
    with pytest.raises(ModelUnavailable) as info:
        runner.ensure_ready()
    assert "huggingface-cli download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" in info.value.message
    assert runner.health()["state"] == "unavailable" and runner.health()["error"]
    with pytest.raises(ModelUnavailable):  # cached: no reload attempt on every task
        runner.ensure_ready()


def test_missing_from_hf_cache(tmp_path, monkeypatch, settings_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    settings = settings_factory("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
    ok, why = model_available(settings)
    assert not ok and "not in the Hugging Face cache" in why and DOWNLOAD_COMMAND in why


def test_cuda_requested_without_gpu(tiny_model_path, settings_factory):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    runner = ModelRunner(settings_factory(tiny_model_path, device="cuda"))
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        runner.load()


def test_get_runner_is_cached_per_process_and_lazy(tiny_model_path, tmp_path, settings_factory):
    settings = settings_factory(tiny_model_path)
    first = get_runner(settings)
    assert first.state == "new" and first.model is None  # nothing loaded until used
    assert get_runner(settings) is first
    other = get_runner(settings_factory(tmp_path / "elsewhere"))
    assert other is not first and first.state == "closed"
