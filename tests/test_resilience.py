"""Resilience without fault injection: the job-row guard, the sweeper, broker and database outages
seen by a request, per-assignment external ids, and ids too large for any row."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import func, select
from test_api import make_assignment, submit

from store import jobs
from store.db import db
from store.models import Job, JobStatus, Problem, Submission

HUGE = 2**70


def _job(app, submission_id) -> Job:
    with app.app_context():
        db.session.rollback()
        return db.session.scalar(select(Job).where(Job.subject_id == submission_id).order_by(Job.id.desc()))


def test_a_job_is_claimed_once_then_only_by_its_own_redelivery_or_when_stale(client, auth, app):
    sid = submit(client, auth, make_assignment(client, auth)["id"]).get_json()["id"]
    with app.app_context():
        s = db.session
        assert jobs.claim(s, jobs.GRADE, sid, "task-a", stale_after=60).task_id == "task-a"
        s.commit()
        assert jobs.claim(s, jobs.GRADE, sid, "task-b", stale_after=60) is None  # a duplicate message
        s.rollback()
        assert jobs.claim(s, jobs.GRADE, sid, "task-a", stale_after=60) is not None  # redelivered after a crash
        s.commit()
        job = jobs.latest(s, jobs.GRADE, sid)
        job.started_at = jobs.now() - timedelta(seconds=120)
        s.commit()
        assert jobs.claim(s, jobs.GRADE, sid, "task-c", stale_after=60).task_id == "task-c"  # its worker died
        jobs.finish(jobs.latest(s, jobs.GRADE, sid))
        s.commit()
        assert jobs.claim(s, jobs.GRADE, sid, "task-d", stale_after=60) is None  # done stays done


def test_a_broker_outage_never_fails_setting_a_key_and_the_sweeper_sends_it_later(settings, teacher, redis_url):
    """Issue 11 item 6: the key and the queued status are committed, the teacher sees the page."""
    from web import create_app

    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client = broken.test_client()
    auth = {"Authorization": f"Bearer {teacher.token}"}
    assignment = make_assignment(client, auth)
    sid = submit(client, auth, assignment["id"]).get_json()["id"]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"csrf_token": token, "email": teacher.email, "password": "correct horse"},
    )
    with broken.app_context():
        problem_id = db.session.scalar(
            select(Problem.id).where(Problem.assignment_id == assignment["id"], Problem.position == 1)
        )
    page = client.get(f"/assignments/{assignment['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # the logged-in session's
    resp = client.post(f"/problems/{problem_id}/key", data={"csrf_token": token, "answer": "3/6"})
    assert resp.status_code == 302
    with broken.app_context():
        assert db.session.get(Problem, problem_id).answer_key == "3/6"
        assert db.session.get(Submission, sid).status == "queued"
    job = _job(broken, sid)
    assert job.status == JobStatus.queued.value and job.enqueued_at is None

    # The broker is back: one sweep sends exactly the jobs that were never sent.
    from tasks.sweep import sweep

    healthy = create_app(settings)
    with redis_lib.Redis.from_url(redis_url) as r:
        r.delete("grading")
        with healthy.app_context():
            sent = sweep(db.session(), settings)
            assert sent["grading"] == [sid]
            assert sweep(db.session(), settings)["grading"] == []  # sent once per `requeue_after`
        assert r.llen("grading") == 1
        r.delete("grading")


def test_requeue_sends_every_open_job_and_skips_live_ones(client, auth, app, settings):
    from tasks.sweep import requeue

    assignment = make_assignment(client, auth)
    ids = [submit(client, auth, assignment["id"], student=f"S{i}").get_json()["id"] for i in range(3)]
    with app.app_context():
        jobs.claim(db.session, jobs.GRADE, ids[0], "live", stale_after=60)
        db.session.commit()
        sent = requeue(db.session(), settings, statuses=("queued", "grading"))
        assert sent["grading"] == ids[1:]  # the live running job is left to its worker


@pytest.mark.parametrize("method_filter", ["GET", "POST"])
def test_huge_ids_on_every_route_answer_404(client, auth, app, teacher, method_filter):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"csrf_token": token, "email": teacher.email, "password": "correct horse"},
    )
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    checked = 0
    for rule in app.url_map.iter_rules():
        converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
        numeric = [n for n, kind in converters.items() if kind in ("IntegerConverter", "IdConverter")]
        if not numeric or method_filter not in rule.methods:
            continue
        values = {name: (HUGE if name in numeric else "x") for name in rule.arguments}
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, v=values: str(v[m.group(1)]), rule.rule)
        resp = client.open(url, method=method_filter, headers=auth, data={"csrf_token": token})
        assert resp.status_code == 404, (rule.rule, resp.status_code)
        checked += 1
    assert checked >= 3


def test_the_same_external_id_in_a_second_assignment_is_a_new_submission(client, auth, app):
    first, second = make_assignment(client, auth), make_assignment(client, auth)
    a = submit(client, auth, first["id"], external_id="file-7")
    again = submit(client, auth, first["id"], external_id="file-7")
    b = submit(client, auth, second["id"], external_id="file-7")
    assert a.get_json()["id"] == again.get_json()["id"]
    assert b.status_code == 202 and b.get_json()["id"] != a.get_json()["id"]
    with app.app_context():
        stored = db.session.get(Submission, b.get_json()["id"])
        assert stored.assignment_id == second["id"]
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2


def test_while_the_database_is_down_the_api_answers_503_with_retry_after(settings, teacher):
    from web import create_app

    down = create_app(replace(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"))
    client = down.test_client()
    resp = client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {teacher.token}"})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "30"
    assert resp.get_json()["error"] == "service_unavailable"
    page = client.post("/login", data={"email": "a@b.c", "password": "x"})
    assert page.status_code in (
        400,
        503,
    )  # CSRF first when the form has no token; never a 500
    assert page.status_code != 500
