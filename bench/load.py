"""Load against the production-like stack on this machine: waitress serving the app, a Celery grading
worker, Postgres and Redis. Prints intake requests/s and p50/p99 latency, submit-to-graded p50/p99,
an exactly-once check, and two baselines measured in the same run: a trivial route (`/healthz`, one
`SELECT 1`) and a Celery round trip through the broker (`control.ping`).

    python bench/load.py [--submissions 300] [--clients 8] [--answers 20]

Uses a fresh database on STEPWISE_BENCH_PG (default: the local server) and a claimed empty Redis
database; drops and releases both at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PG_ADMIN = os.environ.get("STEPWISE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def post(url: str, body: dict, token: str) -> tuple[int, float, dict]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        payload = json.loads(resp.read())
        return resp.status, time.perf_counter() - started, payload


def get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        resp.read()
    return time.perf_counter() - started


def run_clients(n_clients: int, jobs: list, work) -> tuple[list, float]:
    results, lock = [], threading.Lock()
    queue = list(jobs)

    def client():
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            out = work(item)
            with lock:
                results.append(out)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--answers", type=int, default=20)
    args = parser.parse_args()

    from private_services import free_port
    from sqlalchemy import create_engine, func, select, text
    from support import private_redis_db, start_worker, stop_worker, wait_for, worker_env

    import migrations
    from store.db import db
    from store.models import Job, Submission
    from store.settings import Settings

    name = f"stepwise_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    server = worker = None
    tmp = Path(f"/tmp/{name}")
    tmp.mkdir()
    try:
        migrations.upgrade(url)
        with private_redis_db() as redis_url:
            settings = Settings(
                database_url=url, redis_url=redis_url, secret_key="b" * 48, instance_dir=str(tmp), model_enabled=False
            )
            from web import create_app
            from web.auth import create_teacher

            app = create_app(settings)
            with app.app_context():
                _, token = create_teacher("bench@school.test", "a long bench password 9")
            port = free_port()
            env = worker_env(settings)
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from waitress import serve; from web import create_app; "
                    f"serve(create_app(), host='127.0.0.1', port={port}, threads=8, _quiet=True)",
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _up(base), timeout=60)
            worker = start_worker(env, "grading,lms", tmp / "worker.log")
            celery = app.extensions["celery"]

            # Baselines, same run.
            trivial, trivial_s = run_clients(args.clients, range(args.submissions), lambda _i: get(base + "/healthz"))
            pings = []
            for _ in range(50):
                started = time.perf_counter()
                assert celery.control.ping(timeout=2.0, limit=1)
                pings.append(time.perf_counter() - started)

            body = {
                "title": "Load",
                "problems": [{"statement": f"{i} + {i}", "answer": str(2 * i)} for i in range(1, args.answers + 1)],
            }
            _, _, assignment = post(base + "/api/v1/assignments", body, token)
            submit_url = f"{base}/api/v1/assignments/{assignment['id']}/submissions"

            def submit(i: int):
                answers = [
                    {"problem": p, "answer": str(2 * p if (i + p) % 4 else p)} for p in range(1, args.answers + 1)
                ]
                return post(submit_url, {"student": f"S{i}", "answers": answers}, token)

            intake, intake_s = run_clients(args.clients, range(args.submissions), submit)
            accepted = [payload["id"] for status, _lat, payload in intake if status == 202]
            with app.app_context():

                def all_graded():
                    db.session.rollback()
                    return db.session.scalar(
                        select(func.count()).select_from(Submission).where(Submission.status == "graded")
                    ) == len(accepted)

                wait_for(all_graded, timeout=900, interval=0.5)
                rows = db.session.execute(select(Submission.created_at, Submission.graded_at)).all()
                done = Counter(db.session.scalars(select(Job.subject_id).where(Job.status == "done")))
            to_graded = [(g - c).total_seconds() for c, g in rows]
            latencies = [lat for _s, lat, _p in intake]
            once = set(done) == set(accepted) and set(done.values()) == {1}
            report = {
                "stack": "postgres+redis",
                "submissions": len(accepted),
                "answers_each": args.answers,
                "clients": args.clients,
                "intake_rps": round(len(intake) / intake_s, 1),
                "intake_p50_ms": round(1000 * pct(latencies, 0.5), 1),
                "intake_p99_ms": round(1000 * pct(latencies, 0.99), 1),
                "submit_to_graded_p50_ms": round(1000 * pct(to_graded, 0.5), 1),
                "submit_to_graded_p99_ms": round(1000 * pct(to_graded, 0.99), 1),
                "graded_exactly_once": once,
                "baseline_trivial_route_rps": round(len(trivial) / trivial_s, 1),
                "baseline_trivial_route_p50_ms": round(1000 * statistics.median(trivial), 1),
                "baseline_celery_round_trip_p50_ms": round(1000 * statistics.median(pings), 1),
            }
            report["intake_vs_trivial_route"] = round(report["intake_rps"] / report["baseline_trivial_route_rps"], 3)
            print(json.dumps(report, indent=2))
            return 0 if once else 1
    finally:
        if worker is not None:
            stop_worker(worker)
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _up(base: str) -> bool:
    try:
        return get(base + "/healthz") >= 0
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
