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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from store import metrics
from worker.engine import (
    Completion,
    Engine,
    FatalDeviceError,
    GenerationTimeout,
    ModelUnavailable,
    Request,
    Sampling,
    choose_engine,
    is_fatal_device_error,
    is_oom,
)
from worker.generation import (
    FORCE_ANSWER,
    FORCED_TOKENS,
    NO_ANSWER_NOTE,
    THINK_CLOSE,
    Sample,
    forcing_suffix,
    is_reasoning_model,
    render_prompt,
)
from worker.voting import extract_answer

log = logging.getLogger("stepwise.reasoning")

DEFAULT_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
DOWNLOAD_COMMAND = f"huggingface-cli download {DEFAULT_MODEL}"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
UNAVAILABLE_RETRY_S = 300.0  # a worker re-checks for weights this often instead of on every task


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


def _has_continuous_batching() -> bool:
    try:
        from transformers.generation.configuration_utils import ContinuousBatchingConfig
    except ImportError:
        return False
    return "per_request_processors" in getattr(ContinuousBatchingConfig, "__dataclass_fields__", {})


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


class ModelRunner:
    """Holds the tokenizer and an engine (worker/engine.py); `generate` runs budget-forced sampling."""

    def __init__(
        self,
        settings: Any,
        *,
        max_batch: int | None = None,
        forced_tokens: int = FORCED_TOKENS,
        engine: str | None = None,
    ) -> None:
        self.settings = settings
        self.model_id: str = settings.model
        self.engine_kind = engine or getattr(settings, "engine", "auto") or "auto"
        # Sequences (problems x samples) in flight at once; the static engine halves it on CUDA OOM.
        self.max_batch = max(1, int(max_batch or settings.batch_size * settings.samples))
        self.forced_tokens = forced_tokens
        self.state = "new"  # new | ready | unavailable | closed
        self.engine: Engine | None = None
        self.model: Any = None  # the transformers model (transformers and static engines only)
        self.tokenizer: Any = None
        self.device: str | None = None
        self.dtype: str | None = None
        self.load_time_s: float | None = None
        self.warmup_s: float | None = None
        self.generate_calls = 0
        self.generated_tokens = 0
        self.unavailable: ModelUnavailable | None = None
        self._unavailable_at = 0.0
        self.thinking = True  # an R1-style model (prompted into <think>); False for plain models
        self._stop_ids: set[int] = set()
        self._pad_id = 0
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------
    def load(self) -> ModelRunner:
        """Load the tokenizer and the engine (with its weights); raises ModelUnavailable with a clear message."""
        with self._lock:
            if self.state == "ready":
                return self
            if self.state == "closed":
                raise RuntimeError("this ModelRunner was shut down; call get_runner() for a new one")
            try:
                self._load()
            except ModelUnavailable as exc:
                self.state, self.unavailable, self._unavailable_at = "unavailable", exc, time.monotonic()
                log.error(
                    "reasoning.model_unavailable model=%s: %s",
                    self.model_id,
                    exc.message,
                    extra={"event": "reasoning.model_unavailable", "model": self.model_id},
                )
                raise
            self.state, self.unavailable = "ready", None
            return self

    def _load(self) -> None:
        missing = _missing_libraries()
        if missing:
            raise ModelUnavailable(model_available(self.settings)[1])
        device = resolve_device(self.settings.device)
        try:
            kind = choose_engine(self.engine_kind, device)
        except ValueError as exc:
            raise ModelUnavailable(f"Reference reasoning is unavailable: {exc}") from exc
        local_only = bool(self.settings.model_local_only)
        if kind != "openai" and (local_only or _looks_like_path(self.model_id)):
            ok, why = model_available(self.settings)
            if not ok:
                raise ModelUnavailable(why)
        started = time.perf_counter()
        tokenizer = self._load_tokenizer(local_only)
        if kind in ("transformers", "static"):
            stops = self._load_transformers(device, local_only)
        else:
            stops = self._checkpoint_stops(local_only)
        if tokenizer.eos_token_id is not None:
            stops.add(int(tokenizer.eos_token_id))
        self.tokenizer, self.device, self._stop_ids = tokenizer, device, stops
        self.thinking = is_reasoning_model(tokenizer)
        self._pad_id = int(tokenizer.pad_token_id)
        self.engine = self._make_engine(kind, device, local_only)
        self.load_time_s = time.perf_counter() - started
        log.info(
            "reasoning.model_loaded model=%s engine=%s device=%s dtype=%s load_s=%.1f",
            self.model_id,
            kind,
            device,
            self.dtype,
            self.load_time_s,
            extra={"event": "reasoning.model_loaded", "model": self.model_id},
        )

    def _load_tokenizer(self, local_only: bool) -> Any:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_id, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            why = unavailable_message(self.model_id, f"loading {self.model_id} failed ({exc})")
            raise ModelUnavailable(why) from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def _load_transformers(self, device: str, local_only: bool) -> set[int]:
        import torch
        from transformers import AutoModelForCausalLM, GenerationConfig

        # bf16 on GPU (fp16 overflows to NaN in Qwen2), float32 on the CPU.
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        try:
            model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            why = unavailable_message(self.model_id, f"loading {self.model_id} failed ({exc})")
            raise ModelUnavailable(why) from exc
        model.to(device)
        model.eval()
        stops = model.generation_config.eos_token_id
        # Every call passes its own sampling; a neutral default keeps the checkpoint's sampling fields
        # from being merged into greedy calls.
        model.generation_config = GenerationConfig(
            bos_token_id=model.generation_config.bos_token_id, eos_token_id=stops
        )
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        self.model, self.dtype = model, str(dtype).replace("torch.", "")
        return {int(s) for s in ([stops] if isinstance(stops, int) else list(stops or []))}

    def _checkpoint_stops(self, local_only: bool) -> set[int]:
        """The checkpoint's stop ids without loading its weights (vLLM and server engines)."""
        from transformers import AutoConfig, GenerationConfig

        try:
            stops = GenerationConfig.from_pretrained(self.model_id, local_files_only=local_only).eos_token_id
        except OSError:
            stops = AutoConfig.from_pretrained(self.model_id, local_files_only=local_only).eos_token_id
        self.dtype = "bfloat16"
        return {int(s) for s in ([stops] if isinstance(stops, int) else list(stops or []))}

    def _make_engine(self, kind: str, device: str, local_only: bool) -> Engine:
        s = self.settings
        max_context = 2048 + int(s.max_new_tokens) + self.forced_tokens + 64
        if kind == "transformers" and not _has_continuous_batching():
            log.warning(
                "reasoning.static_fallback: this transformers has no per-request continuous batching "
                "(tested on 5.24); using the static engine",
                extra={"event": "reasoning.static_fallback"},
            )
            kind = "static"
        if kind == "static":
            from worker.engine_hf import StaticEngine

            return StaticEngine(
                self.model,
                device=device,
                dtype_bytes=2 if self.dtype == "bfloat16" else 4,
                pad_id=self._pad_id,
                stop_ids=self._stop_ids,
                max_batch=self.max_batch,
            )
        if kind == "transformers":
            from worker.engine_hf import ContinuousEngine

            return ContinuousEngine(
                self.model,
                device=device,
                pad_id=self._pad_id,
                stop_ids=self._stop_ids,
                max_batch=self.max_batch,
                max_context=max_context,
            )
        if kind == "vllm":
            from worker.engine_vllm import VLLMEngine

            return VLLMEngine(
                self.model_id,
                stop_ids=self._stop_ids,
                max_context=max_context,
                max_batch=self.max_batch,
                local_only=local_only,
            )
        from worker.engine_openai import OpenAIEngine

        try:
            return OpenAIEngine(
                getattr(s, "engine_url", ""),
                self.model_id,
                stop_ids=self._stop_ids,
                encode=self._encode,
                max_batch=self.max_batch,
            )
        except ValueError as exc:
            raise ModelUnavailable(f"Reference reasoning is unavailable: {exc}") from exc

    def warmup(self) -> float:
        """One short greedy generation (and, with a local model, a finite-logits check)."""
        self.load()
        started = time.perf_counter()
        ids = self._encode(self.prompt("1+1"))
        if self.model is not None:
            import torch

            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0, -1]
            if not bool(torch.isfinite(logits).all()):
                raise FatalDeviceError(f"{self.model_id} produced non-finite logits on {self.device} ({self.dtype})")
        # The configured sampling, so a continuous-batching manager starts with the defaults it keeps.
        sampling = Sampling(temperature=float(self.settings.temperature), top_p=float(self.settings.top_p))
        try:
            self._call_engine([Request.of(ids, 4, sampling)], None, None)
        except OSError as exc:  # a completions server that is down or unreachable (requests errors are OSErrors)
            raise ModelUnavailable(
                f"Reference reasoning is unavailable: the completions server at "
                f"{getattr(self.settings, 'engine_url', '')} did not answer ({exc}). Start it "
                "(`vllm serve MODEL`) or set STEPWISE_ENGINE=transformers."
            ) from exc
        self.warmup_s = time.perf_counter() - started
        return self.warmup_s

    def ensure_ready(self) -> ModelRunner:
        """Load and warm up on first use; a missing model is re-checked every few minutes only."""
        with self._lock:
            if self.state == "ready":
                return self
            if self.state == "unavailable" and self.unavailable is not None:
                if time.monotonic() - self._unavailable_at < UNAVAILABLE_RETRY_S:
                    raise self.unavailable
                self.state = "new"
            self.load()
            try:
                self.warmup()
            except ModelUnavailable as exc:  # e.g. the completions server is down: re-checked later
                self.state, self.unavailable, self._unavailable_at = "unavailable", exc, time.monotonic()
                raise
            return self

    @property
    def oom_backoffs(self) -> int:
        return int(getattr(self.engine, "oom_backoffs", 0))

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ok": self.state == "ready",
            "state": self.state,
            "model": self.model_id,
            "engine": self.engine.health() if self.engine else {"engine": self.engine_kind},
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
            if self.engine is not None:
                self.engine.close()
            self.engine = self.model = self.tokenizer = None
            self.state = "closed"
            gc.collect()
            if on_gpu:
                import torch

                torch.cuda.empty_cache()

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        problems: list[str],
        *,
        samples: int | None = None,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        deadline: float | None = None,
    ) -> list[list[Sample]]:
        """k samples for each problem, all in flight at once; a sample that runs out of tokens is
        budget-forced (continued with a request for the final answer) as soon as it ends.

        `deadline` (time.monotonic()) stops the generation loop: GenerationTimeout."""
        s = self.settings
        job = Job.of(
            None,
            "",
            s,
            samples=samples,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
        )
        jobs = [replace(job, key=n, statement=p) for n, p in enumerate(problems)]
        done = self.run(jobs, deadline=deadline)
        return [done[n] for n in range(len(problems))]

    def run(
        self,
        jobs: list[Job],
        *,
        more: Callable[[int], list[Job]] | None = None,
        on_done: Callable[[Any, list[Sample]], Any] | None = None,
        deadline: float | None = None,
    ) -> dict[Any, list[Sample]]:
        """Solve `jobs` (k samples each) in one engine run; returns {job.key: samples}.

        `more(n)` is asked for up to n further jobs whenever enough sequence slots are idle (a worker
        streams new problems into the running batch), and `on_done(key, samples)` is called the
        moment a job's last sample ends, so its result can be stored while others still run."""
        if not jobs:
            return {}
        with self._lock:
            self.ensure_ready()
            tokens, started = self.generated_tokens, time.perf_counter()
            try:
                return self._run(jobs, more, on_done, deadline)
            finally:  # a run cut short by its deadline generated tokens too
                metrics.record_generation(self.generated_tokens - tokens, time.perf_counter() - started)

    def _run(self, jobs: list[Job], more: Any, on_done: Any, deadline: float | None) -> dict[Any, list[Sample]]:
        thinking = self.thinking
        slot_job: list[int] = []  # engine slot -> index into `queued`
        slot_request: list[Request] = []
        queued: list[Job] = []
        prompts: list[list[int]] = []
        submitted_at: list[float] = []
        finished: list[list[tuple[int, Sample]]] = []
        suffixes: dict[int, str] = {}
        per_job = max(job.samples for job in jobs)

        def expand(new_jobs: list[Job]) -> list[Request]:
            requests = []
            for job in new_jobs:
                index = len(queued)
                queued.append(job)
                prompts.append(self._encode(self.prompt(job.statement)))
                submitted_at.append(time.monotonic())
                finished.append([])
                for _ in range(job.samples):
                    request = Request.of(prompts[index], job.max_new_tokens, job.sampling)
                    slot_job.append(index)
                    slot_request.append(request)
                    requests.append(request)
            return requests

        def refill(free: int) -> list[Request] | None:
            wanted = free // per_job
            if more is None or wanted == 0:
                return None
            return expand(list(more(wanted)))

        def follow_up(slot: int, first: Completion) -> Request | None:
            """Budget forcing: close the thinking and ask for the boxed answer, continuing this sequence."""
            text = self._decode(first.token_ids)
            truncated = not first.stopped
            answer = extract_answer(text, truncated=truncated, thinking=thinking)
            suffix = forcing_suffix(text, truncated, answer, thinking=thinking)
            if suffix is None:
                return None
            suffixes[slot] = suffix
            request = slot_request[slot]
            forced = Sampling(temperature=0.0, top_p=1.0, repetition_penalty=request.sampling.repetition_penalty)
            return Request.of(
                request.prompt_ids + tuple(first.token_ids) + tuple(self._encode(suffix)), self.forced_tokens, forced
            )

        def on_complete(slot: int, done: Completion) -> None:
            index = slot_job[slot]
            finished[index].append(
                (slot, self._sample(done, suffixes.get(slot), len(prompts[index]), submitted_at[index], thinking))
            )
            if len(finished[index]) == queued[index].samples and on_done is not None:
                on_done(queued[index].key, [sample for _slot, sample in sorted(finished[index])])

        self._call_engine(expand(jobs), follow_up, deadline, refill, on_complete)
        return {job.key: [sample for _slot, sample in sorted(finished[n])] for n, job in enumerate(queued)}

    def prompt(self, problem: str) -> str:
        """The prompt this model gets: into <think> for a reasoning model, plain otherwise."""
        return render_prompt(self.tokenizer, problem, thinking=self.thinking)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _decode(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL

    def _call_engine(
        self,
        requests: list[Request],
        follow_up: Any,
        deadline: float | None,
        refill: Any = None,
        on_complete: Any = None,
    ) -> list[Completion]:
        assert self.engine is not None
        self.generate_calls += 1
        try:
            return self.engine.generate(
                requests, follow_up=follow_up, deadline=deadline, refill=refill, on_complete=on_complete
            )
        except (GenerationTimeout, FatalDeviceError):
            raise
        except Exception as exc:
            if is_fatal_device_error(exc):
                raise FatalDeviceError(f"{type(exc).__name__}: {exc}") from exc
            raise

    def _sample(
        self, done: Completion, suffix: str | None, prompt_tokens: int, started: float, thinking: bool
    ) -> Sample:
        """One finished sequence as a Sample: its text (forcing included), its answer, its usage."""
        text = self._decode(done.token_ids)
        truncated = not done.stopped
        if done.follow_up is not None:
            tail = self._decode(done.follow_up.token_ids)
            # The answer is what the model wrote when asked for it, and only if it closed the box.
            answer = extract_answer(THINK_CLOSE + "\n\n" + FORCE_ANSWER + tail, truncated=not done.follow_up.stopped)
            text = text + (suffix or "") + tail
        else:
            answer = extract_answer(text, truncated=truncated, thinking=thinking)
        if answer is None and truncated:
            text += NO_ANSWER_NOTE
        self.generated_tokens += done.generated_tokens
        return Sample(
            text=text,
            answer=answer,
            completion_tokens=done.generated_tokens,
            truncated=truncated,
            forced=done.follow_up is not None,
            prompt_tokens=prompt_tokens,
            latency_s=max(1e-6, done.last.finished_at - started),
        )


@dataclass(frozen=True)
class Job:
    """One problem to solve: `samples` sequences of up to `max_new_tokens` with `sampling`."""

    key: Any
    statement: str
    samples: int
    max_new_tokens: int
    sampling: Sampling

    @classmethod
    def of(
        cls,
        key: Any,
        statement: str,
        settings: Any,
        *,
        samples: int | None = None,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> Job:
        """A job with `settings`' generation values, each overridable (None keeps the setting)."""

        def pick(value: Any, name: str) -> Any:
            return getattr(settings, name) if value is None else value

        return cls(
            key,
            statement,
            max(1, int(pick(samples, "samples"))),
            int(pick(max_new_tokens, "max_new_tokens")),
            Sampling(
                temperature=float(pick(temperature, "temperature")),
                top_p=float(pick(top_p, "top_p")),
                repetition_penalty=float(pick(repetition_penalty, "repetition_penalty")),
            ),
        )


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
    "GenerationTimeout",
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
