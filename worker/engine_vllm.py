"""vLLM in the reasoning worker's own process (STEPWISE_ENGINE=vllm; `pip install '.[vllm]'`).

Why in-process by default: the product's design has the reasoning worker hold the model (load
after the fork, warm up, health, one CUDA context per process, exit on a CUDA error so the
supervisor restarts it), and the engine's step loop lets the worker enforce its own deadline and
abort requests. `vllm serve` per GPU (worker/engine_openai.py, STEPWISE_ENGINE=openai with
STEPWISE_ENGINE_URL) is the configuration change for a shared GPU server.

The loop drives `LLMEngine.add_request` / `step` directly: every request of a batch is submitted
at once (vLLM's scheduler does continuous batching over its paged KV cache), a budget-forcing
continuation is added the moment its first part finishes, and automatic prefix caching serves its
prefix (prompt + thinking) from the blocks the first part just wrote. vllm is imported lazily.
"""
from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from worker.engine import Completion, Engine, FollowUp, GenerationTimeout, Request, cut_at_stop

log = logging.getLogger("stepwise.reasoning")

INSTALL_HINT = "install the vLLM extra on the GPU worker with `pip install -e '.[vllm]'` (it pins its own torch)"


def sampling_kwargs(request: Request, stop_ids: set[int], seed: int | None = None) -> dict[str, Any]:
    """vllm.SamplingParams keyword arguments for one request (the model card's sampling, or greedy)."""
    s = request.sampling
    kwargs: dict[str, Any] = {
        "max_tokens": int(request.max_new_tokens),
        "temperature": 0.0 if s.greedy else float(s.temperature),
        "top_p": 1.0 if s.greedy else float(s.top_p),
        "top_k": -1,  # off, as in the model card (vLLM spells "off" -1)
        "repetition_penalty": float(s.repetition_penalty),
        "stop_token_ids": sorted(stop_ids),
        "skip_special_tokens": False,
        "detokenize": False,  # the runner decodes; token ids are what it keeps
    }
    if seed is not None:
        kwargs["seed"] = int(seed)
    return kwargs


def llm_kwargs(model_id: str, *, max_context: int, max_batch: int,
               gpu_memory_utilization: float = 0.85, seed: int = 0) -> dict[str, Any]:
    """vllm.LLM keyword arguments: bf16, prefix caching on, the checkpoint's sampling defaults off."""
    return {
        "model": model_id,
        "dtype": "bfloat16",  # fp16 overflows in Qwen2
        "enable_prefix_caching": True,
        "max_model_len": int(max_context),
        "max_num_seqs": int(max_batch),
        "gpu_memory_utilization": float(gpu_memory_utilization),
        "generation_config": "vllm",  # neutral defaults: every request carries its own SamplingParams
        "seed": int(seed),
        "trust_remote_code": False,
    }


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, model_id: str, *, stop_ids: set[int], max_context: int, max_batch: int,
                 local_only: bool = False, seed: int | None = None) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            from worker.runtime import ModelUnavailable

            raise ModelUnavailable(f"Reference reasoning is unavailable: STEPWISE_ENGINE=vllm but vllm is not "
                                   f"installed; {INSTALL_HINT}, or set STEPWISE_ENGINE=transformers.") from exc
        if local_only:  # no Hub look-ups or retries: the weights must already be here
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.stop_ids = set(stop_ids)
        self.seed = seed
        self.llm = LLM(**llm_kwargs(model_id, max_context=max_context, max_batch=max_batch, seed=seed or 0))
        self._ids = itertools.count()
        self.generate_calls = 0

    def _params(self, request: Request):
        from vllm import SamplingParams

        return SamplingParams(**sampling_kwargs(request, self.stop_ids))

    def generate(self, requests: Sequence[Request], *, follow_up: FollowUp | None = None,
                 deadline: float | None = None) -> list[Completion]:
        from vllm.inputs import TokensPrompt

        engine = self.llm.llm_engine
        pending: dict[str, tuple[int, int]] = {}
        results: list[Completion | None] = [None] * len(requests)
        self.generate_calls += 1

        def submit(slot: int, part: int, request: Request) -> None:
            rid = f"r{next(self._ids)}"
            pending[rid] = (slot, part)
            engine.add_request(rid, TokensPrompt(prompt_token_ids=list(request.prompt_ids)), self._params(request))

        for n, request in enumerate(requests):
            submit(n, 0, request)
        try:  # on a timeout, an error or a Celery signal, abort what is still running
            while pending:
                if deadline is not None and time.monotonic() >= deadline:
                    raise GenerationTimeout("the reasoning time limit passed during generation")
                for output in engine.step():
                    if not output.finished or output.request_id not in pending:
                        continue
                    slot, part = pending.pop(output.request_id)
                    ids, stopped = cut_at_stop(output.outputs[0].token_ids, self.stop_ids)
                    stopped = stopped or output.outputs[0].finish_reason == "stop"
                    done = Completion(ids, stopped)
                    if part == 0:
                        results[slot] = done
                        more = follow_up(slot, done) if follow_up else None
                        if more is not None:
                            submit(slot, 1, more)
                    else:
                        results[slot].follow_up = done  # type: ignore[union-attr]
        finally:
            if pending:
                engine.abort_request(list(pending))
        return results  # type: ignore[return-value]

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            del llm

    def health(self) -> dict[str, Any]:
        return {"engine": self.name, "generate_calls": self.generate_calls}


__all__ = ["INSTALL_HINT", "VLLMEngine", "llm_kwargs", "sampling_kwargs"]
