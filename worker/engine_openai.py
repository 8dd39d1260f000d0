"""A client of an OpenAI-compatible completions server (`vllm serve MODEL`), STEPWISE_ENGINE=openai.

    STEPWISE_ENGINE=openai STEPWISE_ENGINE_URL=http://gpu-host:8000 celery -A worker.app worker -Q reasoning ...

Every request of a batch is sent at once (one HTTP request each, up to `max_batch` in flight):
the server batches them continuously. Prompts travel as token ids, so the server sees exactly the
tokens the runner built; a budget-forcing continuation is sent the moment its first part returns,
and the server's prefix cache serves the shared prefix. The deadline bounds every HTTP call.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from worker.engine import Completion, Engine, FollowUp, GenerationTimeout, Request, cut_at_stop

DEFAULT_TIMEOUT_S = 3600.0


def completion_payload(model: str, request: Request, stop_ids: set[int]) -> dict[str, Any]:
    """The JSON body of POST /v1/completions for one request (vLLM's extensions included)."""
    s = request.sampling
    return {
        "model": model,
        "prompt": list(request.prompt_ids),
        "max_tokens": int(request.max_new_tokens),
        "temperature": 0.0 if s.greedy else float(s.temperature),
        "top_p": 1.0 if s.greedy else float(s.top_p),
        "n": 1,
        "stream": False,
        # vLLM extensions to the OpenAI schema:
        "top_k": -1,
        "repetition_penalty": float(s.repetition_penalty),
        "stop_token_ids": sorted(stop_ids),
        "skip_special_tokens": False,
        "return_token_ids": True,
    }


def parse_choice(choice: dict[str, Any], stop_ids: set[int], encode: Callable[[str], list[int]]) -> Completion:
    """A Completion from one response choice: its token ids when the server sends them, else the text re-encoded."""
    ids = choice.get("token_ids")
    if ids is None:
        ids = encode(choice.get("text") or "")
    ids, stopped = cut_at_stop(ids, stop_ids)
    return Completion(ids, stopped or choice.get("finish_reason") == "stop")


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, url: str, model: str, *, stop_ids: set[int], encode: Callable[[str], list[int]],
                 max_batch: int, api_key: str | None = None) -> None:
        import requests

        if not url:
            raise ValueError("STEPWISE_ENGINE=openai needs STEPWISE_ENGINE_URL (e.g. http://127.0.0.1:8000)")
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/v1") else "/v1") + "/completions"
        self.model, self.stop_ids, self.encode = model, set(stop_ids), encode
        self.max_batch = max(1, int(max_batch))
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.generate_calls = 0

    def _post(self, request: Request, deadline: float | None) -> Completion:
        timeout = DEFAULT_TIMEOUT_S if deadline is None else max(0.001, deadline - time.monotonic())
        response = self.session.post(self.url, json=completion_payload(self.model, request, self.stop_ids),
                                     timeout=(10, timeout))
        response.raise_for_status()
        return parse_choice(response.json()["choices"][0], self.stop_ids, self.encode)

    def generate(self, requests: Sequence[Request], *, follow_up: FollowUp | None = None,
                 deadline: float | None = None) -> list[Completion]:
        import requests as http

        results: list[Completion | None] = [None] * len(requests)
        self.generate_calls += 1
        pool = ThreadPoolExecutor(max_workers=min(self.max_batch, max(1, len(requests))))
        running: dict[Future, tuple[int, int]] = {}
        try:
            for n, request in enumerate(requests):
                running[pool.submit(self._post, request, deadline)] = (n, 0)
            while running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise GenerationTimeout("the reasoning time limit passed during generation")
                done, _ = wait(list(running), timeout=left, return_when=FIRST_COMPLETED)
                for future in done:
                    slot, part = running.pop(future)
                    try:
                        completion = future.result()
                    except http.Timeout as exc:
                        raise GenerationTimeout(f"the completions server did not answer in time: {exc}") from exc
                    if part == 0:
                        results[slot] = completion
                        more = follow_up(slot, completion) if follow_up else None
                        if more is not None:
                            running[pool.submit(self._post, more, deadline)] = (slot, 1)
                    else:
                        results[slot].follow_up = completion  # type: ignore[union-attr]
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self.session.close()

    def health(self) -> dict[str, Any]:
        return {"engine": self.name, "url": self.url, "generate_calls": self.generate_calls}


__all__ = ["OpenAIEngine", "completion_payload", "parse_choice"]
