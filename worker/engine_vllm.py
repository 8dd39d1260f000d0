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

import logging
import os
from typing import Any

from worker.engine import Completion, ModelUnavailable, Request, StreamingEngine, cut_at_stop

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


def llm_kwargs(
    model_id: str, *, max_context: int, max_batch: int, gpu_memory_utilization: float = 0.85, seed: int = 0
) -> dict[str, Any]:
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


class VLLMEngine(StreamingEngine):
    name = "vllm"

    def __init__(
        self,
        model_id: str,
        *,
        stop_ids: set[int],
        max_context: int,
        max_batch: int,
        local_only: bool = False,
        seed: int | None = None,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ModelUnavailable(
                f"Reference reasoning is unavailable: STEPWISE_ENGINE=vllm but vllm is not "
                f"installed; {INSTALL_HINT}, or set STEPWISE_ENGINE=transformers."
            ) from exc
        if local_only:  # no Hub look-ups or retries: the weights must already be here
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.stop_ids = set(stop_ids)
        self.seed = seed
        self.max_batch = max(1, int(max_batch))
        self.llm = LLM(**llm_kwargs(model_id, max_context=max_context, max_batch=max_batch, seed=seed or 0))
        self.generate_calls = 0

    def _params(self, request: Request):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        # FINAL_ONLY: step() reports a request once, when it ends (the loop needs nothing else).
        return SamplingParams(**sampling_kwargs(request, self.stop_ids), output_kind=RequestOutputKind.FINAL_ONLY)

    def _submit(self, rid: str, request: Request) -> None:
        from vllm.inputs import TokensPrompt

        self.llm.llm_engine.add_request(
            rid, TokensPrompt(prompt_token_ids=list(request.prompt_ids)), self._params(request)
        )

    def _poll(self, timeout: float) -> list[tuple[str, Completion]]:
        """One engine step (a scheduled batch forward); the requests it finished."""
        done = []
        for output in self.llm.llm_engine.step():
            if output.finished:
                ids, stopped = cut_at_stop(output.outputs[0].token_ids, self.stop_ids)
                done.append((output.request_id, Completion(ids, stopped or output.outputs[0].finish_reason == "stop")))
        return done

    def _cancel(self, rids: list[str]) -> None:
        self.llm.llm_engine.abort_request(rids)

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            del llm

    def health(self) -> dict[str, Any]:
        return {"engine": self.name, "generate_calls": self.generate_calls}


__all__ = ["INSTALL_HINT", "VLLMEngine", "llm_kwargs", "sampling_kwargs"]
