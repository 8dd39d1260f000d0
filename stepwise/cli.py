"""`stepwise` command line: run the service, workers, migrations, accounts and offline grading."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from store.settings import Settings

SAMPLE = Path(__file__).resolve().parent / "samples" / "algebra.json"
DEMO_EMAIL = "demo@stepwise.local"
DEMO_PASSWORD = "stepwise-demo"


def _settings() -> Settings:
    return Settings.from_env()


def _child_env(settings: Settings) -> dict[str, str]:
    """Environment for worker subprocesses: the resolved settings, so both sides agree."""
    env = dict(os.environ)
    env["STEPWISE_DATABASE_URL"] = settings.database_url
    env["STEPWISE_INSTANCE_DIR"] = settings.instance_dir
    env["STEPWISE_SECRET_KEY"] = settings.secret_key
    if settings.redis_url:
        env["STEPWISE_REDIS_URL"] = settings.redis_url
    return env


def worker_command(queues: str, *, pool: str | None = None, concurrency: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", queues, "--loglevel", "INFO"]
    cmd += ["-n", f"{queues.replace(',', '-')}@%h"]
    if pool:
        cmd += ["-P", pool]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    return cmd


# --- commands -------------------------------------------------------------------------------


def cmd_db(args) -> int:
    from store import migrate

    settings = _settings()
    if args.action == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
        print(f"database at {migrate.current(settings.database_url)}")
    elif args.action == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "-1")
    else:
        print(migrate.current(settings.database_url) or "empty")
    return 0


def cmd_create_teacher(args) -> int:
    from web import create_app
    from web.auth import create_teacher, find_teacher

    app = create_app(_settings())
    with app.app_context():
        if find_teacher(args.email) is not None:
            print(f"error: a teacher with email {args.email} exists", file=sys.stderr)
            return 1
        _, token = create_teacher(args.email, args.password, args.name or "")
    print(f"created teacher {args.email}; API token (shown once):")
    print(token)
    return 0


def seed_demo(settings: Settings) -> None:
    """The demo teacher and the sample assignment with three students, once."""
    from store.batchfile import read_submissions
    from store.intake import parse_answers, parse_problems
    from store.models import Source
    from web import create_app
    from web.auth import create_teacher, find_teacher
    from web.intake import submit_answers, submit_assignment

    app = create_app(settings)
    with app.app_context():
        if find_teacher(DEMO_EMAIL) is not None:
            return
        teacher, _ = create_teacher(DEMO_EMAIL, DEMO_PASSWORD, "Demo Teacher")
        doc = json.loads(SAMPLE.read_text())
        assignment = submit_assignment(teacher, doc["title"], parse_problems(doc["problems"]), settings)
        for sub in read_submissions(SAMPLE.read_text()):
            answers = parse_answers(sub["answers"], len(assignment.problems))
            submit_answers(assignment, sub["student"], answers, Source.batch)


def cmd_run(args) -> int:
    from store import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url)
    if not args.no_demo:
        seed_demo(settings)
    workers, logs = [], Path(settings.instance_dir) / "logs"
    if not args.no_worker:
        env = _child_env(settings)
        # A local run uses the model if it is on disk; it never starts a multi-GB download.
        env.setdefault("STEPWISE_MODEL_LOCAL_ONLY", "1")
        logs.mkdir(parents=True, exist_ok=True)
        for queues, pool in (("grading,lms", None), ("reasoning", "solo")):
            with (logs / f"worker-{queues.split(',')[0]}.log").open("ab") as out:
                # Own session: a Ctrl+C or SIGTERM reaches only us, and we stop the workers in order
                # (signalling a worker's pool children directly can hang its warm shutdown).
                workers.append(subprocess.Popen(worker_command(queues, pool=pool, concurrency=None if pool else 2),
                                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True))
    url = f"http://{args.host}:{args.port}/"
    print(f"\nStepwise is running at {url}")
    print(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    print("Broker: " + ("Redis " + settings.redis_url if settings.redis_url else "embedded (SQLite, no Redis needed)"))
    if workers:
        print(f"Worker logs: {logs}/worker-grading.log, worker-reasoning.log")
    print("Press Ctrl+C to stop.\n", flush=True)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        from waitress import serve

        from web import create_app

        serve(create_app(settings), host=args.host, port=args.port, threads=8, _quiet=True)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop_workers(workers)
    return 0


def _exit_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(0)


def stop_workers(workers: list[subprocess.Popen], grace: float = 20.0) -> None:
    """Warm shutdown for each worker, then kill whatever is left of its process group."""
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # pool children that outlived their parent
        except ProcessLookupError:
            pass
        proc.wait()


def cmd_worker(args) -> int:
    settings = _settings()
    pool = args.pool or ("solo" if args.queues == "reasoning" else None)
    cmd = worker_command(args.queues, pool=pool, concurrency=args.concurrency)
    if args.queues == "reasoning":
        cmd += ["--prefetch-multiplier", "1"]
    os.execvpe(cmd[0], cmd, _child_env(settings))
    return 0  # not reached


def cmd_batch(args) -> int:
    """`batch ASSIGNMENT FILE`: store a file of submissions and queue them (re-uploads replace or
    skip, never duplicate). `batch --run [--wait]`: run the overnight job now (see tasks/batch.py)."""
    if args.assignment is None and not args.run:
        print("error: give ASSIGNMENT FILE, or --run", file=sys.stderr)
        return 2
    from web import create_app

    settings = _settings()
    app = create_app(settings)
    with app.app_context():
        if args.assignment is not None:
            code = _store_batch_file(args, queue=not args.run)
            if code:
                return code
        if args.run:
            return _run_batch(settings, args.assignment, wait=args.wait)
    return 0


def _store_batch_file(args, *, queue: bool) -> int:
    from store.batchfile import read_submissions
    from store.db import db
    from store.intake import (
        IntakeError,
        parse_answers,
        parse_external_id,
        parse_student,
    )
    from store.models import Assignment, Source
    from store.uploads import store_upload
    from tasks import enqueue_grading
    from web.intake import _dispatch

    if args.file is None:
        print("error: give the FILE of submissions after ASSIGNMENT", file=sys.stderr)
        return 2
    assignment = db.session.get(Assignment, args.assignment)
    if assignment is None:
        print(f"error: no assignment {args.assignment}", file=sys.stderr)
        return 1
    try:
        raw = read_submissions(Path(args.file).read_bytes())
        parsed = [
            (parse_student(s.get("student")), parse_external_id(s.get("external_id")),
             parse_answers(s.get("answers"), len(assignment.problems)))
            for s in raw
        ]
    except IntakeError as exc:
        print(f"error: {exc.field} {exc.message}", file=sys.stderr)
        return 2
    report = store_upload(db.session, assignment, parsed, Source.batch, mode=args.on_duplicate)
    if queue:
        for sid in report.to_grade:
            _dispatch(enqueue_grading, sid, "submission")
    kept = len(report.unchanged) + len(report.skipped)
    extra = f"; {len(report.replaced)} replaced" if report.replaced else ""
    print(f"{'queued' if queue else 'stored'} {len(report.to_grade)} new submission(s), {kept} already stored{extra}")
    return 0


def _run_batch(settings: Settings, assignment_id: int | None, *, wait: bool) -> int:
    import time

    from store import batches
    from store.db import db
    from tasks.batch import advance_batch

    batch = batches.start_batch(db.session, trigger="cli", assignment_id=assignment_id)
    advance_batch(batch.id, settings)
    print(f"batch {batch.id}: {batch.total} submission(s)", flush=True)
    if not wait:
        return 0
    from tqdm import tqdm

    with tqdm(total=batch.total, unit="sub", desc=f"batch {batch.id}", file=sys.stderr) as bar:
        while True:
            db.session.expire_all()
            stage = advance_batch(batch.id, settings)  # drive it here too: beat need not be running
            state = batches.batch_json(db.session, db.session.get(type(batch), batch.id))
            bar.update(state["total"] - state["pending"] - bar.n)
            bar.set_postfix(stage=stage, review=state["needs_review"], failed=state["failed"])
            if state["status"] == "done":
                break
            time.sleep(1.0)
    print(f"batch {batch.id} done: {state['graded']} graded, {state['needs_review']} need review, "
          f"{state['failed']} failed")
    return 0


def cmd_beat(args) -> int:
    """Celery beat: the nightly batch at STEPWISE_BATCH_AT and the batch tick."""
    settings = _settings()
    schedule = Path(settings.instance_dir) / "celerybeat-schedule"
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", "INFO", "-s", str(schedule)]
    os.execvpe(cmd[0], cmd, _child_env(settings))
    return 0  # not reached


def cmd_grade(args) -> int:
    from stepwise.offline import grade_file

    return grade_file(Path(args.file), as_json=args.json)


def cmd_requeue(args) -> int:
    """Queue again what is left waiting: submissions after a broker outage, and with
    `--references`, model references that failed or found no model (after installing the weights)."""
    from sqlalchemy import select

    from store.db import db
    from store.models import ReferenceSolution, ReferenceStatus, Submission
    from tasks import enqueue_grading, enqueue_reasoning
    from web import create_app

    app = create_app(_settings())
    with app.app_context():
        references = []
        if args.references:
            stuck = (ReferenceStatus.failed.value, ReferenceStatus.unavailable.value, ReferenceStatus.pending.value)
            for ref in db.session.scalars(select(ReferenceSolution).where(ReferenceSolution.status.in_(stuck))):
                ref.status, ref.error = ReferenceStatus.pending.value, None
                references.append(ref.id)
            db.session.commit()
        ids = db.session.scalars(select(Submission.id).where(Submission.status.in_(args.status))).all()
        for reference_id in references:
            enqueue_reasoning(reference_id)
        for sid in ids:
            enqueue_grading(sid)
    print(f"requeued {len(ids)} submission(s) and {len(references)} reference solution(s)")
    return 0


def _delegate(module: str, argv: list[str]) -> int:
    import importlib

    return importlib.import_module(module).main(argv) or 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stepwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="serve the dashboard and API, with workers (embedded defaults)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true", help="do not start worker subprocesses")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo teacher and sample")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="run a Celery worker")
    p.add_argument("--queues", "-Q", default="grading,lms", help="grading,lms (CPU) or reasoning (GPU)")
    p.add_argument("--concurrency", "-c", type=int)
    p.add_argument("--pool", "-P")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade", "downgrade", "current"])
    p.add_argument("revision", nargs="?")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("create-teacher", help="create a teacher account; prints an API token last")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name")
    p.set_defaults(func=cmd_create_teacher)

    p = sub.add_parser("grade", help="grade a CSV or JSON file of submissions offline, print a table")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("batch", help="store and queue a file of submissions; --run: the overnight job now")
    p.add_argument("assignment", type=int, nargs="?")
    p.add_argument("file", nargs="?")
    p.add_argument("--on-duplicate", choices=["replace", "skip"], default="replace",
                   help="a student already uploaded: replace their answers (default) or skip them")
    p.add_argument("--run", action="store_true",
                   help="run the batch job now: references, then grading, then LMS passback")
    p.add_argument("--wait", action="store_true", help="with --run: wait, showing a progress bar")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("beat", help="run Celery beat (nightly batch at STEPWISE_BATCH_AT, batch tick)")
    p.set_defaults(func=cmd_beat)

    p = sub.add_parser("requeue", help="queue again submissions left waiting")
    p.add_argument("--status", nargs="+", default=["queued"])
    p.add_argument("--references", action="store_true", help="also retry model references (failed/unavailable)")
    p.set_defaults(func=cmd_requeue)

    for name, module, text in (
        ("check", "grader.cli", "check one answer against a reference, print JSON"),
        ("eval-model", "worker.evaluate", "run models over problems with known answers"),
        ("lms", "stepwise.lms_cli", "manage LMS integrations"),
    ):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=lambda a, m=module: _delegate(m, a.rest))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
