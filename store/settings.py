"""One place that reads the environment: every part of Stepwise gets its settings from here.

`Settings.from_env()` is called by the app factory, the Celery app and the CLI, never at import.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Service configuration; every field maps to a `STEPWISE_<FIELD>` environment variable."""

    database_url: str = ""
    redis_url: str = ""  # empty: embedded broker (SQLite transport), no Redis needed
    secret_key: str = ""
    instance_dir: str = ""
    max_body_bytes: int = 2 * 1024 * 1024
    proxy_hops: int = 0  # reverse proxies in front (TLS terminators) whose X-Forwarded-* to trust
    # Accounts and web security (web/auth.py, web/security.py)
    secure_cookies: str = "auto"  # "auto": Secure behind a TLS proxy or an https public_url; "1"/"0" force it
    login_limit_ip: str = "30 per minute;300 per day"  # failed dashboard logins per client IP
    login_limit_account: str = "10 per 15 minutes;50 per day"  # failed dashboard logins per account
    frame_ancestors: str = "*"  # who may frame the LTI pages (the LMS); dashboard pages are never framed
    log_format: str = "text"  # "json": one JSON object per log line
    worker_metrics_port: int = 0  # a Celery worker serves Prometheus text on this port (0: off)
    check_timeout: float = 2.0  # seconds per sympy check
    task_time_limit: int = 600  # soft limit for a grading or passback task, seconds (hard: +30 s)
    reasoning_time_limit: int = 3600  # soft limit for a reasoning batch (hard: +300 s)
    # Resilience: the sweeper (Celery beat) re-sends what waited too long; workers outlast outages.
    sweep_interval: int = 30  # seconds between sweeps
    requeue_after: int = 120  # a job sent this long ago and still queued is sent again
    db_retry_deadline: int = 600  # a task keeps retrying a database outage this long
    # Model runtime (worker/runtime.py); the GPU worker reads these.
    model: str = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    model_local_only: bool = False
    device: str = "auto"
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 8192
    repetition_penalty: float = 1.0
    samples: int = 5
    batch_size: int = 16
    agreement: float = 0.6  # share of samples that must agree before a model answer is trusted
    engine: str = "auto"  # auto | transformers | static | vllm | openai (worker/engine.py)
    engine_url: str = ""  # the OpenAI-compatible server (`vllm serve`) when engine=openai
    model_enabled: bool = True  # false: never queue reasoning work (key-only grading)
    # LMS
    encryption_key: str = ""  # Fernet key for stored secrets; derived from secret_key if empty
    public_url: str = "http://127.0.0.1:8000"
    webhook_rate_limit: int = 120  # deliveries per minute per integration
    lms_allow_private: bool = False  # tests only: allow callbacks to loopback hosts
    passback_backoff_base: float = 30.0  # seconds before the first passback retry; doubles each time
    passback_backoff_cap: float = 3600.0
    passback_max_attempts: int = 8
    # Overnight batch (tasks/batch.py): "02:00" or "02:00 Europe/Paris"; empty: no nightly run.
    batch_at: str = ""
    timezone: str = "UTC"  # the zone of batch_at when it names none (IANA name)
    batch_tick: float = 15.0  # seconds between beat's checks of running batches
    batch_resend: float = 120.0  # seconds before a batch sends an unfinished submission again
    batch_chunk: int = 25  # submissions graded together by one batch task
    batch_grouping: bool = True  # batch tasks check each distinct answer of a problem once

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Read `STEPWISE_*` variables once; keyword overrides win (tests, CLI flags)."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"STEPWISE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = type(f.default)
            values[f.name] = _bool(raw) if kind is bool else kind(raw)
        values.update(overrides)
        settings = cls(**values)
        return settings.with_defaults()

    def with_defaults(self) -> Settings:
        """Fill the embedded defaults: a SQLite file and a secret under `instance/`. Creates nothing:
        `prepare_instance()` does, for the commands that set an install up (`run`, `db upgrade`)."""
        instance = Path(self.instance_dir or Path.cwd() / "instance")
        changes = {"instance_dir": str(instance)}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{instance / 'stepwise.sqlite'}"
        if not self.secret_key and (instance / "secret_key").exists():
            changes["secret_key"] = (instance / "secret_key").read_text().strip()
        return replace(self, **changes)

    def prepare_instance(self) -> Settings:
        """Create the instance folder and, without a configured secret, a generated one kept there
        (so sessions survive restarts). Called by the commands that set an install up and serve."""
        instance = Path(self.instance_dir)
        instance.mkdir(parents=True, exist_ok=True)
        if self.secret_key:
            return self
        path = instance / "secret_key"
        try:
            with path.open("x") as handle:  # first writer wins; everyone then reads the same key
                handle.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass
        return replace(self, secret_key=path.read_text().strip())

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{Path(self.instance_dir) / 'celery-broker.sqlite'}"

    @property
    def embedded_broker(self) -> bool:
        return not self.redis_url


__all__ = ["Settings"]
