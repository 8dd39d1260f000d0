"""Engines over a loaded transformers model: continuous batching (default) and static batching.

`ContinuousEngine` keeps one transformers `ContinuousBatchingManager` (paged KV cache, a
scheduler that admits a waiting request the moment a slot frees, prefix sharing of complete
pages) running for the life of the worker. Budget-forcing continuations go into the same running
manager as soon as their first part ends: their prefix (prompt + thinking) hits the pages the
first part left in the prefix cache, so only the short forcing text is prefilled.

`StaticEngine` is the previous path (one left-padded `model.generate` per chunk, every slot held
until the longest sample ends); kept as the bench baseline and a fallback (STEPWISE_ENGINE=static).
torch and transformers are imported inside functions only.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

from worker.engine import (
    Completion,
    Engine,
    FatalDeviceError,
    FollowUp,
    OnComplete,
    Refill,
    Request,
    Sampling,
    StreamingEngine,
    check_deadline,
    cut_at_stop,
    is_fatal_device_error,
    is_oom,
    remaining,
)

log = logging.getLogger("stepwise.reasoning")

GREEDY_TOP_P = 1e-9  # a per-request top_p this small keeps only the most likely token: greedy decoding


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Left-pad token id lists to one length: (input_ids, attention_mask)."""
    width = max(len(s) for s in sequences)
    ids = [[pad_id] * (width - len(s)) + list(s) for s in sequences]
    mask = [[0] * (width - len(s)) + [1] * len(s) for s in sequences]
    return ids, mask


def kv_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """KV-cache bytes one token costs across all layers (Qwen2: GQA, head_dim = hidden / heads)."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return 2 * config.num_hidden_layers * kv_heads * head_dim * dtype_bytes


def memory_bound_batch(free_bytes: int, per_token_bytes: int, seq_len: int, *, headroom: float = 0.7) -> int:
    """How many sequences of `seq_len` tokens fit in `headroom` of `free_bytes` of KV cache."""
    if per_token_bytes <= 0 or seq_len <= 0:
        return 1
    return max(1, int(free_bytes * headroom) // (per_token_bytes * seq_len))


def generation_config(
    *,
    max_new_tokens: int,
    sampling: Sampling,
    pad_id: int,
    stop_ids: set[int],
    max_time: float | None = None,
    min_new_tokens: int | None = None,
):
    """A complete GenerationConfig: the model card's sampling (temperature and nucleus, top_k off)."""
    from transformers import GenerationConfig

    kwargs: dict[str, Any] = {
        "max_new_tokens": int(max_new_tokens),
        "pad_token_id": pad_id,
        "eos_token_id": sorted(stop_ids),
    }
    if min_new_tokens:
        kwargs["min_new_tokens"] = int(min_new_tokens)
    if max_time is not None:
        kwargs["max_time"] = max(0.001, float(max_time))
    if float(sampling.repetition_penalty) != 1.0:
        kwargs["repetition_penalty"] = float(sampling.repetition_penalty)
    if sampling.greedy:
        kwargs["do_sample"] = False
    else:
        kwargs.update(do_sample=True, temperature=float(sampling.temperature), top_p=float(sampling.top_p), top_k=0)
    return GenerationConfig(**kwargs)


class StaticEngine(Engine):
    """One padded `generate` call per chunk of `max_batch` sequences; CUDA OOM halves the chunk."""

    name = "static"

    def __init__(
        self, model: Any, *, device: str, dtype_bytes: int, pad_id: int, stop_ids: set[int], max_batch: int
    ) -> None:
        self.model, self.device, self.dtype_bytes = model, device, dtype_bytes
        self.pad_id, self.stop_ids = pad_id, set(stop_ids)
        self.max_batch = max(1, int(max_batch))
        self.generate_calls = 0
        self.oom_backoffs = 0

    def generate(
        self,
        requests: Sequence[Request],
        *,
        follow_up: FollowUp | None = None,
        deadline: float | None = None,
        refill: Refill | None = None,
        on_complete: OnComplete | None = None,
    ) -> list[Completion]:
        """Static batches: all given requests, then their follow-ups; refills run as further batches."""
        completions: list[Completion] = []
        batch = list(requests)
        while batch:
            start = len(completions)
            completions.extend(self._run(batch, deadline))
            second = [(n, follow_up(n, completions[n])) for n in range(start, len(completions))] if follow_up else []
            second = [(n, r) for n, r in second if r is not None]
            for (n, _r), done in zip(second, self._run([r for _n, r in second], deadline)):
                completions[n].follow_up = done
            for n in range(start, len(completions)):
                if on_complete is not None:
                    on_complete(n, completions[n])
            batch = list(refill(self.max_batch) or []) if refill is not None else []
        return completions

    def _run(self, requests: list[Request], deadline: float | None) -> list[Completion]:
        """Similar lengths and equal settings together; returns completions in request order."""
        results: list[Completion | None] = [None] * len(requests)
        by_setting: dict[tuple, list[int]] = {}
        for n, r in enumerate(requests):
            by_setting.setdefault((r.sampling, r.max_new_tokens), []).append(n)
        for (sampling, budget), members in by_setting.items():
            order = sorted(members, key=lambda n: len(requests[n].prompt_ids))
            pos = 0
            while pos < len(order):
                check_deadline(deadline)
                longest = max(len(requests[n].prompt_ids) for n in order[pos : pos + self.max_batch])
                size = min(self.max_batch, self._memory_cap(longest + budget), len(order) - pos)
                chunk = order[pos : pos + size]
                config = generation_config(
                    max_new_tokens=budget,
                    sampling=sampling,
                    pad_id=self.pad_id,
                    stop_ids=self.stop_ids,
                    max_time=remaining(deadline),
                )
                try:
                    outputs = self._generate_chunk([list(requests[n].prompt_ids) for n in chunk], config)
                except Exception as exc:
                    if is_oom(exc) and size > 1:
                        self.max_batch = max(1, size // 2)
                        self.oom_backoffs += 1
                        log.warning(
                            "reasoning.oom_backoff batch=%d new_batch=%d",
                            size,
                            self.max_batch,
                            extra={"event": "reasoning.oom_backoff"},
                        )
                        self._empty_cache()
                        continue
                    if is_fatal_device_error(exc):
                        raise FatalDeviceError(f"{type(exc).__name__}: {exc}") from exc
                    raise
                check_deadline(deadline)  # max_time may have cut the chunk short: that is a timeout
                for n, out in zip(chunk, outputs):
                    ids, stopped = cut_at_stop(out, self.stop_ids)
                    results[n] = Completion(ids, stopped)
                pos += size
        return results  # type: ignore[return-value]

    def _generate_chunk(self, sequences: list[list[int]], config: Any) -> list[list[int]]:
        import torch

        ids, mask = left_pad(sequences, self.pad_id)
        input_ids = torch.tensor(ids, dtype=torch.long, device=self.device)
        attention_mask = torch.tensor(mask, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
        self.generate_calls += 1
        return out[:, input_ids.shape[1] :].tolist()

    def _memory_cap(self, seq_len: int) -> int:
        if not self.device.startswith("cuda"):
            return self.max_batch
        import torch

        free, _total = torch.cuda.mem_get_info(self.device)
        return memory_bound_batch(free, kv_bytes_per_token(self.model.config, self.dtype_bytes), seq_len)

    def _empty_cache(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def health(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "max_batch": self.max_batch,
            "generate_calls": self.generate_calls,
            "oom_backoffs": self.oom_backoffs,
        }


class ContinuousEngine(StreamingEngine):
    """transformers continuous batching: one persistent manager, requests admitted as slots free."""

    name = "transformers"

    def __init__(
        self,
        model: Any,
        *,
        device: str,
        pad_id: int,
        stop_ids: set[int],
        max_batch: int,
        max_context: int,
        page_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.model, self.device = model, device
        self.pad_id, self.stop_ids = pad_id, set(stop_ids)
        self.max_batch = max(1, int(max_batch))
        self.max_context = max(64, int(max_context))
        self.page_size = page_size or (32 if not device.startswith("cuda") else 256)
        self.seed = seed
        self.manager: Any = None
        self._base: Sampling | None = None
        self._calls = 0
        self.generate_calls = 0
        self._lock = threading.Lock()

    # -- manager lifecycle ---------------------------------------------------------------
    def _cb_config(self):
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        kwargs: dict[str, Any] = {
            "per_request_processors": True,
            "allow_block_sharing": True,
            "page_size": self.page_size,
            "max_requests_per_batch": self.max_batch,
        }
        if not self.device.startswith("cuda"):
            # The CPU has no free-memory probe: size the paged cache for max_batch full contexts.
            pages = self.max_batch * math.ceil(self.max_context / self.page_size)
            kwargs.update(
                num_blocks=pages + self.max_batch,
                max_batch_tokens=max(256, self.max_batch * 8),
                use_cuda_graph=False,
                use_async_batching=False,
            )
        if self.seed is not None:
            kwargs["seed"] = int(self.seed)
        return ContinuousBatchingConfig(**kwargs)

    def _ensure_manager(self, sampling: Sampling) -> Any:
        """A started manager whose default sampling is `sampling` (a different temperature restarts it)."""
        base = sampling if not sampling.greedy else (self._base or Sampling(temperature=1.0, top_p=1.0))
        if self.manager is not None and self._base is not None and self._base == base:
            return self.manager
        self._stop_manager()
        # top_p just under 1 keeps a top-p processor in the manager, so greedy requests can pass a tiny one.
        config = generation_config(
            max_new_tokens=self.max_context,
            pad_id=self.pad_id,
            stop_ids=self.stop_ids,
            sampling=Sampling(
                temperature=base.temperature if base.temperature != 1.0 else 0.9999999,
                top_p=min(float(base.top_p), 0.9999999),
                repetition_penalty=base.repetition_penalty,
            ),
        )
        manager = self.model.init_continuous_batching(
            generation_config=config, continuous_batching_config=self._cb_config()
        )
        manager.start()
        self.manager, self._base = manager, base
        return manager

    def _stop_manager(self) -> None:
        if self.manager is not None:
            manager, self.manager = self.manager, None
            manager.stop(block=True, timeout=30)
            manager.destroy()

    def close(self) -> None:
        with self._lock:
            self._stop_manager()

    # -- the streaming loop's hooks --------------------------------------------------------
    def _kwargs(self, request: Request) -> dict[str, Any]:
        s = request.sampling
        if s.greedy:
            return {"top_p": GREEDY_TOP_P}
        return {"temperature": float(s.temperature), "top_p": float(s.top_p)}

    def _begin(self, requests: Sequence[Request]) -> None:
        sampled = [r.sampling for r in requests if not r.sampling.greedy]
        base = sampled[0] if sampled else (requests[0].sampling if requests else Sampling(0.6, 0.95))
        self._lock.acquire()
        started = False
        try:
            self._ensure_manager(base)
            started = True
        finally:
            if not started:  # _end() will not run: release here, whatever stopped us
                self._lock.release()

    def _end(self) -> None:
        self._lock.release()

    def _submit(self, rid: str, request: Request) -> None:
        self.manager.add_request(
            list(request.prompt_ids),
            request_id=rid,
            max_new_tokens=request.max_new_tokens,
            eos_token_id=sorted(self.stop_ids),
            **self._kwargs(request),
        )

    def _poll(self, timeout: float) -> list[tuple[str, Completion]]:
        output = self.manager.get_result(timeout=timeout)
        if output is None:
            self._check_alive(self.manager)
            return []
        if not output.is_finished():
            return []
        if output.error is not None:
            raise RuntimeError(f"continuous batching request failed: {output.error}")
        ids, stopped = cut_at_stop(output.generated_tokens, self.stop_ids)
        return [(output.request_id, Completion(ids, stopped))]

    def _cancel(self, rids: list[str]) -> None:
        if self.manager is not None:
            for rid in rids:
                self.manager.cancel_request(rid)

    def _check_alive(self, manager: Any) -> None:
        status = getattr(manager, "background_thread_status", None)
        fatal = getattr(status, "fatal_error", None)
        if fatal is not None or not manager.is_running():
            self.manager = None
            error = fatal if isinstance(fatal, BaseException) else RuntimeError(str(fatal or "generation loop stopped"))
            if is_fatal_device_error(error):
                raise FatalDeviceError(f"{type(error).__name__}: {error}") from error
            raise RuntimeError(f"the continuous batching loop stopped: {error}") from error

    def health(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "max_batch": self.max_batch,
            "page_size": self.page_size,
            "running": bool(self.manager is not None and self.manager.is_running()),
            "generate_calls": self.generate_calls,
        }


__all__ = [
    "ContinuousEngine",
    "StaticEngine",
    "generation_config",
    "kv_bytes_per_token",
    "left_pad",
    "memory_bound_batch",
]
