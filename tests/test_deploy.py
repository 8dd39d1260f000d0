"""What can be checked of the Docker topology without a Docker engine: it parses and it matches the code."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from store.settings import Settings
from tasks.celery_app import GRADING_QUEUE, LMS_QUEUE, REASONING_QUEUE

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
BIN = Path(sys.executable).parent


def test_topology_has_every_part():
    assert {"postgres", "redis", "migrate", "web", "worker-cpu", "worker-gpu", "beat"} <= set(SERVICES)
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert SERVICES["redis"]["command"][SERVICES["redis"]["command"].index("--appendonly") + 1] == "yes"


def test_cpu_workers_scale():
    # `docker compose up --scale worker-cpu=N` needs no fixed name and no host port.
    worker = SERVICES["worker-cpu"]
    assert "container_name" not in worker and "ports" not in worker
    assert "container_name" not in SERVICES["beat"] and "deploy" not in SERVICES["beat"]  # beat: one


def _stepwise_command(argv: list[str]):
    """Resolve a `stepwise ...` command line with the real click group, without running it."""
    import click

    from stepwise.cli import cli

    name, command, rest = cli.resolve_command(click.Context(cli, info_name="stepwise"), list(argv))
    return command.make_context(name, rest)


def test_commands_exist_and_point_at_real_code():
    for name, service in SERVICES.items():
        command = service.get("command")
        if not command or name in ("postgres", "redis"):
            continue
        command = [_interpolate(part) for part in command]
        assert (BIN / command[0]).exists() or shutil.which(command[0]), f"{name}: {command[0]} not installed"
        if command[0] == "celery":  # found, not imported: importing it would build an app from os.environ
            assert importlib.util.find_spec(command[command.index("-A") + 1]) is not None
            assert command[command.index("-A") + 2] in ("worker", "beat")
        if command[0] == "gunicorn":
            config = command[command.index("-c") + 1]
            assert config.startswith("python:") and importlib.import_module(config.removeprefix("python:"))
            module, call = command[-1].split(":")
            assert call.endswith("()") and callable(getattr(importlib.import_module(module), call[:-2]))
        if command[0] == "stepwise":
            ctx = _stepwise_command(command[1:])  # unknown commands or options raise here
            assert ctx.command.name in ("db", "worker")
            if ctx.command.name == "db":
                assert ctx.params["action"] == "upgrade"


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with the defaults (and `${NAME:?message}` as a placeholder)."""
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}", lambda m: m.group(2) if m.group(2) is not None else "x", str(value)
    )


def test_worker_queues_match_the_celery_app():
    from stepwise.cli import worker_command

    def celery_argv(service: str) -> list[str]:
        ctx = _stepwise_command([_interpolate(p) for p in SERVICES[service]["command"][1:]])
        queues, pool = (
            ctx.params["queues"],
            ctx.params["pool"] or ("solo" if ctx.params["queues"] == "reasoning" else None),
        )
        cmd = worker_command(queues, pool=pool, concurrency=ctx.params["concurrency"])
        return cmd + (["--prefetch-multiplier", "1"] if queues == "reasoning" else [])

    cpu, gpu = celery_argv("worker-cpu"), celery_argv("worker-gpu")
    assert set(cpu[cpu.index("-Q") + 1].split(",")) == {GRADING_QUEUE, LMS_QUEUE}
    assert gpu[gpu.index("-Q") + 1] == REASONING_QUEUE
    assert gpu[gpu.index("-P") + 1] == "solo"  # one process per GPU
    assert gpu[gpu.index("--prefetch-multiplier") + 1] == "1"
    assert SERVICES["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


# Variables set for the app that are not STEPWISE_* settings, and the file that reads each.
THIRD_PARTY = {
    "PROMETHEUS_MULTIPROC_DIR": "web/ops.py",
    "WEB_CONCURRENCY": "web/gunicorn_conf.py",
    "HF_HOME": None,  # read by huggingface_hub (model downloads and cache)
}


def test_every_variable_set_is_one_the_code_reads():
    known = {f"STEPWISE_{f.name.upper()}" for f in fields(Settings)}
    for name, service in SERVICES.items():
        for key in service.get("environment") or {}:
            if name == "postgres":
                assert key.startswith("POSTGRES_")  # the postgres image's own variables
            elif key.startswith("STEPWISE_"):
                assert key in known, f"{name}: {key} is not a setting"
            else:
                assert key in THIRD_PARTY, f"{name}: {key} is read by nothing we know"
                if THIRD_PARTY[key]:
                    assert key in (ROOT / THIRD_PARTY[key]).read_text()
    env = SERVICES["web"]["environment"]
    assert env["STEPWISE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["STEPWISE_REDIS_URL"].startswith("redis://redis:")


def test_env_example_and_compose_agree():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert used == example, (used - example, example - used)
    known = {f"STEPWISE_{f.name.upper()}" for f in fields(Settings)} | {"STEPWISE_PORT"}
    assert {v for v in example if v.startswith("STEPWISE_")} <= known


def test_start_order_is_valid():
    """depends_on names real services, has no cycle, waits on health only where a healthcheck exists,
    and everything that runs the app waits for the migration to finish."""
    graph = {name: dict(service.get("depends_on") or {}) for name, service in SERVICES.items()}
    for name, deps in graph.items():
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} waits for unknown {dep}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{dep} has no healthcheck for {name} to wait on"
            if condition == "service_completed_successfully":
                assert SERVICES[dep].get("restart") == "no", f"{dep} must run once"
    order, done = [], set()
    while len(done) < len(graph):
        ready = sorted(n for n in graph if n not in done and set(graph[n]) <= done)
        assert ready, f"cycle among {set(graph) - done}"
        order += ready
        done |= set(ready)
    assert graph["migrate"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker-cpu", "worker-gpu", "beat"):
        assert graph[name]["migrate"] == {"condition": "service_completed_successfully"}
        assert order.index(name) > order.index("migrate") > order.index("postgres")


def test_dockerfile_copies_every_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, re.M))
    for package in ("grader", "worker", "tasks", "web", "store", "stepwise", "migrations"):
        assert package in copied
        assert (ROOT / package).is_dir()


def test_image_runs_the_code_beside_its_migrations():
    # `stepwise db upgrade` finds migrations/ next to the store package: the image must import
    # the packages from /app, not from a copy in site-packages.
    from migrations import MIGRATIONS

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile and "PYTHONPATH=/app" in dockerfile
    assert MIGRATIONS == ROOT / "migrations" and (MIGRATIONS / "env.py").exists()
