"""The overnight batch: schedule, driver, exactly-once grading, and surviving killed workers and beat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis as redis_lib
from sqlalchemy import func, select
from support import ROOT, stop_process, wait_for, worker_command, worker_env

from store import batches
from store.db import db
from store.intake import AnswerIn, create_submission, parse_problems
from store.models import Assignment, Grade, Source, Submission, Teacher
from store.settings import Settings
from store.workflow import Batch, BatchItem
from tasks.batch import configure_beat, parse_batch_at

KEYS = ["2", "x = 3", "1/2", "9", "x^2 + 2x + 1", "4", "5/6", "-1", "12", "x = -2 or x = 2"]
SPELLINGS = {  # common right and wrong answers per problem, as a class writes them
    0: ["2", "2", "2", "3", "two"],
    1: ["x=3", "x = 3", "3", "x=-3", "x=3"],
    2: ["1/2", "0.5", "2/4", "1/3", "1/2"],
    3: ["9", "9", "-9", "9.0", "8"],
    4: ["(x+1)^2", "x^2+2x+1", "x^2+1", "(x+1)^2", "x^2+2x+1"],
    5: ["4", "4", "16", "4", "2"],
    6: ["5/6", "10/12", "0.83", "5/6", "1"],
    7: ["-1", "-1", "1", "-1", "-1.0"],
    8: ["12", "12", "13", "12", "twelve"],
    9: ["x=2 or x=-2", "±2", "2", "x=-2, x=2", "-2, 2"],
}


def test_batch_at_reads_a_time_and_a_zone():
    assert parse_batch_at("02:00") == (2, 0, "UTC")
    assert parse_batch_at("2:30", "Europe/Paris") == (2, 30, "Europe/Paris")
    assert parse_batch_at(" 23:05 America/New_York ", "Europe/Paris") == (23, 5, "America/New_York")
    for bad in ("25:00", "2am", "02:00 Mars/Olympus", "", "02:00 x y"):
        with pytest.raises(ValueError):
            parse_batch_at(bad)


def test_beat_schedule_runs_the_nightly_job_in_the_teachers_zone():
    from celery import Celery

    app = Celery("t")
    configure_beat(app, Settings(batch_at="02:00", timezone="Europe/Paris", batch_tick=7))
    nightly = app.conf.beat_schedule["stepwise-nightly-batch"]
    assert nightly["task"] == "stepwise.batch.nightly"
    assert nightly["schedule"].hour == {2} and nightly["schedule"].minute == {0}
    assert app.conf.timezone == "Europe/Paris"
    assert app.conf.beat_schedule["stepwise-batch-tick"]["schedule"].total_seconds() == 7
    bare = Celery("u")
    configure_beat(bare, Settings())
    assert "stepwise-nightly-batch" not in bare.conf.beat_schedule  # unset: no nightly run


def _class(app, settings, teacher_id: int, students: int) -> int:
    """An assignment with keys and a class stored without being queued (as after a broker outage)."""
    from web.intake import submit_assignment

    with app.app_context():
        owner = db.session.get(Teacher, teacher_id)
        problems = parse_problems(
            [
                {"statement": f"Problem {i + 1}", "answer": k, **({"policy": {"step_credit": True}} if i == 1 else {})}
                for i, k in enumerate(KEYS)
            ]
        )
        assignment = submit_assignment(owner, "Night", problems, settings)
        for n in range(students):
            answers = [
                AnswerIn(
                    problem=p + 1,
                    answer=SPELLINGS[p][(n * (p + 1)) % 5],
                    work=(f"x + {p} = {p + 3}", "x = 3") if n % 3 == 0 else (),
                )
                for p in range(len(KEYS))
            ]
            create_submission(db.session, assignment, student=f"student {n:03d}", answers=answers, source=Source.batch)
        db.session.commit()  # stored, not queued
        assignment_id = assignment.id
        db.session.remove()
    return assignment_id


def test_driver_grades_every_item_once_and_finishes(app, settings, teacher):
    aid = _class(app, settings, teacher.id, 6)
    sent = {"grade": [], "reason": [], "passback": []}
    senders = batches.Senders(
        grade=lambda b, s: sent["grade"].append((b, s)), reason=sent["reason"].append, passback=sent["passback"].append
    )
    with app.app_context():
        batch = batches.start_batch(db.session, trigger="cli", assignment_id=aid)
        assert batch.total == 6
        assert batches.advance(db.session, batch.id, senders) == "grading"
        assert len(sent["grade"]) == 6 and sent["reason"] == []
        assert batches.advance(db.session, batch.id, senders) == "grading"
        assert len(sent["grade"]) == 6  # not sent again before the resend delay
        for b, s in sent["grade"]:
            assert batches.grade_item(db.session, b, s) == "done"
        assert batches.grade_item(db.session, *sent["grade"][0]) == "already"
        assert batches.advance(db.session, batch.id, senders) == "done"
        body = batches.batch_json(db.session, db.session.get(Batch, batch.id))
        assert (body["status"], body["total"], body["graded"], body["pending"]) == ("done", 6, 6, 0)
        assert body["finished"] is not None
        assert set(db.session.scalars(select(BatchItem.runs))) == {1}


def test_chunk_grades_each_distinct_answer_once_and_matches_one_by_one(app, settings, teacher):
    from store import grading

    aid = _class(app, settings, teacher.id, 20)
    with app.app_context():
        batch = batches.start_batch(db.session, trigger="cli", assignment_id=aid)
        ids = [i.submission_id for i in db.session.scalars(select(BatchItem).order_by(BatchItem.id))]
        result = batches.grade_chunk(db.session, batch.id, ids[:12])
        assert result["graded"] == 12 and result["answers"] == 120 and result["checks"] < 120
        assert batches.grade_chunk(db.session, batch.id, ids[:12])["graded"] == 0  # exactly once
        chunked = {
            (a.submission.student, a.position): (a.grade.status, a.grade.score, a.grade.feedback)
            for s in ids[:12]
            for a in db.session.get(Submission, s).answers
        }
        for sid in ids[:12]:
            grading.grade_submission(db.session, sid)
        db.session.expire_all()
        single = {
            (a.submission.student, a.position): (a.grade.status, a.grade.score, a.grade.feedback)
            for s in ids[:12]
            for a in db.session.get(Submission, s).answers
        }
        assert chunked == single
        assert db.session.get(Submission, ids[0]).status == "graded"


def test_batch_api_starts_and_reports(client, auth, app, settings, teacher):
    aid = _class(app, settings, teacher.id, 3)
    resp = client.post("/api/v1/batches", json={"assignment": aid}, headers=auth)
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["total"] == 3 and body["stage"] == "grading" and body["status"] == "running"
    got = client.get(f"/api/v1/batches/{body['id']}", headers=auth).get_json()
    assert set(got) >= {"total", "graded", "needs_review", "failed", "started", "finished"}
    assert client.get("/api/v1/batches", headers=auth).get_json()[0]["id"] == body["id"]
    assert client.post("/api/v1/batches", json={"assignment": 99999}, headers=auth).status_code == 404
    assert client.post("/api/v1/batches", json={"assignment": "x"}, headers=auth).status_code == 400


# --- real processes ---------------------------------------------------------------------------


def _start(cmd: list[str], env: dict, log, ready: bytes) -> subprocess.Popen:
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )  # its own group: we kill the pool children too
    deadline = time.monotonic() + 60
    while ready not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill(proc)
            raise RuntimeError(log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its pool children at once, as a crash would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _worker(env, log):
    cmd = worker_command("grading,lms", f"batch-{os.getpid()}-{time.monotonic_ns()}")
    return _start(cmd, env, log, b" ready.")


def _beat(env, log, schedule):
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", "INFO", "-s", str(schedule)]
    return _start(cmd, env, log, b"beat: Starting")


@pytest.mark.slow
def test_killing_workers_and_beat_halfway_still_grades_everything_exactly_once(
    app, settings, teacher, redis_url, tmp_path
):
    with redis_lib.Redis.from_url(redis_url) as r:
        r.flushdb()
    aid = _class(app, settings, teacher.id, 240)
    env = worker_env(settings, STEPWISE_BATCH_TICK="1", STEPWISE_BATCH_RESEND="4")
    procs = [_worker(env, tmp_path / "worker.log"), _beat(env, tmp_path / "beat.log", tmp_path / "schedule")]
    try:
        with app.app_context():
            batch = batches.start_batch(db.session, trigger="cli", assignment_id=aid)
            batch_id = batch.id
            db.session.remove()

        def done() -> int:
            with app.app_context():
                n = db.session.scalar(
                    select(func.count())
                    .select_from(BatchItem)
                    .where(BatchItem.batch_id == batch_id, BatchItem.done_at.is_not(None))
                )
                db.session.remove()
                return n

        # beat's tick starts the batch; kill everything once grading is under way
        wait_for(lambda: done() >= 10, timeout=60, interval=0.02)
        for proc in procs:
            _kill(proc)
        at_kill = done()
        assert at_kill < 240, "the batch finished before the kill; make the class larger"
        procs = [_worker(env, tmp_path / "worker.log"), _beat(env, tmp_path / "beat.log", tmp_path / "schedule")]

        def finished():
            with app.app_context():
                row = db.session.get(Batch, batch_id)
                status = row.status
                db.session.remove()
                return status == "done"

        wait_for(finished, timeout=120, interval=0.5)
    finally:
        for proc in procs:
            stop_process(proc, group=True, timeout=30)
    with app.app_context():
        runs = db.session.scalars(select(BatchItem.runs).where(BatchItem.batch_id == batch_id)).all()
        assert len(runs) == 240 and set(runs) == {1}, sorted(set(runs))
        statuses = set(db.session.scalars(select(Submission.status).where(Submission.assignment_id == aid)))
        assert statuses <= {"graded", "needs_review"}
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 240 * len(KEYS)
        assert db.session.get(Assignment, aid).submissions[0].score is not None


def test_nightly_job_starts_one_batch_per_teacher_with_pending_work(app, settings, teacher):
    from tasks.batch import NIGHTLY_TASK

    aid = _class(app, settings, teacher.id, 2)
    with app.app_context():
        nightly = app.extensions["celery"].tasks[NIGHTLY_TASK]  # bound to the test's app and broker
        ids = nightly.run()  # the task body, here; its sends go to the test's Redis
        assert len(ids) == 1
        batch = db.session.get(Batch, ids[0])
        assert (batch.teacher_id, batch.trigger, batch.total, batch.assignment_id) == (teacher.id, "schedule", 2, None)
        assert batch.stage == "grading"
        assert aid


def test_batch_and_regular_task_never_both_grade_a_submission(app, settings, teacher):
    from store import grading, jobs
    from store.models import Job

    aid = _class(app, settings, teacher.id, 4)
    with app.app_context():
        batch = batches.start_batch(db.session, trigger="api", assignment_id=aid)
        ids = [i.submission_id for i in db.session.scalars(select(BatchItem).order_by(BatchItem.id))]
        grading.grade(db.session, ids[0], "regular-task")  # the regular path got there first
        result = batches.grade_chunk(db.session, batch.id, ids)
        assert (result["graded"], result["already"]) == (3, 1)
        # a late regular message for a batch-graded submission finds its job closed
        assert grading.grade(db.session, ids[1], "late-task").status == "skipped"
        attempts = db.session.scalars(select(Job.attempts).where(Job.kind == jobs.GRADE)).all()
        assert sorted(attempts) == [1, 1, 1, 1]
        runs = dict(db.session.execute(select(BatchItem.submission_id, BatchItem.runs)).all())
        assert runs == {ids[0]: 0, ids[1]: 1, ids[2]: 1, ids[3]: 1}


def test_a_failed_reference_is_retried_at_night_as_batch_work(app, settings, teacher):
    """The nightly batch gives a reference that failed one more try, queued at batch priority so
    that a teacher waiting on an interactive one gets the GPU first."""
    from store.models import Problem, ReferenceSolution, ReferenceStatus
    from store.reasoning import BATCH, INTERACTIVE
    from web.intake import submit_assignment

    with app.app_context():
        owner = db.session.get(Teacher, teacher.id)
        assignment = submit_assignment(owner, "Keyless", parse_problems([{"statement": "What is 6 * 7?"}]), settings)
        create_submission(db.session, assignment, student="S", answers=[AnswerIn(1, "42")], source=Source.batch)
        reference = db.session.get(Problem, assignment.problems[0].id).reference
        reference.status, reference.priority = ReferenceStatus.failed.value, INTERACTIVE  # an earlier run failed
        db.session.commit()
        sent = []
        senders = batches.Senders(grade=lambda b, s: None, reason=sent.append, passback=lambda s: None)
        batch = batches.start_batch(db.session, trigger="schedule", assignment_id=assignment.id)
        assert batches.advance(db.session, batch.id, senders, model_enabled=True) == "references"
        retried = db.session.get(ReferenceSolution, reference.id)
        assert sent == [reference.id]
        assert (retried.status, retried.priority) == (ReferenceStatus.pending.value, BATCH)
