"""Load against the stacks Stepwise ships, on this machine, with the baselines measured in the same run.

    python bench/load.py [--stack both|production|embedded] [--submissions 600] [--clients 8]
                         [--answers 20] [--paced 60] [--web-workers 3] [--json-out FILE]

* production: gunicorn (web/gunicorn_conf.py, `--web-workers` processes) on Postgres (a fresh
  database on STEPWISE_BENCH_PG, default the local server) and Redis (a claimed empty database),
  a Celery grading worker with 2 processes: what docker-compose.yml runs.
* embedded: `stepwise run` itself (what `make run` starts): waitress, SQLite, the SQLite broker
  and its worker, in a fresh instance directory.

For each stack it prints:
* intake: `--submissions` POSTs of `--answers` answers from `--clients` keep-alive clients, as
  fast as the server takes them: requests/s, p50/p99 latency; beside a trivial route (`/healthz`,
  one `SELECT 1`) under the same load: the ratio says what intake costs over a bare request;
* submit to graded: `--paced` submissions sent one at a time, each waited for: p50/p99 from the
  server's stored time to its graded time; beside a Celery no-op round trip (a grading task whose
  job is already done: one SELECT) through the same broker and worker;
* exactly once: every accepted submission has one job, finished once, and one grade per answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PG_ADMIN = os.environ.get("STEPWISE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "a long bench password 9"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Client:
    """One keep-alive HTTP connection (what an LMS or a script posting many submissions holds)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, float, bytes]:
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, time.perf_counter() - started, payload

    def close(self) -> None:
        self.conn.close()


def hammer(port: int, token: str, clients: int, jobs: list, work) -> tuple[list, float]:
    """Run `work(client, job)` for every job from `clients` threads; returns results and seconds."""
    results, lock, queue = [], threading.Lock(), list(jobs)

    def run():
        client = Client(port, token)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                out = work(client, job)
                with lock:
                    results.append(out)
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


# --- the stacks -----------------------------------------------------------------------------


class Stack:
    name = ""
    settings = None
    port = 0
    worker_log: Path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None: ...


class Production(Stack):
    name = "production (gunicorn, Postgres, Redis, Celery)"

    def __init__(self, tmp: Path, web_workers: int) -> None:
        from private_services import free_port
        from sqlalchemy import create_engine, text
        from support import private_redis_db, start_worker, wait_for, worker_env

        import migrations
        from store.settings import Settings

        self.procs: list[subprocess.Popen] = []
        self.db_name = f"stepwise_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name
        migrations.upgrade(url)
        self._redis = private_redis_db()
        redis_url = self._redis.__enter__()
        self.settings = Settings(
            database_url=url, redis_url=redis_url, secret_key="b" * 48, instance_dir=str(tmp), model_enabled=False
        )
        self.port = free_port()
        env = worker_env(self.settings, WEB_CONCURRENCY=web_workers, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=(tmp / "web.log").open("wb"),
            )
        )
        self.worker_log = tmp / "worker.log"
        self.procs.append(start_worker(env, "grading,lms", self.worker_log))
        wait_for(lambda: _up(self.port), timeout=60)

    def close(self) -> None:
        from sqlalchemy import text
        from support import stop_worker

        from store.db import db

        for proc in reversed(self.procs):
            stop_worker(proc)
        db.dispose()
        self._redis.__exit__(None, None, None)
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin.dispose()


class Embedded(Stack):
    name = "embedded (`stepwise run`: waitress, SQLite, SQLite broker)"

    def __init__(self, tmp: Path, _web_workers: int) -> None:
        from private_services import free_port
        from support import wait_for

        from store.settings import Settings

        self.settings = Settings(
            database_url=f"sqlite:///{tmp / 'stepwise.sqlite'}",
            secret_key="b" * 48,
            instance_dir=str(tmp),
            model_enabled=False,
        )
        self.port = free_port()
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            STEPWISE_INSTANCE_DIR=str(tmp),
            STEPWISE_DATABASE_URL=self.settings.database_url,
            STEPWISE_SECRET_KEY=self.settings.secret_key,
            STEPWISE_MODEL_ENABLED="0",
        )
        env.pop("STEPWISE_REDIS_URL", None)
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "stepwise"), "run", "--no-demo", "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=(tmp / "run.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.worker_log = tmp / "logs" / "worker-grading.log"
        wait_for(lambda: _up(self.port) and self.worker_log.exists() and b" ready." in self.worker_log.read_bytes(), 90)

    def close(self) -> None:
        from store.db import db

        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        db.dispose()


def _up(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


# --- the measurements -----------------------------------------------------------------------


def measure(stack: Stack, args) -> dict:
    from sqlalchemy import func, select
    from support import wait_for

    from store.db import db
    from store.models import Answer, Grade, Job, Submission
    from tasks import GRADE_TASK
    from web import create_app
    from web.auth import create_teacher

    app = create_app(stack.settings)
    with app.app_context():
        _, token = create_teacher(f"bench{secrets.token_hex(3)}@school.test", PASSWORD)
    setup = Client(stack.port, token)
    body = {
        "title": "Load",
        "problems": [{"statement": f"{i} + {i}", "answer": str(2 * i)} for i in range(1, args.answers + 1)],
    }
    status, _, raw = setup.request("POST", "/api/v1/assignments", body)
    assert status == 201, raw
    submit_path = f"/api/v1/assignments/{json.loads(raw)['id']}/submissions"

    def submission(i: int) -> dict:
        answers = [{"problem": p, "answer": str(2 * p if (i + p) % 4 else p)} for p in range(1, args.answers + 1)]
        return {"student": f"S{i}", "answers": answers}

    def submit(client: Client, i: int):
        status, latency, raw = client.request("POST", submit_path, submission(i))
        return status, latency, json.loads(raw)

    def trivial(client: Client, _i: int):
        return client.request("GET", "/healthz")

    def graded(ids: list[int]) -> bool:
        with app.app_context():
            db.session.rollback()
            query = select(func.count()).select_from(Submission).where(Submission.id.in_(ids))
            return db.session.scalar(query.where(Submission.status == "graded")) == len(ids)

    # Warm every server process and worker (first requests import and connect).
    hammer(stack.port, token, args.clients, range(4 * args.clients), trivial)
    warm, _ = hammer(stack.port, token, args.clients, range(-4 * args.clients, 0), submit)
    wait_for(lambda: graded([p["id"] for _s, _l, p in warm]), timeout=120, interval=0.2)

    # Baseline 1: a trivial route under the same load.
    base, base_s = hammer(stack.port, token, args.clients, range(args.submissions), trivial)
    # Intake: as fast as the server takes them (and where the CPU went meanwhile).
    cpu_before = cpu_by_role()
    intake, intake_s = hammer(stack.port, token, args.clients, range(args.submissions), submit)
    cpu_after = cpu_by_role()
    accepted = [p["id"] for s, _l, p in intake if s == 202]
    drain_started = time.perf_counter()
    wait_for(lambda: graded(accepted), timeout=900, interval=0.25)
    drain_s = time.perf_counter() - drain_started + intake_s

    # Baseline 2: a Celery no-op round trip through the same broker and worker.
    celery = app.extensions["celery"]
    done_id = accepted[0]
    trips = []
    for _ in range(args.paced // 2 or 1):
        task_id = str(uuid.uuid4())
        started = time.perf_counter()
        celery.send_task(GRADE_TASK, args=[done_id], task_id=task_id)
        _await_log(stack.worker_log, f"[{task_id}] succeeded")  # Celery's own trace line
        trips.append(time.perf_counter() - started)

    # Submit to graded, one at a time.
    one = Client(stack.port, token)
    paced_ids, seen = [], []
    for i in range(args.paced):
        started = time.perf_counter()
        status, _lat, payload = submit(one, 10_000 + i)
        assert status == 202, payload
        wait_for(lambda sid=payload["id"]: graded([sid]), timeout=60, interval=0.002)
        seen.append(time.perf_counter() - started)
        paced_ids.append(payload["id"])
    one.close()
    setup.close()

    with app.app_context():
        rows = db.session.execute(
            select(Submission.id, Submission.created_at, Submission.graded_at).where(Submission.id.in_(paced_ids))
        ).all()
        everyone = [p["id"] for _s, _l, p in warm] + accepted + paced_ids
        jobs = Counter(db.session.scalars(select(Job.subject_id).where(Job.subject_id.in_(everyone))))
        done = Counter(
            db.session.scalars(select(Job.subject_id).where(Job.status == "done", Job.subject_id.in_(everyone)))
        )
        grades = db.session.scalar(
            select(func.count()).select_from(Grade).join(Answer).where(Answer.submission_id.in_(everyone))
        )
        db.session.remove()
    # One job per submission, finished once (a second grading needs a second job or a second
    # settle of the same one, which its guard refuses), and one grade per answer.
    once = all(jobs[s] == 1 and done[s] == 1 for s in everyone) and grades == len(everyone) * args.answers
    to_graded = [(g - c).total_seconds() for _id, c, g in rows]
    latencies = [lat for _s, lat, _p in intake]
    report = {
        "stack": stack.name,
        "submissions": len(accepted),
        "rejected": len(intake) - len(accepted),
        "answers_each": args.answers,
        "clients": args.clients,
        "intake_rps": round(len(intake) / intake_s, 1),
        "intake_p50_ms": round(1000 * pct(latencies, 0.5), 1),
        "intake_p99_ms": round(1000 * pct(latencies, 0.99), 1),
        "baseline_trivial_route_rps": round(len(base) / base_s, 1),
        "baseline_trivial_route_p99_ms": round(1000 * pct([lat for _s, lat, _b in base], 0.99), 1),
        "backlog_graded_s": round(drain_s, 2),
        "submit_to_graded_p50_ms": round(1000 * pct(to_graded, 0.5), 1),
        "submit_to_graded_p99_ms": round(1000 * pct(to_graded, 0.99), 1),
        "client_seen_graded_p50_ms": round(1000 * pct(seen, 0.5), 1),
        "baseline_celery_noop_round_trip_p50_ms": round(1000 * statistics.median(trips), 1),
        "graded_exactly_once": once,
    }
    report["intake_cpu_seconds"] = {k: round(cpu_after.get(k, 0) - cpu_before.get(k, 0), 2) for k in cpu_after}
    report["intake_vs_trivial_route"] = round(report["intake_rps"] / report["baseline_trivial_route_rps"], 3)
    report["submit_to_graded_vs_celery_noop"] = round(
        report["submit_to_graded_p50_ms"] / report["baseline_celery_noop_round_trip_p50_ms"], 2
    )
    return report


def cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by each kind of process on this machine (from /proc): the web
    server, the Celery worker, Postgres, Redis, and this benchmark's clients."""
    tick = os.sysconf("SC_CLK_TCK")
    roles: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = (
            "bench_clients"
            if int(entry.name) == os.getpid()
            else "web"
            if "gunicorn" in cmd or " run --no-demo" in cmd
            else "worker"
            if "celery" in cmd
            else "postgres"
            if "postgres" in cmd
            else "redis"
            if "redis-server" in cmd
            else None
        )
        if role:
            roles[role] = roles.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return roles


def _await_log(path: Path, needle: str, timeout: float = 30.0) -> None:
    deadline, needle_b = time.monotonic() + timeout, needle.encode()
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = handle.read()
            if chunk:
                buffer = (buffer + chunk)[-65536:]
                if needle_b in buffer:
                    return
            else:
                time.sleep(0.001)
    raise AssertionError(f"{needle} not logged within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", choices=("both", "production", "embedded"), default="both")
    parser.add_argument("--submissions", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--paced", type=int, default=60, help="submissions sent one at a time")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn processes (production)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    stacks = {"production": Production, "embedded": Embedded}
    chosen = list(stacks) if args.stack == "both" else [args.stack]
    reports = []
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"stepwise-load-{name}-") as tmp:
            with stacks[name](Path(tmp), args.web_workers) as stack:
                report = measure(stack, args)
        print(json.dumps(report, indent=2), flush=True)
        reports.append(report)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(reports, indent=2))
    return 0 if all(r["graded_exactly_once"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
