"""The reasoning model runner: load, warm up, health, generate, shut down.

One `ModelRunner` per worker process, created by `get_runner(settings)` and loaded lazily on the
first task (after the fork, never at import, never in the Celery parent). torch and transformers
are imported inside functions only, so `model_available()` and the error types are cheap to
import from the web app and the CLI.

GPU workers run one process per GPU: `celery -A worker.app worker -Q reasoning -P solo
--concurrency 1 --prefetch-multiplier 1` (or one prefork child), with CUDA_VISIBLE_DEVICES set.
"""
from __future__ import annotations

import gc
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from worker.generation import (
    FORCED_TOKENS,
    NO_ANSWER_NOTE,
    THINK_CLOSE,
    Sample,
    cut_at_eos,
    forcing_suffix,
    kv_bytes_per_token,
    left_pad,
    memory_bound_batch,
    render_prompt,
)
from worker.voting import extract_answer

log = logging.getLogger("stepwise.reasoning")

DEFAULT_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
DOWNLOAD_COMMAND = f"huggingface-cli download {DEFAULT_MODEL}"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
UNAVAILABLE_RETRY_S = 300.0  # a worker re-checks for weights this often instead of on every task
_FATAL_MARKERS = ("CUDA error", "CUBLAS_STATUS", "cuDNN error", "CUDNN_STATUS", "device-side assert", "NCCL error")


class ModelUnavailable(Exception):
    """The model cannot run here (weights, libraries or GPU missing); `message` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FatalDeviceError(RuntimeError):
    """A CUDA error other than out-of-memory: the CUDA context is unusable, the process must restart."""


def _download_command(model_id: str) -> str:
    if _looks_like_path(model_id) or model_id == DEFAULT_MODEL:
        return DOWNLOAD_COMMAND
    return f"huggingface-cli download {model_id}"


def unavailable_message(model_id: str, what: str) -> str:
    return (
        f"Reference reasoning is unavailable: {what}. "
        f"Download the weights on the reasoning worker's machine with `{_download_command(model_id)}` "
        "(or set STEPWISE_MODEL to a local folder holding config.json, the tokenizer files and the "
        "*.safetensors weights), then restart the reasoning worker. Until then, problems without an "
        "answer key wait in needs_review and problems with a key are graded as usual."
    )


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", ".", "~")) or Path(model_id).expanduser().is_dir()


def _missing_libraries() -> list[str]:
    return [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]


def model_available(settings: Any) -> tuple[bool, str]:
    """(available, why) without loading anything or touching the network (dashboard, CLI)."""
    missing = _missing_libraries()
    if missing:
        return False, (
            f"Reference reasoning is unavailable: {' and '.join(missing)} not installed in this environment. "
            "Install the model extra with `pip install -e '.[model]'` on the reasoning worker. "
            "Problems without an answer key wait in needs_review; problems with a key are graded as usual."
        )
    model_id = settings.model
    if _looks_like_path(model_id):
        path = Path(model_id).expanduser()
        if not path.is_dir():
            return False, unavailable_message(model_id, f"the model folder {path} does not exist")
        if not (path / "config.json").is_file():
            return False, unavailable_message(model_id, f"{path} has no config.json")
        if not (any((path / f).is_file() for f in WEIGHT_FILES) or any(path.glob("*.safetensors"))):
            return False, unavailable_message(model_id, f"{path} has no model weights (*.safetensors)")
        return True, f"model weights found in {path}"
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False, unavailable_message(model_id, "huggingface_hub is not installed")
    config = try_to_load_from_cache(model_id, "config.json")
    if not isinstance(config, str):
        return False, unavailable_message(
            model_id, f"the weights of {model_id} are not in the Hugging Face cache ({HF_HUB_CACHE})"
        )
    if not any(isinstance(try_to_load_from_cache(model_id, f), str) for f in WEIGHT_FILES):
        return False, unavailable_message(
            model_id, f"the Hugging Face cache ({HF_HUB_CACHE}) has the config of {model_id} but not its weights"
        )
    return True, f"model {model_id} found in the Hugging Face cache ({HF_HUB_CACHE})"


def resolve_device(requested: str | None) -> str:
    """`auto` → CUDA when present, else CPU; `cpu` forces the CPU; `cuda[:N]` requires a GPU."""
    import torch

    wanted = (requested or "auto").strip().lower()
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelUnavailable(
                f"Reference reasoning is unavailable: STEPWISE_DEVICE={requested} but no CUDA GPU is visible "
                f"to this process (torch {torch.__version__}, CUDA build {torch.version.cuda}, "
                f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}). Check the driver "
                "and the container's GPU access, or set STEPWISE_DEVICE=auto/cpu. Until then, problems without "
                "an answer key wait in needs_review and problems with a key are graded as usual."
            )
        return wanted
    raise ModelUnavailable(f"STEPWISE_DEVICE={requested!r} is not one of auto, cpu, cuda, cuda:N")


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
    message = str(exc)
    return any(marker in message for marker in _FATAL_MARKERS)


class ModelRunner:
    """Holds one causal LM and its tokenizer; `generate` runs batched, budget-forced sampling."""

    def __init__(self, settings: Any, *, max_batch: int | None = None, forced_tokens: int = FORCED_TOKENS) -> None:
        self.settings = settings
        self.model_id: str = settings.model
        # Sequences (problems x samples) per generate call; halves on CUDA OOM, stays halved.
        self.max_batch = max(1, int(max_batch or settings.batch_size * settings.samples))
        self.forced_tokens = forced_tokens
        self.state = "new"  # new | ready | unavailable | closed
        self.model: Any = None
        self.tokenizer: Any = None
        self.device: str | None = None
        self.dtype: str | None = None
        self.load_time_s: float | None = None
        self.warmup_s: float | None = None
        self.generate_calls = 0
        self.generated_tokens = 0
        self.oom_backoffs = 0
        self.unavailable: ModelUnavailable | None = None
        self._unavailable_at = 0.0
        self._stop_ids: set[int] = set()
        self._pad_id = 0
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------
    def load(self) -> "ModelRunner":
        """Load tokenizer and weights onto the device; raises ModelUnavailable with a clear message."""
        with self._lock:
            if self.state == "ready":
                return self
            if self.state == "closed":
                raise RuntimeError("this ModelRunner was shut down; call get_runner() for a new one")
            try:
                self._load()
            except ModelUnavailable as exc:
                self.state, self.unavailable, self._unavailable_at = "unavailable", exc, time.monotonic()
                log.error("reasoning.model_unavailable model=%s: %s", self.model_id, exc.message,
                          extra={"event": "reasoning.model_unavailable", "model": self.model_id})
                raise
            self.state, self.unavailable = "ready", None
            return self

    def _load(self) -> None:
        missing = _missing_libraries()
        if missing:
            raise ModelUnavailable(model_available(self.settings)[1])
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = resolve_device(self.settings.device)
        local_only = bool(self.settings.model_local_only)
        if local_only or _looks_like_path(self.model_id):
            ok, why = model_available(self.settings)
            if not ok:
                raise ModelUnavailable(why)
        # bf16 on GPU (fp16 overflows to NaN in Qwen2), float32 on the CPU.
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        started = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_id, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype, local_files_only=local_only)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise ModelUnavailable(unavailable_message(self.model_id, f"loading {self.model_id} failed ({exc})")) from exc
        model.to(device)
        model.eval()
        stops = model.generation_config.eos_token_id
        # Every call passes a complete GenerationConfig (the card's sampling, from Settings); a neutral
        # model default keeps the checkpoint's own sampling fields from being merged into greedy calls.
        from transformers import GenerationConfig

        model.generation_config = GenerationConfig(
            bos_token_id=model.generation_config.bos_token_id, eos_token_id=stops
        )
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        stops = [stops] if isinstance(stops, int) else list(stops or [])
        if tokenizer.eos_token_id is not None:
            stops.append(tokenizer.eos_token_id)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        self.model, self.tokenizer, self.device, self.dtype = model, tokenizer, device, str(dtype).replace("torch.", "")
        self._stop_ids = {int(s) for s in stops}
        self._pad_id = int(tokenizer.pad_token_id)
        self.load_time_s = time.perf_counter() - started
        log.info("reasoning.model_loaded model=%s device=%s dtype=%s load_s=%.1f", self.model_id, device,
                 self.dtype, self.load_time_s, extra={"event": "reasoning.model_loaded", "model": self.model_id})

    def warmup(self) -> float:
        """One short greedy generation: compiles kernels and proves the weights produce numbers."""
        self.load()
        import torch

        started = time.perf_counter()
        ids = self.tokenizer(render_prompt(self.tokenizer, "1+1"), add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0, -1]
        if not bool(torch.isfinite(logits).all()):
            raise FatalDeviceError(f"{self.model_id} produced non-finite logits on {self.device} ({self.dtype})")
        self._run_batched([ids], self._generation_config(max_new_tokens=4, greedy=True))
        self.warmup_s = time.perf_counter() - started
        return self.warmup_s

    def ensure_ready(self) -> "ModelRunner":
        """Load and warm up on first use; a missing model is re-checked every few minutes only."""
        with self._lock:
            if self.state == "ready":
                return self
            if self.state == "unavailable" and self.unavailable is not None:
                if time.monotonic() - self._unavailable_at < UNAVAILABLE_RETRY_S:
                    raise self.unavailable
                self.state = "new"
            self.load()
            self.warmup()
            return self

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ok": self.state == "ready",
            "state": self.state,
            "model": self.model_id,
            "device": self.device,
            "dtype": self.dtype,
            "load_time_s": self.load_time_s,
            "warmup_s": self.warmup_s,
            "max_batch": self.max_batch,
            "generate_calls": self.generate_calls,
            "generated_tokens": self.generated_tokens,
            "oom_backoffs": self.oom_backoffs,
            "pid": os.getpid(),
            "error": self.unavailable.message if self.unavailable else None,
        }
        if self.device and self.device.startswith("cuda"):
            import torch

            info["gpu"] = {
                "name": torch.cuda.get_device_name(self.device),
                "memory_allocated": torch.cuda.memory_allocated(self.device),
                "max_memory_allocated": torch.cuda.max_memory_allocated(self.device),
                "memory_total": torch.cuda.get_device_properties(self.device).total_memory,
            }
        return info

    def shutdown(self) -> None:
        with self._lock:
            on_gpu = bool(self.device and self.device.startswith("cuda"))
            self.model = self.tokenizer = None
            self.state = "closed"
            gc.collect()
            if on_gpu:
                import torch

                torch.cuda.empty_cache()

    # -- generation --------------------------------------------------------------------------
    def _generation_config(self, *, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                           repetition_penalty: float = 1.0, greedy: bool = False, min_new_tokens: int | None = None):
        from transformers import GenerationConfig

        kwargs: dict[str, Any] = {
            "max_new_tokens": int(max_new_tokens),
            "pad_token_id": self._pad_id,
            "eos_token_id": sorted(self._stop_ids),
        }
        if min_new_tokens:
            kwargs["min_new_tokens"] = int(min_new_tokens)
        if repetition_penalty and float(repetition_penalty) != 1.0:
            kwargs["repetition_penalty"] = float(repetition_penalty)
        if greedy or float(temperature) <= 0.0:
            kwargs["do_sample"] = False
        else:
            # The model card's sampling: temperature and nucleus only (top_k=0 turns HF's top-k 50 off).
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p), top_k=0)
        return GenerationConfig(**kwargs)

    def generate(self, problems: list[str], *, samples: int | None = None, max_new_tokens: int | None = None,
                 temperature: float | None = None, top_p: float | None = None,
                 repetition_penalty: float | None = None) -> list[list[Sample]]:
        """k samples for each problem: one batched, left-padded generate call per memory-sized chunk,
        then one batched budget-forcing continuation for the samples that ran out of tokens."""
        s = self.settings
        k = max(1, int(samples if samples is not None else s.samples))
        budget = int(max_new_tokens if max_new_tokens is not None else s.max_new_tokens)
        config = self._generation_config(
            max_new_tokens=budget,
            temperature=s.temperature if temperature is None else temperature,
            top_p=s.top_p if top_p is None else top_p,
            repetition_penalty=s.repetition_penalty if repetition_penalty is None else repetition_penalty,
        )
        if not problems:
            return []
        with self._lock:
            self.ensure_ready()
            return self._generate(problems, k, config)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _decode(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL

    def _generate(self, problems: list[str], k: int, config: Any) -> list[list[Sample]]:
        started = time.perf_counter()
        prompt_ids = [self._encode(render_prompt(self.tokenizer, p)) for p in problems]
        jobs = [(i, j) for i in range(len(problems)) for j in range(k)]
        outputs = self._run_batched([prompt_ids[i] for i, _ in jobs], config)

        records = []
        for (i, _), new_ids in zip(jobs, outputs):
            ids, stopped = cut_at_eos(new_ids, self._stop_ids)
            text = self._decode(ids)
            truncated = not stopped
            answer = extract_answer(text) if THINK_CLOSE in text or not truncated else None
            records.append({"i": i, "ids": ids, "text": text, "tokens": len(ids) + int(stopped),
                            "truncated": truncated, "forced": False, "answer": answer,
                            "suffix": forcing_suffix(text, truncated, answer)})

        # Budget forcing: close the thinking and ask for the answer, all forced samples in one batch.
        forced = [r for r in records if r["suffix"]]
        if forced:
            inputs = [prompt_ids[r["i"]] + r["ids"] + self._encode(r["suffix"]) for r in forced]
            follow = self._run_batched(inputs, self._generation_config(
                max_new_tokens=self.forced_tokens, greedy=True,
                repetition_penalty=config.repetition_penalty or 1.0))
            for r, new_ids in zip(forced, follow):
                ids, stopped = cut_at_eos(new_ids, self._stop_ids)
                r["text"] = r["text"] + r["suffix"] + self._decode(ids)
                r["tokens"] += len(ids) + int(stopped)
                r["forced"] = True
                r["answer"] = extract_answer(r["text"])

        latency = time.perf_counter() - started
        results: list[list[Sample]] = [[] for _ in problems]
        for r in records:
            text = r["text"]
            if r["answer"] is None and r["truncated"]:
                text += NO_ANSWER_NOTE
            results[r["i"]].append(Sample(
                text=text, answer=r["answer"], completion_tokens=r["tokens"], truncated=r["truncated"],
                forced=r["forced"], prompt_tokens=len(prompt_ids[r["i"]]), latency_s=latency))
            self.generated_tokens += r["tokens"]
        return results

    def _memory_cap(self, seq_len: int) -> int:
        if not (self.device and self.device.startswith("cuda")):
            return self.max_batch
        import torch

        free, _total = torch.cuda.mem_get_info(self.device)
        per_token = kv_bytes_per_token(self.model.config, 2 if self.dtype == "bfloat16" else 4)
        return memory_bound_batch(free, per_token, seq_len)

    def _run_batched(self, inputs: list[list[int]], config: Any) -> list[list[int]]:
        """Generate for every input, `max_batch` sequences per call (similar lengths together);
        on CUDA OOM halve the batch and retry; other CUDA errors raise FatalDeviceError."""
        results: list[list[int] | None] = [None] * len(inputs)
        order = sorted(range(len(inputs)), key=lambda n: len(inputs[n]))
        pos = 0
        while pos < len(order):
            longest = max(len(inputs[n]) for n in order[pos:pos + self.max_batch])
            size = min(self.max_batch, self._memory_cap(longest + config.max_new_tokens), len(order) - pos)
            chunk = order[pos:pos + size]
            try:
                outputs = self._generate_chunk([inputs[n] for n in chunk], config)
            except Exception as exc:
                if is_oom(exc) and size > 1:
                    self.max_batch = max(1, size // 2)
                    self.oom_backoffs += 1
                    log.warning("reasoning.oom_backoff batch=%d new_batch=%d", size, self.max_batch,
                                extra={"event": "reasoning.oom_backoff"})
                    self._empty_cache()
                    continue
                if is_fatal_device_error(exc):
                    raise FatalDeviceError(f"{type(exc).__name__}: {exc}") from exc
                raise
            for n, out in zip(chunk, outputs):
                results[n] = out
            pos += size
        return results  # type: ignore[return-value]

    def _generate_chunk(self, sequences: list[list[int]], config: Any) -> list[list[int]]:
        import torch

        ids, mask = left_pad(sequences, self._pad_id)
        input_ids = torch.tensor(ids, dtype=torch.long, device=self.device)
        attention_mask = torch.tensor(mask, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
        self.generate_calls += 1
        return out[:, input_ids.shape[1]:].tolist()

    def _empty_cache(self) -> None:
        if self.device and self.device.startswith("cuda"):
            import torch

            gc.collect()
            torch.cuda.empty_cache()


_runner: ModelRunner | None = None
_runner_pid: int | None = None
_runner_lock = threading.Lock()


def get_runner(settings: Any) -> ModelRunner:
    """This process's runner (a new one after a fork or a settings change); not loaded until used."""
    global _runner, _runner_pid
    with _runner_lock:
        current = _runner
        stale = (
            current is None
            or _runner_pid != os.getpid()
            or current.state == "closed"
            or current.model_id != settings.model
            or current.settings.device != settings.device
        )
        if stale:
            if current is not None and _runner_pid == os.getpid() and current.state != "closed":
                current.shutdown()
            _runner, _runner_pid = ModelRunner(settings), os.getpid()
        return _runner  # type: ignore[return-value]


def shutdown_runner() -> None:
    """Release this process's model (worker shutdown)."""
    global _runner
    with _runner_lock:
        if _runner is not None and _runner_pid == os.getpid():
            _runner.shutdown()
        _runner = None


__all__ = [
    "DEFAULT_MODEL",
    "DOWNLOAD_COMMAND",
    "FatalDeviceError",
    "ModelRunner",
    "ModelUnavailable",
    "get_runner",
    "is_fatal_device_error",
    "is_oom",
    "model_available",
    "resolve_device",
    "shutdown_runner",
    "unavailable_message",
]
