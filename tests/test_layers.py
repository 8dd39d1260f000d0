"""Each top-level folder is one layer and imports point only downward.

    stepwise (CLI)  >  web  >  tasks  >  lms, worker  >  store  >  grader
                       migrations  >  store

Checked two ways: every import statement in the source (module level or inside a function, so a
function-level import cannot hide an upward edge), and each package imported in a fresh interpreter
(what a process really loads: the web process never loads the model runtime or torch).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAY_IMPORT = {
    "grader": set(),
    "store": {"grader"},
    "worker": {"grader", "store"},
    "lms": {"grader", "store"},
    "tasks": {"grader", "store", "worker", "lms"},
    "web": {"grader", "store", "worker", "lms", "tasks"},
    "migrations": {"store"},
    "stepwise": {"grader", "store", "worker", "lms", "tasks", "web", "migrations"},
}
# The `celery -A worker.app` target: a three-line shim that builds the app from tasks/ (an entry
# point sits at the top of the graph whatever folder it lives in).
ENTRY_POINTS = {"worker/app.py"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_import_points_upward():
    wrong = []
    for package, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ENTRY_POINTS:
                continue
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in MAY_IMPORT and top != package and top not in allowed:
                    wrong.append(f"{relative}:{line} imports {module} ({package} -> {top})")
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


FORBIDDEN_AT_RUNTIME = {
    "grader": {
        "flask",
        "celery",
        "sqlalchemy",
        "torch",
        "transformers",
        "store",
        "web",
        "tasks",
        "worker",
    },
    "store": {
        "flask",
        "celery",
        "torch",
        "transformers",
        "web",
        "tasks",
        "worker",
        "stepwise",
        "lms",
        "requests",  # no HTTP client in the storage layer
    },
    "lms": {"flask", "celery", "torch", "transformers", "web", "tasks", "worker", "stepwise"},
    "worker": {"flask", "torch", "transformers", "web", "tasks", "stepwise"},
    "tasks": {
        "flask",
        "torch",
        "transformers",
        "web",
        "stepwise",
        "worker.runtime",
        "worker.engine_hf",
    },
    "web": {
        "torch",
        "transformers",
        "stepwise",
        "worker.runtime",
        "worker.engine_hf",
        "worker.app",
    },
    "migrations": {"flask", "celery", "torch", "web", "tasks", "worker"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_AT_RUNTIME))
def test_a_fresh_interpreter_importing_the_package_loads_nothing_above_it(package):
    """Import the package and all its modules in a new process, then list what got loaded."""
    script = (
        "import importlib, json, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    if info.name not in SKIP:\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    ).replace("SKIP", repr(sorted(ENTRY_POINTS_MODULES | MODEL_MODULES)))
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    bad = sorted(
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_AT_RUNTIME[package])
    )
    assert not bad, f"importing {package} loaded {bad}"


ENTRY_POINTS_MODULES = {
    "worker.app",
    "migrations.env",
}  # migrations.env runs inside Alembic only
# Modules that exist to hold the model (they import torch on purpose); only the reasoning worker loads them.
MODEL_MODULES = {
    "worker.engine_hf",
    "worker.engine_vllm",
    "worker.runtime",
    "worker.evaluate",
}
