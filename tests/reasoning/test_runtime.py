"""The model runner through the real transformers classes, on a tiny random Qwen2 (CPU)."""

from __future__ import annotations

import time

import pytest

from worker.engine import GenerationTimeout, Request, Sampling, choose_engine
from worker.engine_hf import StaticEngine, left_pad
from worker.generation import FORCE_ANSWER, FORCE_CLOSE_THINKING, NO_ANSWER_NOTE, render_prompt
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
    assert health["device"] == "cpu" and health["dtype"] == "float32" and health["engine"]["engine"] == "transformers"
    assert health["load_time_s"] > 0 and health["warmup_s"] is not None
    prompt = render_prompt(tiny_runner.tokenizer, "What is 2+2?")
    assert prompt.startswith("<｜begin▁of▁sentence｜><｜User｜>What is 2+2?\nPlease reason step by step")
    assert prompt.endswith("<｜Assistant｜><think>\n")  # no system prompt, output starts in <think>
    assert model_available(tiny_runner.settings) == (True, f"model weights found in {tiny_model_path}")


ROUND_TRIP = [
    "What is 2 + 2?",
    "Solve  for x:\t2x + 3 = 7.\n\n  Then   check.",
    " leading and trailing spaces ",
    "Final Answer: $\\boxed{\\frac{1}{2}}$ (one half)",
]


def test_tokenizer_declares_the_real_class_and_keeps_spaces(tiny_runner, tiny_model_path):
    import json

    declared = json.loads((tiny_model_path / "tokenizer_config.json").read_text())
    assert declared["tokenizer_class"] == "LlamaTokenizerFast"  # like deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
    for text in ROUND_TRIP:
        assert tiny_runner._decode(tiny_runner._encode(text)) == text
    prompt = tiny_runner._encode(render_prompt(tiny_runner.tokenizer, ROUND_TRIP[1]))
    bos = tiny_runner.tokenizer.bos_token_id
    assert prompt[0] == bos and prompt.count(bos) == 1  # a single BOS, from the chat template
    assert ROUND_TRIP[1].strip() in tiny_runner._decode(prompt)


def static_engine(runner, max_batch=8):
    return StaticEngine(
        runner.model, device="cpu", dtype_bytes=4, pad_id=runner._pad_id, stop_ids=runner._stop_ids, max_batch=max_batch
    )


def test_left_padding_batch_matches_single_sequences(tiny_runner):
    tok = tiny_runner.tokenizer
    prompts = [tiny_runner._encode(render_prompt(tok, p)) for p in PROBLEMS]
    assert len(prompts[0]) != len(prompts[1])
    ids, mask = left_pad(prompts, tiny_runner._pad_id)
    short = 0 if len(prompts[0]) < len(prompts[1]) else 1
    assert mask[short][0] == 0 and ids[short][0] == tiny_runner._pad_id and mask[short][-1] == 1
    engine = static_engine(tiny_runner)
    batched = engine.generate([Request.of(p, 6) for p in prompts])
    assert engine.generate_calls == 1  # one generate call for the batch
    alone = [engine.generate([Request.of(p, 6)])[0] for p in prompts]
    assert [c.token_ids for c in batched] == [c.token_ids for c in alone]


def test_continuous_batching_matches_static_greedy(tiny_runner):
    """The paged, continuously batched engine computes the same greedy tokens as padded generate."""
    assert tiny_runner.engine.name == "transformers"  # the CPU default
    prompts = [tiny_runner._encode(render_prompt(tiny_runner.tokenizer, p)) for p in PROBLEMS]
    requests = [Request.of(p, n) for p, n in zip(prompts, (9, 5))]  # different lengths in one batch
    continuous = tiny_runner.engine.generate(requests)
    static = static_engine(tiny_runner).generate(requests)
    assert [c.token_ids for c in continuous] == [c.token_ids for c in static]
    assert [len(c.token_ids) + c.stopped for c in continuous] == [9, 5]


def test_generate_samples_and_budget_forcing(tiny_runner, monkeypatch):
    follow_ups = []
    real = tiny_runner.engine.generate

    def recording(requests, *, follow_up=None, **kwargs):
        def spy(n, done):
            more = follow_up(n, done)
            follow_ups.append((requests[n], done, more))
            return more

        return real(requests, follow_up=spy, **kwargs)

    monkeypatch.setattr(tiny_runner.engine, "generate", recording)
    calls = tiny_runner.generate_calls
    results = tiny_runner.generate(PROBLEMS, samples=3, max_new_tokens=10)
    assert [len(r) for r in results] == [3, 3]
    assert tiny_runner.generate_calls - calls == 1  # 6 sequences and their forcing in one engine call
    for samples in results:
        for s in samples:
            assert s.prompt_tokens > 0 and s.latency_s > 0
            assert set(s.to_dict()) == {"text", "answer", "completion_tokens", "truncated", "forced"}
            # a random model never stops within 10 tokens: the thinking is closed and an answer asked for
            if s.truncated:
                assert s.forced
                head = s.text.split(FORCE_ANSWER)[0]
                # closed by forcing, or by the (random) model itself before the budget ran out
                assert head.endswith(FORCE_CLOSE_THINKING) or "</think>" in head.removesuffix("\n\n")
                assert s.text.count("</think>") >= 1
                assert 10 < s.completion_tokens <= 10 + tiny_runner.forced_tokens
                assert (s.answer is not None) or s.text.endswith(NO_ANSWER_NOTE)
    # Budget forcing continues the same sequence: prompt + what was written + the forcing text.
    forced = [(first, done, more) for first, done, more in follow_ups if more is not None]
    assert forced
    for first, done, more in forced:
        prefix = first.prompt_ids + tuple(done.token_ids)
        assert more.prompt_ids[: len(prefix)] == prefix and len(more.prompt_ids) > len(prefix)
        assert more.sampling.greedy and more.max_new_tokens == tiny_runner.forced_tokens


@pytest.mark.parametrize("kind", ["transformers", "static"])
def test_deadline_stops_generation_inside_the_loop(tiny_runner, kind, monkeypatch):
    """The solo pool ignores Celery's time limits: the engine's own deadline must stop a long run."""
    engine = tiny_runner.engine if kind == "transformers" else static_engine(tiny_runner)
    monkeypatch.setattr(engine, "stop_ids", {-1})  # a sampled EOS must not end the run before the deadline
    prompt = tiny_runner._encode(render_prompt(tiny_runner.tokenizer, PROBLEMS[0]))
    long_run = [Request.of(prompt, 3000, Sampling(temperature=0.6, top_p=0.95))] * 2
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        engine.generate(long_run, deadline=started + 0.5)
    assert time.monotonic() - started < 20  # 3000 tokens would take far longer on 2 cores
    with pytest.raises(GenerationTimeout):  # already past: nothing runs
        engine.generate(long_run, deadline=time.monotonic() - 1)
    assert len(engine.generate([Request.of(prompt, 3)])[0].token_ids) <= 3  # still usable afterwards


def test_oom_halves_the_batch_and_retries(tiny_runner, monkeypatch):
    import torch

    engine = static_engine(tiny_runner)
    seen = []
    real = StaticEngine._generate_chunk

    def flaky(self, sequences, config):
        seen.append(len(sequences))
        if len(sequences) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, sequences, config)

    monkeypatch.setattr(StaticEngine, "_generate_chunk", flaky)
    prompts = [tiny_runner._encode(p) for p in PROBLEMS]
    done = engine.generate([Request.of(prompts[n % 2], 4) for n in range(6)])
    assert len(done) == 6 and all(len(c.token_ids) + c.stopped == 4 for c in done)
    assert seen[:3] == [6, 3, 1]  # 6 sequences, halved to 3, then to 1
    assert engine.max_batch <= 2 and engine.oom_backoffs >= 1


def test_other_cuda_errors_are_fatal(tiny_runner, monkeypatch):
    def broken(self, sequences, config):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(StaticEngine, "_generate_chunk", broken)
    monkeypatch.setattr(tiny_runner, "engine", static_engine(tiny_runner))
    with pytest.raises(FatalDeviceError):
        tiny_runner.generate(PROBLEMS[:1], samples=1, max_new_tokens=2)
    assert not is_fatal_device_error(ValueError("CUDA error"))
    assert not is_fatal_device_error(RuntimeError("shape mismatch"))


def test_engine_choice(tiny_model_path, settings_factory):
    assert choose_engine("auto", "cpu") == "transformers"
    assert choose_engine("STATIC", "cuda") == "static"
    with pytest.raises(ValueError, match="not one of"):
        choose_engine("tgi", "cpu")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:  # the CPU test env never installs vllm
        assert choose_engine("auto", "cuda") == "transformers"
        runner = ModelRunner(settings_factory(tiny_model_path, engine="vllm"))
        with pytest.raises(ModelUnavailable, match=r"pip install -e '\.\[vllm\]'"):
            runner.load()
    runner = ModelRunner(settings_factory(tiny_model_path, engine="openai", engine_url=""))
    with pytest.raises(ModelUnavailable, match="STEPWISE_ENGINE_URL"):
        runner.load()


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


def test_run_streams_new_problems_into_the_running_batch(tiny_runner, monkeypatch):
    """A problem handed over mid-run (an interactive one, say) starts at once and is reported as soon
    as its samples end, while a long one is still generating: one engine run, no batch boundary."""
    from worker.runtime import Job

    monkeypatch.setattr(tiny_runner.engine, "stop_ids", {-1})  # lengths exactly as asked
    long_job = Job("nightly", PROBLEMS[1], 2, 120, Sampling(temperature=0.6, top_p=0.95))
    short_job = Job("interactive", PROBLEMS[0], 2, 3, Sampling(temperature=0.6, top_p=0.95))
    handed, order = [], []

    def more(n):
        handed.append(n)
        return [short_job] if len(handed) == 1 else []

    calls = tiny_runner.generate_calls
    done = tiny_runner.run([long_job], more=more, on_done=lambda key, samples: order.append((key, len(samples))))
    assert tiny_runner.generate_calls - calls == 1
    assert order == [("interactive", 2), ("nightly", 2)]  # the late short problem finished first
    assert set(done) == {"nightly", "interactive"} and handed[0] >= 2
    assert all(s.completion_tokens == 3 + (tiny_runner.forced_tokens if s.forced else 0) for s in done["interactive"])
    assert max(s.latency_s for s in done["interactive"]) < max(s.latency_s for s in done["nightly"])


def test_budget_forcing_reuses_the_cached_prefix(tiny_runner, monkeypatch):
    """The forced continuation is served from the pages its first part left in the prefix cache:
    only the forcing text (and the last partial page) is prefilled again."""
    engine = tiny_runner.engine
    engine.generate([Request.of([5, 6, 7], 1)])  # make sure the manager and its cache exist
    cache = engine.manager.batch_processor.cache
    assert cache.use_prefix_sharing
    matches = {}
    real = type(cache).search_prefix_match

    def spy(self, request_id, prompt_ids):
        matches[request_id] = (len(prompt_ids), real(self, request_id, prompt_ids))
        return matches[request_id][1]

    monkeypatch.setattr(type(cache), "search_prefix_match", spy)
    monkeypatch.setattr(engine, "stop_ids", {-1})  # the first part runs out of budget: forcing follows
    tiny_runner.generate(["What is 1/3 + 1/6? " * 3], samples=1, max_new_tokens=100)
    forced = [(n, hit) for rid, (n, hit) in matches.items() if rid.endswith("-1")]
    assert forced, matches
    for length, hit in forced:
        assert hit >= length - 2 * engine.page_size - len(tiny_runner._encode(FORCE_CLOSE_THINKING + FORCE_ANSWER))
