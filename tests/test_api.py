"""The JSON API contract: shapes, auth, ownership, idempotency, and clear 4xx for bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from store.db import db
from store.models import Answer, Assignment, Job, Problem, Submission

ASSIGNMENT = {
    "title": "Fractions",
    "problems": [
        {"statement": "Simplify 2/4", "answer": "1/2", "points": 2},
        {"statement": "Solve x + 1 = 3", "answer": "x = 2"},
        {"statement": "What is 7 * 6?", "answer": "42", "policy": {"mode": "numeric", "rel_tol": 0.01}},
    ],
}


def make_assignment(client, auth, body=ASSIGNMENT):
    resp = client.post("/api/v1/assignments", json=body, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def submit(client, auth, assignment_id, **overrides):
    body = {"student": "Ada", "answers": [{"problem": 1, "answer": "2/4"}, {"problem": 2, "answer": "x=2"}]}
    body.update(overrides)
    return client.post(f"/api/v1/assignments/{assignment_id}/submissions", json=body, headers=auth)


def counts(app):
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(m)) for m in (Assignment, Problem, Submission, Answer)
        )


def test_create_assignment_returns_ids_and_positions(client, auth, app):
    body = make_assignment(client, auth)
    assert [p["position"] for p in body["problems"]] == [1, 2, 3]
    assert all(isinstance(p["id"], int) for p in body["problems"])
    got = client.get(f"/api/v1/assignments/{body['id']}", headers=auth).get_json()
    assert got["title"] == "Fractions"
    assert got["max_score"] == 4
    assert got["problems"][2]["policy"] == {"mode": "numeric", "rel_tol": 0.01}


def test_submission_is_stored_queued_and_readable(client, auth, app):
    assignment = make_assignment(client, auth)
    resp = submit(client, auth, assignment["id"])
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "queued"
    assert body["url"] == f"/api/v1/submissions/{body['id']}"
    got = client.get(body["url"], headers=auth).get_json()
    assert got["status"] == "queued" and got["score"] is None and got["max_score"] == 4
    assert [a["problem"] for a in got["answers"]] == [1, 2]
    assert got["answers"][0]["status"] == "pending"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1


def test_same_external_id_gives_the_same_submission(client, auth, app):
    assignment = make_assignment(client, auth)
    first = submit(client, auth, assignment["id"], external_id="lms-42").get_json()
    again = submit(
        client, auth, assignment["id"], external_id="lms-42", answers=[{"problem": 1, "answer": "something else"}]
    ).get_json()
    assert again["id"] == first["id"] and again["created"] is False
    assert counts(app)[2] == 1
    answers = client.get(first["url"], headers=auth).get_json()["answers"]
    assert answers[0]["answer"] == "2/4"  # the stored one is untouched


def test_teachers_see_only_their_own_data(client, auth, app):
    from web.auth import create_teacher

    assignment = make_assignment(client, auth)
    sub = submit(client, auth, assignment["id"]).get_json()
    with app.app_context():
        _, other_token = create_teacher("other@school.test", "pw-other-teacher")
    other = {"Authorization": f"Bearer {other_token}"}
    assert client.get(f"/api/v1/assignments/{assignment['id']}", headers=other).status_code == 404
    assert client.get(sub["url"], headers=other).status_code == 404
    assert submit(client, other, assignment["id"]).status_code == 404
    assert client.get(f"/api/v1/assignments/{assignment['id']}/grades.csv", headers=other).status_code == 404
    assert client.get("/api/v1/assignments", headers=other).get_json() == {"assignments": []}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sw_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
)
def test_missing_or_bad_token_is_401(client, headers):
    resp = client.get("/api/v1/assignments", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


# Bad assignment payloads: (body, field named in the answer)
BAD_ASSIGNMENTS = [
    ({"problems": ASSIGNMENT["problems"]}, "title"),
    ({"title": "  ", "problems": ASSIGNMENT["problems"]}, "title"),
    ({"title": 5, "problems": ASSIGNMENT["problems"]}, "title"),
    ({"title": "t"}, "problems"),
    ({"title": "t", "problems": []}, "problems"),
    ({"title": "t", "problems": "2+2"}, "problems"),
    ({"title": "t", "problems": [5]}, "problems[0]"),
    ({"title": "t", "problems": [{"answer": "1"}]}, "problems[0].statement"),
    ({"title": "t", "problems": [{"statement": ["x"]}]}, "problems[0].statement"),
    ({"title": "t", "problems": [{"statement": "x" * 10001}]}, "problems[0].statement"),
    ({"title": "t", "problems": [{"statement": "s", "points": 0}]}, "problems[0].points"),
    ({"title": "t", "problems": [{"statement": "s", "points": "2"}]}, "problems[0].points"),
    ({"title": "t", "problems": [{"statement": "s", "points": True}]}, "problems[0].points"),
    ({"title": "t", "problems": [{"statement": "s", "policy": {"mode": "fuzzy"}}]}, "problems[0].policy.mode"),
    ({"title": "t", "problems": [{"statement": "s", "policy": {"evil": 1}}]}, "problems[0].policy.evil"),
    ({"title": "t", "problems": [{"statement": "s", "policy": {"require": ["tidy"]}}]}, "problems[0].policy.require"),
    ({"title": "t", "problems": [{"statement": "s\x00"}]}, "problems[0].statement"),
]


@pytest.mark.parametrize("body,field", BAD_ASSIGNMENTS)
def test_bad_assignment_payloads_are_400_naming_the_field(client, auth, app, body, field):
    resp = client.post("/api/v1/assignments", json=body, headers=auth)
    assert resp.status_code == 400
    payload = resp.get_json()
    assert payload["error"] == "invalid_payload" and payload["field"] == field
    assert field in payload["message"]
    assert counts(app) == (0, 0, 0, 0)


# Bad submission payloads: (body, field)
BAD_SUBMISSIONS = [
    ({"answers": [{"problem": 1, "answer": "1"}]}, "student"),
    ({"student": "", "answers": [{"problem": 1, "answer": "1"}]}, "student"),
    ({"student": {"a": 1}, "answers": [{"problem": 1, "answer": "1"}]}, "student"),
    ({"student": "s" * 256, "answers": [{"problem": 1, "answer": "1"}]}, "student"),
    ({"student": "A"}, "answers"),
    ({"student": "A", "answers": []}, "answers"),
    ({"student": "A", "answers": [{"problem": 9, "answer": "1"}]}, "answers[0].problem"),
    ({"student": "A", "answers": [{"problem": 0, "answer": "1"}]}, "answers[0].problem"),
    ({"student": "A", "answers": [{"problem": "1", "answer": "1"}]}, "answers[0].problem"),
    ({"student": "A", "answers": [{"problem": 1}]}, "answers[0].answer"),
    ({"student": "A", "answers": [{"problem": 1, "answer": ["1"]}]}, "answers[0].answer"),
    ({"student": "A", "answers": [{"problem": 1, "answer": "1" * 10001}]}, "answers[0].answer"),
    ({"student": "A", "answers": [{"problem": 1, "answer": "1"}, {"problem": 1, "answer": "2"}]}, "answers[1].problem"),
    ({"student": "A", "answers": [{"problem": 1, "answer": "1", "work": "x=1"}]}, "answers[0].work"),
    ({"student": "A", "answers": [{"problem": 1, "answer": "1", "work": [1]}]}, "answers[0].work[0]"),
    ({"student": "A", "answers": [{"problem": 1, "answer": "1", "work": ["x"] * 101}]}, "answers[0].work"),
    ({"student": "A", "external_id": 12, "answers": [{"problem": 1, "answer": "1"}]}, "external_id"),
]


@pytest.mark.parametrize("body,field", BAD_SUBMISSIONS)
def test_bad_submission_payloads_are_400_and_store_nothing(client, auth, app, body, field):
    assignment = make_assignment(client, auth)
    submit(client, auth, assignment["id"], external_id="keep-me")
    before = counts(app)
    resp = client.post(f"/api/v1/assignments/{assignment['id']}/submissions", json=body, headers=auth)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["field"] == field
    assert counts(app) == before


def test_body_format_errors(client, auth, app):
    url = "/api/v1/assignments"
    resp = client.post(url, data="title=x", headers=auth, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415 and resp.get_json()["error"] == "unsupported_media_type"
    resp = client.post(url, data="{not json", headers=auth, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_json"
    resp = client.post(url, data="[1, 2]", headers=auth, content_type="application/json")
    assert resp.status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    resp = client.post(url, data=deep, headers=auth, content_type="application/json")
    assert resp.status_code in (400, 413)
    huge = json.dumps({"title": "t", "problems": [{"statement": "x" * 300_000}]})
    resp = client.post(url, data=huge, headers=auth, content_type="application/json")
    assert resp.status_code == 413 and resp.get_json()["error"] == "request_entity_too_large"
    assert client.get("/api/v1/nope", headers=auth).status_code == 404
    assert client.delete(url, headers=auth).status_code == 405
    assert counts(app) == (0, 0, 0, 0)


def test_grades_csv_has_a_row_per_student_and_escapes_formulas(client, auth, app):
    assignment = make_assignment(client, auth)
    submit(client, auth, assignment["id"], student='=HYPERLINK("http://x")')
    submit(client, auth, assignment["id"], student="Ben")
    resp = client.get(f"/api/v1/assignments/{assignment['id']}/grades.csv", headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    lines = resp.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "student,submission,status,problem 1,problem 2,problem 3,total,max"
    assert len(lines) == 3
    assert sorted(line.split(",")[0] for line in lines[1:]) == ['"\'=HYPERLINK(""http://x"")"', "Ben"]


def test_openapi_document_is_served_without_auth(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/assignments/{assignment_id}/submissions" in doc["paths"]


def test_a_broker_outage_still_stores_the_submission(settings, teacher, caplog):
    """Redis down at enqueue time: the answer is stored and stays queued; its job has no send time,
    so the sweeper's next run sends it first."""
    from dataclasses import replace

    from web import create_app

    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client = broken.test_client()
    auth = {"Authorization": f"Bearer {teacher.token}"}
    assignment = make_assignment(client, auth)
    resp = submit(client, auth, assignment["id"])
    assert resp.status_code == 202
    body = client.get(resp.get_json()["url"], headers=auth).get_json()
    assert body["status"] == "queued" and len(body["answers"]) == 2
    assert "queue.send_failed" in caplog.text
    from sqlalchemy import select

    from store.db import db
    from store.models import Job

    with broken.app_context():
        job = db.session.scalar(select(Job).where(Job.subject_id == body["id"]))
        assert job.status == "queued" and job.enqueued_at is None


@pytest.mark.parametrize("worked, expected", [(False, 1), (True, 2)])
def test_keyed_problems_use_no_model_unless_worked_solutions_are_asked_for(settings, teacher, auth, worked, expected):
    """Issue 10: a keyed problem costs no GPU time unless the teacher asks for worked solutions."""
    from dataclasses import replace

    from web import create_app

    app = create_app(replace(settings, model_enabled=True))
    app.config.update(TESTING=True)
    body = {
        "title": "w",
        "worked_solutions": worked,
        "problems": [{"statement": "Solve 2x = 6", "answer": "x = 3"}, {"statement": "What is 7*6?"}],
    }
    with app.test_client() as c:
        created = c.post("/api/v1/assignments", headers=auth, json=body)
        assert created.status_code == 201, created.get_json()
    with app.app_context():
        problems = db.session.scalars(select(Problem).where(Problem.assignment_id == created.get_json()["id"])).all()
        assert sum(p.reference is not None for p in problems) == expected


def test_token_use_is_recorded_at_most_once_a_minute(client, auth, app, teacher):
    """The token's `last_used_at` is kept to the minute: a busy integration writes no row per call."""
    from store.models import ApiToken

    def last_used():
        with app.app_context():
            db.session.remove()
            return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.teacher_id == teacher.id))

    assert client.get("/api/v1/assignments", headers=auth).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/assignments", headers=auth).status_code == 200
    assert last_used() == first
