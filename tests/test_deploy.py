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
    assert {"postgres", "redis", "migrate", "web", "worker-cpu", "worker-gpu"} <= set(SERVICES)


def test_commands_exist_and_point_at_real_code():
    for name, service in SERVICES.items():
        command = service.get("command")
        if not command or name in ("postgres", "redis"):
            continue
        assert (BIN / command[0]).exists() or shutil.which(command[0]), f"{name}: {command[0]} not installed"
        if command[0] == "celery":  # found, not imported: importing it would build an app from os.environ
            assert importlib.util.find_spec(command[command.index("-A") + 1]) is not None
        if "--call" in command:
            module, attr = command[command.index("--call") + 1].split(":")
            assert callable(getattr(importlib.import_module(module), attr))
        if command[:3] == ["stepwise", "db", "upgrade"]:
            from stepwise.cli import build_parser

            assert build_parser().parse_args(command[1:]).action == "upgrade"


def test_worker_queues_match_the_celery_app():
    cpu = SERVICES["worker-cpu"]["command"]
    gpu = SERVICES["worker-gpu"]["command"]
    assert set(cpu[cpu.index("-Q") + 1].split(",")) == {GRADING_QUEUE, LMS_QUEUE}
    assert gpu[gpu.index("-Q") + 1] == REASONING_QUEUE
    assert gpu[gpu.index("-P") + 1] == "solo"  # one process per GPU
    assert gpu[gpu.index("--prefetch-multiplier") + 1] == "1"
    assert SERVICES["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_environment_names_are_real_settings():
    known = {f"STEPWISE_{f.name.upper()}" for f in fields(Settings)}
    env = SERVICES["web"]["environment"]
    for key in env:
        if key.startswith("STEPWISE_"):
            assert key in known, key
    assert env["STEPWISE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["STEPWISE_REDIS_URL"].startswith("redis://redis:")


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
