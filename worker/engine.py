"""One engine interface for every way Stepwise runs the reasoning model. Torch-free at import.

The runner (worker/runtime.py) asks an engine for completions of token-id prompts:

    completions = engine.generate(requests, follow_up=fn, deadline=t)

`follow_up(index, completion)` may return a second request for the same slot (budget forcing:
prompt + what the model wrote + "**Final Answer** ... \\boxed{"); engines submit it as soon as the
first part finishes, into the same running batch, and engines with a prefix cache (transformers
continuous batching, vLLM) reuse the KV of the shared prefix instead of a fresh prefill.
`deadline` (time.monotonic() seconds) is enforced inside the generation loop: past it, running
requests are cancelled and GenerationTimeout is raised. That is what stops a stuck generation
under Celery's solo pool, where Celery's own time limits never fire.

Engines (STEPWISE_ENGINE):
    transformers  continuous batching with a paged KV cache (transformers' ContinuousBatchingManager),
                  CPU and GPU; the default on the CPU
    static        one padded `model.generate` per chunk (the old path; kept as the bench baseline)
    vllm          vLLM in-process (`pip install '.[vllm]'`); the default on a GPU when vllm is installed
    openai        an OpenAI-compatible server (`vllm serve`) at STEPWISE_ENGINE_URL
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ENGINES = ("auto", "transformers", "static", "vllm", "openai")


_FATAL_MARKERS = ("CUDA error", "CUBLAS_STATUS", "cuDNN error", "CUDNN_STATUS", "device-side assert", "NCCL error")


class FatalDeviceError(RuntimeError):
    """A CUDA error other than out-of-memory: the CUDA context is unusable, the process must restart."""


def is_oom(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:
        return False
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom)


def is_fatal_device_error(exc: BaseException) -> bool:
    """A CUDA runtime error (not OOM) after which the CUDA context cannot be trusted."""
    if is_oom(exc) or not isinstance(exc, RuntimeError):
        return False
    try:
        import torch

        accelerator_error = getattr(torch, "AcceleratorError", None)
        if accelerator_error is not None and isinstance(exc, accelerator_error):
            return True
    except ImportError:
        pass
    return any(marker in str(exc) for marker in _FATAL_MARKERS)


class ModelUnavailable(Exception):
    """The model cannot run here (weights, libraries, GPU or server missing); `message` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GenerationTimeout(Exception):
    """The deadline passed before every request finished; the running requests were cancelled."""


@dataclass(frozen=True)
class Sampling:
    """Sampling of one request; temperature <= 0 means greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return float(self.temperature) <= 0.0


GREEDY = Sampling()


@dataclass(frozen=True)
class Request:
    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    sampling: Sampling = GREEDY

    @classmethod
    def of(cls, prompt_ids: Sequence[int], max_new_tokens: int, sampling: Sampling = GREEDY) -> Request:
        return cls(tuple(int(t) for t in prompt_ids), int(max_new_tokens), sampling)


@dataclass
class Completion:
    """What the engine generated for one request: ids without the stop token, and whether it stopped."""

    token_ids: list[int]
    stopped: bool  # a stop (EOS) token ended it; False: it ran out of max_new_tokens
    follow_up: Completion | None = None  # the continuation requested by follow_up(), if any
    finished_at: float = field(default_factory=time.monotonic)  # when the engine handed it back

    @property
    def last(self) -> Completion:
        return self.follow_up or self

    @property
    def generated_tokens(self) -> int:
        """Tokens generated for this slot, stop tokens included, both parts."""
        own = len(self.token_ids) + int(self.stopped)
        return own + (self.follow_up.generated_tokens if self.follow_up else 0)


FollowUp = Callable[[int, Completion], "Request | None"]
Refill = Callable[[int], "list[Request] | None"]
OnComplete = Callable[[int, Completion], None]
REFILL_IDLE_S = 2.0  # after an empty refill, ask again only this much later (each ask may query the database)


def cut_at_stop(ids: Sequence[int], stop_ids: set[int]) -> tuple[list[int], bool]:
    """Ids up to (excluding) the first stop token, and whether a stop token was reached."""
    out: list[int] = []
    for token in ids:
        if int(token) in stop_ids:
            return out, True
        out.append(int(token))
    return out, False


def check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise GenerationTimeout("the reasoning time limit passed during generation")


def remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class Engine:
    """Base class: `generate` completions for token-id requests; `close` frees the device.

    `refill(free)` (optional) is asked for more requests whenever `free` sequence slots are idle
    (None: not enough slots yet; [] means nothing is waiting, and it is asked again a little later);
    their completions are appended after the given requests. `on_complete(index, completion)` is
    called as soon as a slot's final completion (its follow-up included) is known. Together they
    keep the batch full across problems: a worker streams new problems in while others finish.
    """

    name = "engine"
    max_batch = 1

    def generate(
        self,
        requests: Sequence[Request],
        *,
        follow_up: FollowUp | None = None,
        deadline: float | None = None,
        refill: Refill | None = None,
        on_complete: OnComplete | None = None,
    ) -> list[Completion]:
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        return {"engine": self.name}

    def close(self) -> None:
        """Release what the engine holds (threads, KV cache, connections)."""


class StreamingEngine(Engine):
    """An engine that takes requests one by one and hands back finished ones as they end.

    Subclasses implement `_submit(rid, request)`, `_poll(timeout) -> [(rid, Completion)]` (finished
    requests only) and `_cancel(rids)`; this class runs the loop: follow-ups, refills, completion
    callbacks, and the deadline (past it, everything still running is cancelled).
    """

    def _submit(self, rid: str, request: Request) -> None:
        raise NotImplementedError

    def _poll(self, timeout: float) -> list[tuple[str, Completion]]:
        raise NotImplementedError

    def _cancel(self, rids: list[str]) -> None:
        raise NotImplementedError

    def _begin(self, requests: Sequence[Request]) -> None:
        """Hook before the first submit (start a manager, open a pool)."""

    def _end(self) -> None:
        """Hook after the loop, also after an error."""

    def generate(
        self,
        requests: Sequence[Request],
        *,
        follow_up: FollowUp | None = None,
        deadline: float | None = None,
        refill: Refill | None = None,
        on_complete: OnComplete | None = None,
    ) -> list[Completion]:
        self._calls = getattr(self, "_calls", 0) + 1
        self.generate_calls = getattr(self, "generate_calls", 0) + 1
        tag = f"g{self._calls}"
        pending: dict[str, tuple[int, int]] = {}  # request id -> (slot, part)
        results: list[Completion | None] = []
        idle_until = 0.0

        def submit(slot: int, part: int, request: Request) -> None:
            rid = f"{tag}-{slot}-{part}"
            pending[rid] = (slot, part)
            self._submit(rid, request)

        def add(batch: Sequence[Request]) -> None:
            for request in batch:
                results.append(None)
                submit(len(results) - 1, 0, request)

        check_deadline(deadline)
        self._begin(requests)
        try:  # on a timeout, an error or a Celery signal, cancel what is still running
            add(requests)
            while True:
                free = self.max_batch - len(pending)
                if refill is not None and free > 0 and (not pending or time.monotonic() >= idle_until):
                    more = refill(free)  # None: too few free slots to take anything yet
                    if more is not None:
                        add(more)
                        idle_until = 0.0 if more else time.monotonic() + REFILL_IDLE_S
                if not pending:
                    break
                check_deadline(deadline)
                wait = 0.5 if deadline is None else max(0.01, min(0.5, deadline - time.monotonic()))
                for rid, done in self._poll(wait):
                    if rid not in pending:
                        continue
                    slot, part = pending.pop(rid)
                    if part == 0:
                        results[slot] = done
                        more_request = follow_up(slot, done) if follow_up else None
                        if more_request is not None:
                            submit(slot, 1, more_request)
                            continue
                    else:
                        results[slot].follow_up = done  # type: ignore[union-attr]
                    if on_complete is not None:
                        on_complete(slot, results[slot])  # type: ignore[arg-type]
        finally:
            if pending:
                self._cancel(list(pending))
            self._end()
        return results  # type: ignore[return-value]


def choose_engine(requested: str | None, device: str) -> str:
    """The engine to use: STEPWISE_ENGINE, or `auto` → vllm on a GPU when installed, else transformers."""
    wanted = (requested or "auto").strip().lower()
    if wanted not in ENGINES:
        raise ValueError(f"STEPWISE_ENGINE={requested!r} is not one of {', '.join(ENGINES)}")
    if wanted != "auto":
        return wanted
    if device.startswith("cuda") and importlib.util.find_spec("vllm") is not None:
        return "vllm"
    return "transformers"


__all__ = [
    "ENGINES",
    "GREEDY",
    "Completion",
    "Engine",
    "FatalDeviceError",
    "FollowUp",
    "GenerationTimeout",
    "ModelUnavailable",
    "OnComplete",
    "Refill",
    "Request",
    "Sampling",
    "StreamingEngine",
    "check_deadline",
    "choose_engine",
    "cut_at_stop",
    "is_fatal_device_error",
    "is_oom",
    "remaining",
]
