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

from worker.engine import Completion, GenerationTimeout, Request, StreamingEngine, cut_at_stop

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


class OpenAIEngine(StreamingEngine):
    name = "openai"

    def __init__(
        self,
        url: str,
        model: str,
        *,
        stop_ids: set[int],
        encode: Callable[[str], list[int]],
        max_batch: int,
        api_key: str | None = None,
    ) -> None:
        import requests

        if not url:
            raise ValueError("STEPWISE_ENGINE=openai needs STEPWISE_ENGINE_URL (e.g. http://127.0.0.1:8000)")
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/v1") else "/v1") + "/completions"
        self.model, self.stop_ids, self.encode = model, set(stop_ids), encode
        self.max_batch = max(1, int(max_batch))
        self.session = requests.Session()
        self._deadline_for_posts: float | None = None
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.generate_calls = 0

    def _post(self, request: Request, deadline: float | None) -> Completion:
        timeout = DEFAULT_TIMEOUT_S if deadline is None else max(0.001, deadline - time.monotonic())
        response = self.session.post(
            self.url, json=completion_payload(self.model, request, self.stop_ids), timeout=(10, timeout)
        )
        response.raise_for_status()
        return parse_choice(response.json()["choices"][0], self.stop_ids, self.encode)

    def _begin(self, requests: Sequence[Request]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.max_batch)
        self._running: dict[Future, str] = {}

    def generate(self, requests: Sequence[Request], **kwargs: Any) -> list[Completion]:
        self._deadline_for_posts = kwargs.get("deadline")
        return super().generate(requests, **kwargs)

    def _submit(self, rid: str, request: Request) -> None:
        self._running[self._pool.submit(self._post, request, self._deadline_for_posts)] = rid

    def _poll(self, timeout: float) -> list[tuple[str, Completion]]:
        import requests as http

        finished, _ = wait(list(self._running), timeout=timeout, return_when=FIRST_COMPLETED)
        done = []
        for future in finished:
            rid = self._running.pop(future)
            try:
                done.append((rid, future.result()))
            except http.Timeout as exc:
                raise GenerationTimeout(f"the completions server did not answer in time: {exc}") from exc
        return done

    def _cancel(self, rids: list[str]) -> None:
        for future in list(self._running):
            future.cancel()

    def _end(self) -> None:
        self._running = {}
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.session.close()

    def health(self) -> dict[str, Any]:
        return {"engine": self.name, "url": self.url, "generate_calls": self.generate_calls}


__all__ = ["OpenAIEngine", "completion_payload", "parse_choice"]
