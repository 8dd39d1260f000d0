"""An installed Stepwise works without a checkout: `pip install .` into a fresh venv, then
`stepwise db upgrade` and `stepwise run` in an empty directory (the migrations ship inside the
package). Offline: the wheel is built and installed with --no-deps/--no-index, and the fresh venv
borrows the dependencies already installed next to the test interpreter."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from private_services import free_port
from support import ROOT, stop_process, wait_for

pytestmark = pytest.mark.slow


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the Stepwise wheel (dependencies borrowed through a .pth file)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"  # build from a copy: an in-tree build would leave build/ in the checkout
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "__pycache__",
            "instance",
            "*.egg-info",
            "build",
            "dist",
            "node_modules",
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp / "dist").glob("stepwise-*.whl"))
    venv = tmp / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    target = Path(
        subprocess.run(
            [
                str(python),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (target / "_borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def test_the_wheel_holds_the_migrations_and_imports_from_itself(installed, tmp_path):
    out = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import migrations, stepwise, web; print(migrations.MIGRATIONS); print(web.__file__)",
        ],
        cwd=tmp_path,
        env=_clean_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    migrations_dir, web_file = out.stdout.split()
    assert migrations_dir.startswith(str(installed)) and web_file.startswith(str(installed))
    assert (Path(migrations_dir) / "env.py").exists() and list((Path(migrations_dir) / "versions").glob("0001_*.py"))


def test_db_upgrade_then_run_serve_in_an_empty_directory(installed, tmp_path):
    stepwise = str(installed / "bin" / "stepwise")
    env = _clean_env()
    upgrade = subprocess.run(
        [stepwise, "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert (tmp_path / "instance" / "stepwise.sqlite").exists()
    port = free_port()
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            [stepwise, "run", "--port", str(port), "--no-worker"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def serving():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    return resp.status == 200
            except OSError:
                return proc.poll() is not None

        wait_for(serving, timeout=120, interval=0.5)
        assert proc.poll() is None, (tmp_path / "run.log").read_text()
    finally:
        stop_process(proc, group=True, term_group=False, timeout=30)


def test_a_command_where_there_is_no_database_says_so_and_creates_nothing(installed, tmp_path):
    out = subprocess.run(
        [str(installed / "bin" / "stepwise"), "requeue"],
        cwd=tmp_path,
        env=_clean_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "stepwise db upgrade" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "instance").exists()
