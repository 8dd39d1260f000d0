"""`stepwise` command line: run the service, workers, migrations, accounts and offline grading.

A click group: every subcommand takes its options in any order and `-h`/`--help`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from stepwise.lms_cli import lms
from stepwise.tokens_cli import tokens
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


def worker_command(
    queues: str, *, pool: str | None = None, concurrency: int | None = None, beat_schedule: str | None = None
) -> list[str]:
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", queues, "--loglevel", "INFO"]
    if beat_schedule:  # embedded beat: the sweeper runs without a separate process
        cmd += ["--beat", "--schedule", beat_schedule]
    cmd += ["-n", f"{queues.replace(',', '-')}@%h"]
    if pool:
        cmd += ["-P", pool]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    return cmd


# --- the group ------------------------------------------------------------------------------

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


class EnvironmentProblem(click.ClickException):
    """A problem with the input or the install (database, files), said in one line; exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


@click.group(context_settings=CONTEXT, help=__doc__.split("\n")[0])
@click.version_option(__import__("stepwise").__version__, "--version", prog_name="stepwise")
def cli() -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (so tests can call it), never shows a traceback for
    a problem of the environment (unreachable database, missing tables, unreadable file)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = cli.main(args=argv, prog_name="stepwise", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except SQLAlchemyError as exc:
        click.echo(f"error: the database is not usable: {_first_line(exc)}", err=True)
        click.echo("hint: set STEPWISE_DATABASE_URL, and run `stepwise db upgrade` once on a new database", err=True)
        return 1
    return result if isinstance(result, int) else 0


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def _app(settings: Settings | None = None):
    """The web app for a command that needs the database; refuses a database with no tables."""
    import migrations as migrate
    from web import create_app

    settings = settings or _settings()
    problem = migrate.not_ready(settings.database_url)  # never creates ./instance or a SQLite file
    if problem:
        raise EnvironmentProblem(problem)
    return create_app(settings)


def make_url_safe(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        return None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as a placeholder, never with its password
        return "(unparsable URL)"


# --- commands -------------------------------------------------------------------------------


@cli.command("db")
@click.argument("action", type=click.Choice(["upgrade", "downgrade", "current"]))
@click.argument("revision", required=False)
def cmd_db(action: str, revision: str | None) -> int:
    """Database migrations: upgrade [REV], downgrade [REV], current."""
    import migrations as migrate

    settings = _settings()
    if action == "upgrade":
        settings = settings.prepare_instance()
        migrate.upgrade(settings.database_url, revision or "head")
        click.echo(f"database at {migrate.current(settings.database_url)}")
    elif action == "downgrade":
        migrate.downgrade(settings.database_url, revision or "-1")
    else:
        click.echo(migrate.current(settings.database_url) or "empty")
    return 0


@cli.command("create-teacher")
@click.option("--email", required=True)
@click.option("--password", required=True, help="at least 10 characters, not a common password")
@click.option("--name", default="")
def cmd_create_teacher(email: str, password: str, name: str) -> int:
    """Create a teacher account; prints an API token as the last line."""
    from web.auth import create_teacher, find_teacher, password_problem

    problem = password_problem(password, email)
    if problem:
        raise EnvironmentProblem(f"password {problem}")
    app = _app()
    with app.app_context():
        if find_teacher(email) is not None:
            click.echo(f"error: a teacher with email {email} exists", err=True)
            return 1
        _, token = create_teacher(email, password, name)
    click.echo(f"created teacher {email}; API token (shown once):")
    click.echo(token)
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


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-worker", is_flag=True, help="do not start worker subprocesses")
@click.option("--no-demo", is_flag=True, help="do not create the demo teacher and sample")
def cmd_run(host: str, port: int, no_worker: bool, no_demo: bool) -> int:
    """Serve the dashboard and API, with workers (embedded defaults)."""
    import migrations as migrate

    settings = _settings().prepare_instance()
    migrate.upgrade(settings.database_url)
    if not no_demo:
        seed_demo(settings)
    workers, logs = [], Path(settings.instance_dir) / "logs"
    if not no_worker:
        env = _child_env(settings)
        # A local run uses the model if it is on disk; it never starts a multi-GB download.
        env.setdefault("STEPWISE_MODEL_LOCAL_ONLY", "1")
        logs.mkdir(parents=True, exist_ok=True)
        for queues, pool in (("grading,lms", None), ("reasoning", "solo")):
            with (logs / f"worker-{queues.split(',')[0]}.log").open("ab") as out:
                # Own session: a Ctrl+C or SIGTERM reaches only us, and we stop the workers in order
                # (signalling a worker's pool children directly can hang its warm shutdown).
                beat = None if pool else str(Path(settings.instance_dir) / "celerybeat-schedule")
                workers.append(
                    subprocess.Popen(
                        worker_command(queues, pool=pool, concurrency=None if pool else 2, beat_schedule=beat),
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
    url = f"http://{host}:{port}/"
    click.echo(f"\nStepwise is running at {url}")
    click.echo(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    click.echo(
        "Broker: " + ("Redis " + settings.redis_url if settings.redis_url else "embedded (SQLite, no Redis needed)")
    )
    if workers:
        click.echo(f"Worker logs: {logs}/worker-grading.log, worker-reasoning.log")
    click.echo("Press Ctrl+C to stop.\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        from waitress import serve

        from web import create_app

        serve(create_app(settings), host=host, port=port, threads=8, _quiet=True)
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


@cli.command("worker")
@click.option("--queues", "-Q", default="grading,lms", show_default=True, help="grading,lms (CPU) or reasoning (GPU)")
@click.option("--concurrency", "-c", type=int)
@click.option("--pool", "-P")
def cmd_worker(queues: str, concurrency: int | None, pool: str | None) -> int:
    """Run a Celery worker."""
    settings = _settings()
    pool = pool or ("solo" if queues == "reasoning" else None)
    cmd = worker_command(queues, pool=pool, concurrency=concurrency)
    if queues == "reasoning":
        cmd += ["--prefetch-multiplier", "1"]
    os.execvpe(cmd[0], cmd, _child_env(settings))
    return 0  # not reached


@cli.command("batch")
@click.argument("assignment", type=click.IntRange(1, 2**31 - 1), required=False)
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option(
    "--on-duplicate",
    type=click.Choice(["replace", "skip"]),
    default="replace",
    show_default=True,
    help="a student already uploaded: replace their answers, or skip them",
)
@click.option("--run", "run_now", is_flag=True, help="run the batch job now: references, grading, LMS passback")
@click.option("--wait", is_flag=True, help="with --run: wait, showing a progress bar with rate and time left")
def cmd_batch(assignment: int | None, file: str | None, on_duplicate: str, run_now: bool, wait: bool) -> int:
    """Store and queue a file of submissions (CSV or JSON) for an assignment (re-uploads replace or
    skip, never duplicate); with --run, run the overnight job now (over that assignment, or all)."""
    if assignment is None and not run_now:
        raise click.UsageError("give ASSIGNMENT FILE, or --run")
    if assignment is not None and file is None:
        raise click.UsageError("give the FILE of submissions after ASSIGNMENT")
    settings = _settings()
    app = _app(settings)
    with app.app_context():
        if file is not None:
            code = _store_batch_file(assignment, file, on_duplicate, queue=not run_now)
            if code:
                return code
        if run_now:
            return _run_batch(settings, assignment, wait=wait)
    return 0


def _store_batch_file(assignment: int, file: str, on_duplicate: str, *, queue: bool) -> int:
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
    from tasks import GRADE_TASK, send

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        return 2
    row = db.session.get(Assignment, assignment)
    if row is None:
        click.echo(f"error: no assignment {assignment}", err=True)
        return 1
    try:
        raw = read_submissions(data)
        parsed = []
        for i, s in enumerate(raw):
            if not isinstance(s, dict):
                raise IntakeError(f"submissions[{i}]", "must be an object")
            parsed.append(
                (
                    parse_student(s.get("student")),
                    parse_external_id(s.get("external_id")),
                    parse_answers(s.get("answers"), len(row.problems)),
                )
            )
    except IntakeError as exc:
        click.echo(f"error: {exc.field} {exc.message}", err=True)
        return 2
    report = store_upload(db.session, row, parsed, Source.batch, mode=on_duplicate)
    if queue:
        send(GRADE_TASK, report.to_grade)  # committed; a broker outage leaves them queued for the sweeper
    kept = len(report.unchanged) + len(report.skipped)
    extra = f"; {len(report.replaced)} replaced" if report.replaced else ""
    click.echo(
        f"{'queued' if queue else 'stored'} {len(report.to_grade)} new submission(s), {kept} already stored{extra}"
    )
    return 0


def _run_batch(settings: Settings, assignment_id: int | None, *, wait: bool) -> int:
    import time

    from store import batches
    from store.db import db
    from store.workflow import Batch
    from tasks.batch import advance_batch

    batch = batches.start_batch(db.session, trigger="cli", assignment_id=assignment_id)
    advance_batch(batch.id, settings)
    click.echo(f"batch {batch.id}: {batch.total} submission(s)")
    if not wait:
        return 0
    from tqdm import tqdm

    with tqdm(total=batch.total, unit="sub", desc=f"batch {batch.id}", file=sys.stderr) as bar:
        while True:
            db.session.expire_all()
            stage = advance_batch(batch.id, settings)  # drive it here too: beat need not be running
            state = batches.batch_json(db.session, db.session.get(Batch, batch.id))
            bar.update(state["total"] - state["pending"] - bar.n)
            bar.set_postfix(stage=stage, review=state["needs_review"], failed=state["failed"])
            if state["status"] == "done":
                break
            time.sleep(1.0)
    click.echo(
        f"batch {batch.id} done: {state['graded']} graded, {state['needs_review']} need review, "
        f"{state['failed']} failed"
    )
    return 0


@cli.command("beat")
def cmd_beat() -> int:
    """Run Celery beat: the nightly batch at STEPWISE_BATCH_AT, and the batch tick."""
    settings = _settings()
    schedule = Path(settings.instance_dir) / "celerybeat-schedule"
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", "INFO", "-s", str(schedule)]
    os.execvpe(cmd[0], cmd, _child_env(settings))
    return 0  # not reached


@cli.command("grade")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def cmd_grade(file: str, as_json: bool) -> int:
    """Grade a CSV or JSON file of submissions offline with the grader alone; print a table."""
    from stepwise.offline import grade_file

    return grade_file(Path(file), as_json=as_json)


@cli.command("requeue")
@click.option("--status", "statuses", multiple=True, help="statuses to send again (repeatable; default queued)")
@click.option("--references", is_flag=True, help="also retry model references (failed/unavailable)")
@click.argument("more_statuses", nargs=-1, metavar="[STATUS]...")
def cmd_requeue(statuses: tuple[str, ...], references: bool, more_statuses: tuple[str, ...]) -> int:
    """Queue again what is left waiting (safe at any time: every task claims its job row first, so
    nothing is graded twice), and with --references, model references that failed or found no model
    (after installing the weights). The sweeper on Celery beat does the same on its own."""
    from store.db import db
    from tasks.sweep import requeue

    wanted = [s for item in (*statuses, *more_statuses) for s in item.split(",") if s] or ["queued"]
    settings = _settings()
    app = _app(settings)
    with app.app_context():
        sent = requeue(db.session(), settings, statuses=tuple(wanted), references=references)
    click.echo(f"requeued {len(sent['grading'])} submission(s) and {len(sent['reasoning'])} reference solution(s)")
    return 0


def _pass_through(name: str, module: str, text: str) -> None:
    """A command whose options are parsed by its own module (`main(argv)`), in any order, `-h` included."""

    @cli.command(name, help=text, context_settings=PASS_THROUGH, add_help_option=False)
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def command(argv: tuple[str, ...]) -> int:
        import importlib

        try:
            return importlib.import_module(module).main(list(argv)) or 0
        except SystemExit as exc:  # argparse's -h and usage errors end here, with their status
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


_pass_through(
    "check", "grader.cli", "Check one answer against a reference; print JSON (STUDENT REFERENCE [--policy JSON])."
)
_pass_through(
    "eval-model", "worker.evaluate", "Run models over problems with known answers (--model A [--model B] FILE)."
)

cli.add_command(lms)
cli.add_command(tokens)


if __name__ == "__main__":
    sys.exit(main())
