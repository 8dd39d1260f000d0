"""`stepwise run` on embedded defaults: SQLite, the SQLite Celery transport, worker subprocesses.

No Redis or Postgres URL is given: the service must migrate, seed the demo, and grade the sample
assignment through Celery on its own, as `make run` does on a fresh machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from support import ROOT, stop_process, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_service(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    env.update(STEPWISE_INSTANCE_DIR=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stepwise.cli", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base) or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, (tmp_path / "run.log").read_text()
        yield base, tmp_path
    finally:
        stop_process(proc, group=True, term_group=False, timeout=60)  # `stepwise run` stops its own workers


def _workers_of(instance) -> list[str]:
    """Command lines of processes still running workers for this instance."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"celery" in cmdline and f"STEPWISE_INSTANCE_DIR={instance}".encode() in environ:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/login", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_make_run_defaults_grade_the_sample_without_redis_or_postgres(embedded_service):
    base, tmp = embedded_service
    out = (tmp / "run.log").read_text()
    assert "Stepwise is running at http://127.0.0.1:" in out
    assert "demo@stepwise.local" in out
    assert (tmp / "instance" / "stepwise.sqlite").exists()

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urlencode({"csrf_token": token, "email": "demo@stepwise.local", "password": "stepwise-demo"})
    home = opener.open(base + "/login", data=form.encode()).read().decode()
    assert "Sample: Linear equations" in home

    assignment_url = base + re.search(r'href="(/assignments/\d+)"', home).group(1)

    def graded_rows():
        html = opener.open(assignment_url).read().decode()
        done = sum(html.count(f'class="status {s}"') for s in ("graded", "needs_review", "failed"))
        return html if done >= 3 else None

    html = wait_for(graded_rows, timeout=120, interval=1)
    assert html.count('class="status graded"') == 3, html
    assert "Ada" in html and "Ben" in html
    ada = re.search(r">Ada</a></th>.*?</tr>", html, re.S).group(0)
    assert re.search(r'<td class="num">8<span class="muted">/8</span></td>', ada), ada  # 2 + 1 + 2 + 1 + 2


def test_stopping_the_service_stops_its_workers(tmp_path):
    port = _free_port()
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    env.update(STEPWISE_INSTANCE_DIR=str(instance), PYTHONUNBUFFERED="1")
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stepwise.cli", "run", "--port", str(port), "--no-demo"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: _up(f"http://127.0.0.1:{port}") and len(_workers_of(instance)) >= 2, timeout=90)
        wait_for(
            lambda: (
                (instance / "logs" / "worker-grading.log").exists()
                and b" ready." in (instance / "logs" / "worker-grading.log").read_bytes()
            ),
            timeout=60,
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not _workers_of(instance), timeout=30)
    finally:
        stop_process(proc, group=True, timeout=0)
