"""The server and vLLM engines without vLLM: request mapping, and the OpenAI-protocol client against a
small completions server that runs the tiny model (vLLM itself is never installed in the CPU env)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from worker.engine import GREEDY, GenerationTimeout, Request, Sampling
from worker.engine_hf import StaticEngine
from worker.engine_openai import OpenAIEngine, completion_payload, parse_choice
from worker.engine_vllm import llm_kwargs, sampling_kwargs

CARD = Sampling(temperature=0.6, top_p=0.95)


def test_vllm_requests_carry_the_model_card_sampling():
    sampled = sampling_kwargs(Request.of([1, 2], 100, CARD), {7, 3})
    assert sampled["temperature"] == 0.6 and sampled["top_p"] == 0.95 and sampled["top_k"] == -1
    assert sampled["max_tokens"] == 100 and sampled["stop_token_ids"] == [3, 7]
    assert sampled["detokenize"] is False and sampled["skip_special_tokens"] is False
    greedy = sampling_kwargs(Request.of([1], 48, GREEDY), {3})
    assert greedy["temperature"] == 0.0 and greedy["max_tokens"] == 48
    engine = llm_kwargs("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", max_context=8500, max_batch=320)
    assert engine["dtype"] == "bfloat16" and engine["enable_prefix_caching"] is True
    assert engine["generation_config"] == "vllm" and engine["max_num_seqs"] == 320


def test_openai_payload_and_choice():
    body = completion_payload("m", Request.of([5, 6], 10, CARD), {2})
    assert body["prompt"] == [5, 6] and body["max_tokens"] == 10 and body["stop_token_ids"] == [2]
    assert body["temperature"] == 0.6 and body["top_p"] == 0.95
    done = parse_choice({"token_ids": [9, 8, 2], "finish_reason": "stop"}, {2}, encode=lambda t: [])
    assert done.token_ids == [9, 8] and done.stopped
    cut = parse_choice({"text": "ab", "finish_reason": "length"}, {2}, encode=lambda t: [ord(c) for c in t])
    assert cut.token_ids == [97, 98] and not cut.stopped


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for handlers: no torch work during interpreter exit


@pytest.fixture
def completions_server(tiny_runner):
    """POST /v1/completions served by the tiny model (token-id prompts, token ids back, as vLLM does)."""
    engine = StaticEngine(
        tiny_runner.model,
        device="cpu",
        dtype_bytes=4,
        pad_id=tiny_runner._pad_id,
        stop_ids=tiny_runner._stop_ids,
        max_batch=4,
    )
    lock = threading.Lock()
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if body.get("max_tokens") == 999:  # a stuck generation: answers long after the deadline
                time.sleep(2)
                body["max_tokens"] = 1
            sampling = Sampling(body["temperature"], body["top_p"]) if body["temperature"] > 0 else GREEDY
            with lock:
                done = engine.generate([Request.of(body["prompt"], body["max_tokens"], sampling)])[0]
            ids = done.token_ids + ([sorted(tiny_runner._stop_ids)[0]] if done.stopped else [])
            reply = {"choices": [{"token_ids": ids, "text": "", "finish_reason": "stop" if done.stopped else "length"}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_openai_engine_runs_requests_and_follow_ups(tiny_runner, completions_server):
    url, seen = completions_server
    engine = OpenAIEngine(url, "tiny", stop_ids=tiny_runner._stop_ids, encode=tiny_runner._encode, max_batch=4)
    prompt = tiny_runner._encode(tiny_runner.prompt("What is 2+2?"))

    def follow_up(n, done):
        return Request.of(list(prompt) + done.token_ids + [5], 3) if n == 0 else None

    done = engine.generate([Request.of(prompt, 6, CARD), Request.of(prompt, 4)], follow_up=follow_up)
    assert len(done[0].token_ids) + done[0].stopped <= 6 and done[0].follow_up is not None
    assert done[1].follow_up is None and len(done[1].token_ids) + done[1].stopped <= 4
    continuation = [body for body in seen if body["max_tokens"] == 3][0]
    assert continuation["prompt"][: len(prompt)] == prompt  # the same sequence, continued
    assert all(body["stop_token_ids"] == sorted(tiny_runner._stop_ids) for body in seen)
    with pytest.raises(GenerationTimeout):
        engine.generate([Request.of(prompt, 999)], deadline=time.monotonic() + 0.5)
    engine.close()


def test_a_completions_server_that_is_down_makes_the_model_unavailable(tiny_model_path, settings_factory):
    import socket

    from worker.runtime import ModelRunner, ModelUnavailable

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = ModelRunner(settings_factory(tiny_model_path, engine="openai", engine_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(ModelUnavailable, match="did not answer"):
        runner.ensure_ready()
    assert runner.health()["state"] == "unavailable"
    with pytest.raises(ModelUnavailable):  # cached: not asked again on every task
        runner.ensure_ready()
    runner.shutdown()
