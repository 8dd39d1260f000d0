"""gunicorn settings for the `web` service: `gunicorn -c python:web.gunicorn_conf 'web:create_app()'`.

Several worker processes (WEB_CONCURRENCY, default 2 per core) with a few threads each: request
handling is CPU-bound Python (JSON validation, SQLAlchemy), so processes use every core where one
waitress process is held to one core by the GIL. Metrics from all processes are summed through
prometheus-client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR), emptied at start.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
forwarded_allow_ips = "*"  # TLS terminates at the proxy; STEPWISE_PROXY_HOPS decides what is trusted


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
