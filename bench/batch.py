"""Overnight batch throughput: a synthetic class through the real queue, with and without grouping.

    PYTHONPATH=. .venv/bin/python bench/batch.py [--stack both] [--students 300] [--problems 20]
                                                 [--concurrency 2]

Builds a class (default 300 students x 20 problems, keys given) whose answers repeat the way a
real class's do (a few spellings of the right answer, a few common mistakes, some one-off
answers, working shown by some), stores it three times in a throwaway database, and grades it
three ways through the broker and a real Celery worker with 2 processes (a fresh, cold worker and
no shared verdicts each time):

* the regular queue: one `stepwise.grading.grade_submission` task per submission (what intake sends);
* without grouping: one task per submission, every answer checked (STEPWISE_BATCH_GROUPING=0);
* with grouping: tasks of STEPWISE_BATCH_CHUNK submissions, each distinct (problem, answer, work)
  checked once and its verdict copied to every student who wrote it.

Prints answers/s for each, their ratios, and checks that all runs gave every answer the same grade.
`--stack` picks where: `production` (Postgres on STEPWISE_BENCH_PG, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres, and Redis on STEPWISE_TEST_REDIS, default
redis://127.0.0.1:6379, an empty database claimed), `embedded` (what `make run` uses: SQLite and
the SQLite broker, no Redis) or `both` (the default). Targets: the class in under 10 s on
Postgres + Redis and under 30 s on the embedded default.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PG_ADMIN = os.environ.get("STEPWISE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# (key, right spellings, common mistakes): what a class of 15-year-olds writes.
PROBLEMS = [
    ("x = 3", ["x=3", "x = 3", "3", "x=3.0"], ["x=-3", "x=1/3", "x=9"]),
    ("1/2", ["1/2", "0.5", "2/4", ".5"], ["1/3", "2", "0.2"]),
    ("(x+1)^2", ["(x+1)^2", "(x + 1)^2", "(1+x)^2"], ["x^2+1", "(x-1)^2", "x^2+2x+1"]),
    ("x = 2 or x = -2", ["x=2 or x=-2", "x = ±2", "±2", "x=-2, x=2"], ["x=2", "2", "x=4"]),
    ("12", ["12", "12.0", "twelve"], ["13", "11", "-12"]),
    ("5/6", ["5/6", "10/12"], ["0.83", "1", "5/12", "6/5"]),
    ("3x^2", ["3x^2", "3*x^2", "3 x^2"], ["3x", "x^3", "6x"]),
    ("-1", ["-1", "-1.0", "−1"], ["1", "0", "-2"]),
    ("pi", ["pi", "π"], ["3.14", "3.1416", "2pi"]),
    ("sqrt(2)", ["sqrt(2)", "√2", "2^(1/2)"], ["1.41", "2", "sqrt(3)"]),
    ("x > 3", ["x>3", "x > 3", "3 < x"], ["x<3", "x>=3", "x>-3"]),
    ("(2, 3)", ["(2, 3)", "(2,3)"], ["(3, 2)", "(2, -3)", "2, 3"]),
    ("7", ["7", "7.0", "seven"], ["-7", "8", "49"]),
    ("2x + 1", ["2x+1", "1 + 2x", "2*x + 1"], ["2x", "x+1", "2x-1"]),
    ("0.25", ["0.25", "1/4", "25%"], ["0.4", "4", "2.5"]),
    ("x = 5", ["x=5", "5", "x = 5"], ["x=-5", "x=25", "x=1/5"]),
    ("e^2", ["e^2", "exp(2)"], ["2e", "e", "7.39"]),
    ("4", ["4", "4.0", "+4"], ["-4", "16", "2"]),
    ("[1, 3]", ["[1, 3]", "[1,3]"], ["(1, 3)", "[1, 3)", "[3, 1]"]),
    ("2/3", ["2/3", "4/6"], ["0.66", "3/2", "0.6"]),
]
WORK = [["2x + 1 = 7", "2x = 6", "x = 3"], ["2x + 1 = 7", "2x = 8", "x = 4"], ["x + 1 = 4", "x = 3"]]


def synthetic_class(students: int, problems: int, seed: int = 20261130) -> list[list[tuple[str, list[str]]]]:
    """answers[student][problem] = (text, work lines): right 65%, a common mistake 27%, one-off 8%."""
    rng = random.Random(seed)
    out = []
    for _ in range(students):
        row = []
        for p in range(problems):
            _key, right, wrong = PROBLEMS[p % len(PROBLEMS)]
            roll = rng.random()
            if roll < 0.65:
                text = right[min(int(rng.expovariate(1.2)), len(right) - 1)]  # the first spelling is the usual one
            elif roll < 0.92:
                text = rng.choice(wrong)
            else:
                one_off = f"{rng.randint(1, 99)}/{rng.randint(2, 99)}"
                text = str(rng.randint(-200, 200)) if rng.random() < 0.5 else one_off
            work = list(rng.choice(WORK)) if rng.random() < 0.2 else []
            row.append((text, work))
        out.append(row)
    return out


def _database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    import migrations as migrate

    name = f"stepwise_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    migrate.upgrade(url)
    return url, name


def _drop(name: str) -> None:
    from sqlalchemy import create_engine, text

    from store.db import db

    db.dispose()
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _store_class(app, settings, klass, problems: int, title: str) -> int:
    from sqlalchemy import insert

    from store.db import db
    from store.intake import parse_problems
    from store.models import Answer, Job, Submission, Teacher
    from web.intake import submit_assignment

    with app.app_context():
        teacher = db.session.query(Teacher).first()
        raw = [{"statement": f"Problem {p + 1}", "answer": PROBLEMS[p % len(PROBLEMS)][0]} for p in range(problems)]
        assignment = submit_assignment(teacher, title, parse_problems(raw), settings)
        ids = {p.position: p.id for p in assignment.problems}
        for n, row in enumerate(klass):
            sub = Submission(
                assignment_id=assignment.id,
                teacher_id=teacher.id,
                student=f"student {n:03d}",
                source="batch",
                status="queued",
                max_score=assignment.max_score,
            )
            db.session.add(sub)
            db.session.flush()
            db.session.execute(
                insert(Answer),
                [
                    {"submission_id": sub.id, "problem_id": ids[p + 1], "position": p + 1, "text": text, "work": work}
                    for p, (text, work) in enumerate(row)
                ],
            )
            db.session.add(Job(kind="grade", subject_id=sub.id))
        db.session.commit()
        aid = assignment.id
        db.session.remove()
    return aid


def _worker(env: dict, concurrency: int, log: Path) -> subprocess.Popen:
    """A fresh, cold Celery worker (no grader cache) on the grading queue, ready when it says so."""
    from support import start_worker

    return start_worker(env, "grading,lms", log, concurrency=concurrency)


def _stop(proc: subprocess.Popen) -> None:
    from support import stop_worker

    stop_worker(proc)


def _forget_verdicts(settings) -> None:
    """Each run starts with no shared verdicts, as a cold install would (store/verdicts.py)."""
    if settings.redis_url:
        import redis

        from store.verdicts import PREFIX

        with redis.Redis.from_url(settings.redis_url) as client:
            for key in client.scan_iter(match=PREFIX + "*", count=1000):
                client.delete(key)
    else:
        Path(settings.instance_dir, "verdicts.sqlite").unlink(missing_ok=True)


def _run_queue(app, settings, aid: int, concurrency: int, tmp: Path) -> float:
    """The regular path: one `stepwise.grading.grade_submission` task per submission, as intake sends."""
    from sqlalchemy import func, select

    from store.db import db
    from store.models import Submission
    from tasks import GRADE_TASK, send

    env = _env(settings, grouping=False)
    _forget_verdicts(settings)
    proc = _worker(env, concurrency, tmp / "worker-queue.log")
    try:
        with app.app_context():
            ids = db.session.scalars(select(Submission.id).where(Submission.assignment_id == aid)).all()
            start = time.perf_counter()
            send(GRADE_TASK, ids)
            pending = (
                select(func.count())
                .select_from(Submission)
                .where(Submission.assignment_id == aid, Submission.status.in_(["queued", "grading"]))
            )
            while db.session.scalar(pending):
                time.sleep(0.1)
                db.session.expire_all()
            elapsed = time.perf_counter() - start
            db.session.remove()
    finally:
        _stop(proc)
    return elapsed


def _env(settings, *, grouping: bool) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        STEPWISE_DATABASE_URL=settings.database_url,
        STEPWISE_SECRET_KEY=settings.secret_key,
        STEPWISE_INSTANCE_DIR=settings.instance_dir,
        STEPWISE_MODEL_ENABLED="0",
        STEPWISE_BATCH_GROUPING="1" if grouping else "0",
        STEPWISE_BATCH_CHUNK=str(settings.batch_chunk),
        STEPWISE_BATCH_RESEND="600",
    )
    env.pop("STEPWISE_REDIS_URL", None)
    if settings.redis_url:
        env["STEPWISE_REDIS_URL"] = settings.redis_url
    return env


def _run(app, settings, aid: int, grouping: bool, concurrency: int, tmp: Path) -> float:
    from dataclasses import replace

    from store import batches
    from store.db import db
    from store.workflow import Batch
    from tasks.batch import advance_batch

    run_settings = replace(settings, batch_grouping=grouping)
    _forget_verdicts(settings)
    proc = _worker(_env(settings, grouping=grouping), concurrency, tmp / f"worker-{int(grouping)}.log")
    try:
        with app.app_context():
            start = time.perf_counter()
            batch = batches.start_batch(db.session, trigger="cli", assignment_id=aid)
            while advance_batch(batch.id, run_settings) != "done":
                time.sleep(0.1)
                db.session.expire_all()
            elapsed = time.perf_counter() - start
            state = batches.batch_json(db.session, db.session.get(Batch, batch.id))
            db.session.remove()
    finally:
        _stop(proc)
    assert state["pending"] == 0 and state["failed"] == 0, state
    return elapsed


def _grades(app, aid: int) -> dict:
    from sqlalchemy import select

    from store.db import db
    from store.models import Answer, Grade, Submission

    with app.app_context():
        rows = db.session.execute(
            select(Submission.student, Answer.position, Grade.status, Grade.score)
            .join(Answer, Answer.submission_id == Submission.id)
            .join(Grade, Grade.answer_id == Answer.id)
            .where(Submission.assignment_id == aid)
        ).all()
        db.session.remove()
    return {(s, p): (st, sc) for s, p, st, sc in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--chunk", type=int, default=25, help="submissions per grouped task")
    parser.add_argument("--stack", choices=("both", "production", "embedded"), default="both")
    args = parser.parse_args(argv)
    stacks = ("production", "embedded") if args.stack == "both" else (args.stack,)
    return max(run_stack(stack, args) for stack in stacks)


def run_stack(stack: str, args) -> int:
    from support import private_redis_db

    from store.settings import Settings
    from web import create_app
    from web.auth import create_teacher

    klass = synthetic_class(args.students, args.problems)
    total = args.students * args.problems
    distinct = sum(len({(row[p][0].strip(), tuple(row[p][1])) for row in klass}) for p in range(args.problems))
    with contextlib.ExitStack() as cleanup:
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"stepwise-batch-{stack}-"))
        if stack == "production":
            url, name = _database()
            cleanup.callback(_drop, name)
            redis_url = cleanup.enter_context(private_redis_db())
            label = "Postgres + Redis"
        else:
            import migrations as migrate

            url, redis_url, label = f"sqlite:///{tmp}/stepwise.sqlite", "", "embedded (SQLite, SQLite broker)"
            migrate.upgrade(url)
            cleanup.callback(_dispose)
        settings = Settings(
            database_url=url,
            redis_url=redis_url,
            secret_key="bench-" + "x" * 40,
            instance_dir=tmp,
            model_enabled=False,
            batch_chunk=args.chunk,
        )
        app = create_app(settings)
        with app.app_context():
            create_teacher("bench@stepwise.local", "bench-bench")
        queued = _store_class(app, settings, klass, args.problems, "regular queue")
        plain = _store_class(app, settings, klass, args.problems, "without grouping")
        grouped = _store_class(app, settings, klass, args.problems, "with grouping")
        print(
            f"[{label}] class: {args.students} students x {args.problems} problems = {total} answers, "
            f"{distinct} distinct (problem, answer, work); {args.concurrency} worker processes",
            flush=True,
        )
        t_queue = _run_queue(app, settings, queued, args.concurrency, Path(tmp))
        print(
            f"[{label}] regular queue (grade_submission per submission): {t_queue:6.1f} s "
            f"{total / t_queue:7.1f} answers/s",
            flush=True,
        )
        t_plain = _run(app, settings, plain, False, args.concurrency, Path(tmp))
        print(
            f"[{label}] batch without grouping (one task per submission): {t_plain:6.1f} s "
            f"{total / t_plain:7.1f} answers/s",
            flush=True,
        )
        t_grouped = _run(app, settings, grouped, True, args.concurrency, Path(tmp))
        print(
            f"[{label}] batch with grouping ({args.chunk} submissions a task, each distinct answer once): "
            f"{t_grouped:6.1f} s  {total / t_grouped:7.1f} answers/s",
            flush=True,
        )
        a, b, c = _grades(app, queued), _grades(app, plain), _grades(app, grouped)
        same = a == b == c and len(a) == total
        print(
            f"[{label}] ratio with / without grouping: {t_plain / t_grouped:.1f}x "
            f"(vs the regular queue: {t_queue / t_grouped:.1f}x); same grades in all runs: {same}"
        )
        limit = 10 if stack == "production" else 30
        best = min(t_queue, t_grouped)
        print(
            f"[{label}] target: the class in under {limit} s -> {'met' if best < limit else 'NOT met'} "
            f"(regular queue {t_queue:.1f} s, grouped batch {t_grouped:.1f} s)",
            flush=True,
        )
        return 0 if same else 1


def _dispose() -> None:
    from store.db import db

    db.dispose()


if __name__ == "__main__":
    sys.exit(main())
