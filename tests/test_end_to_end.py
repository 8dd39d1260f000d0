"""Submit over HTTP, a real Celery worker grades through Redis and Postgres, poll until graded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support import wait_for

from store import grading
from store.db import db
from store.models import Grade, Job

pytestmark = pytest.mark.slow

ASSIGNMENT = {
    "title": "Equations",
    "problems": [
        {"statement": "Solve 3(x - 2) = 12", "answer": "x = 6", "points": 2},
        {"statement": "Simplify 2/4", "answer": "1/2"},
        {"statement": "Solve x^2 - x - 6 = 0", "answer": "x = 3 or x = -2", "points": 2},
    ],
}


def _graded(client, auth, url):
    body = client.get(url, headers=auth).get_json()
    return body if body["status"] in ("graded", "needs_review", "failed") else None


def test_submission_is_graded_by_a_real_worker(client, auth, celery_worker):
    assignment = client.post("/api/v1/assignments", json=ASSIGNMENT, headers=auth).get_json()
    good = {
        "student": "Ada",
        "answers": [
            {"problem": 1, "answer": "6"},
            {"problem": 2, "answer": "0.5"},
            {"problem": 3, "answer": "-2, 3"},
        ],
    }
    slip = {
        "student": "Ben",
        "answers": [
            {"problem": 1, "answer": "x = 14/3", "work": ["3(x - 2) = 12", "3x - 2 = 12", "3x = 14", "x = 14/3"]},
            {"problem": 2, "answer": "2/4"},
            {"problem": 3, "answer": "x = 3"},
        ],
    }
    urls = []
    for body in (good, slip):
        resp = client.post(f"/api/v1/assignments/{assignment['id']}/submissions", json=body, headers=auth)
        assert resp.status_code == 202
        urls.append(resp.get_json()["url"])

    ada = wait_for(lambda: _graded(client, auth, urls[0]), timeout=90)
    assert ada["status"] == "graded"
    assert ada["score"] == ada["max_score"] == 5
    assert [a["status"] for a in ada["answers"]] == ["correct"] * 3
    assert all(a["interpreted"] for a in ada["answers"])

    ben = wait_for(lambda: _graded(client, auth, urls[1]), timeout=90)
    first, second, third = ben["answers"]
    assert first["status"] == "incorrect" and first["score"] == 0
    assert first["first_error"] == 1  # "3x - 2 = 12" does not follow from "3(x - 2) = 12"
    assert "Step" in first["feedback"] or "step" in first["feedback"]
    assert second["status"] == "correct"
    assert third["status"] in ("partial", "incorrect") and 0 <= third["score"] < 2
    assert third["diagnosis"] == "missing-solution"
    assert "-2" not in third["feedback"]  # feedback names what is wrong without giving the answer
    assert 1 <= ben["score"] < 5


def test_grading_twice_gives_one_grade_and_the_same_score(client, auth, app, celery_worker):
    assignment = client.post("/api/v1/assignments", json=ASSIGNMENT, headers=auth).get_json()
    body = {"student": "Cy", "answers": [{"problem": 1, "answer": "x=6"}, {"problem": 2, "answer": "3/4"}]}
    url = client.post(f"/api/v1/assignments/{assignment['id']}/submissions", json=body, headers=auth).get_json()["url"]
    first = wait_for(lambda: _graded(client, auth, url), timeout=90)
    submission_id = first["id"]
    with app.app_context():
        outcome = grading.grade_submission(db.session, submission_id)  # the same work again, in-process
        assert outcome.status == "graded"
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 2
    # A duplicate message (a redelivery, `stepwise requeue`) finds its job done and grades nothing.
    from tasks import enqueue_grading

    with app.app_context():
        jobs_before = db.session.scalar(select(func.count()).select_from(Job))
        enqueue_grading(submission_id)
        wait_for(lambda: b"grade.skipped" in celery_worker.log_path.read_bytes(), timeout=60)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Job)) == jobs_before
        assert set(db.session.scalars(select(Job.status))) == {"done"}
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 2
    again = client.get(url, headers=auth).get_json()
    assert again["score"] == first["score"] == 2
    assert [a["status"] for a in again["answers"]] == [a["status"] for a in first["answers"]]


def test_a_grader_failure_in_a_real_task_marks_the_submission_failed(client, auth, app, celery_worker):
    """The task's grader-failure branch, through a real worker: a policy the grader refuses (as an
    older version might have stored it) fails that submission, keeps its answers, and says why."""
    from store.models import Problem, Submission

    assignment = client.post("/api/v1/assignments", json=ASSIGNMENT, headers=auth).get_json()
    with app.app_context():
        problem = db.session.scalar(
            select(Problem).where(Problem.assignment_id == assignment["id"], Problem.position == 2)
        )
        problem.policy = {"sigfigs": "three"}
        db.session.commit()
    body = {"student": "Di", "answers": [{"problem": 2, "answer": "1/2"}]}
    url = client.post(f"/api/v1/assignments/{assignment['id']}/submissions", json=body, headers=auth).get_json()["url"]
    failed = wait_for(lambda: _graded(client, auth, url), timeout=90)
    assert failed["status"] == "failed"
    with app.app_context():
        sub = db.session.get(Submission, failed["id"])
        assert sub.error == "Grading failed: PolicyError"  # grader.PolicyError, a ValueError
        assert sub.answers[0].text == "1/2"
        job = db.session.scalar(select(Job).where(Job.subject_id == sub.id))
        assert job.status == "failed" and job.attempts == 1 and "PolicyError" in job.error
    assert b"grade.failed" in celery_worker.log_path.read_bytes()
