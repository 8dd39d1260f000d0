"""The teacher dashboard: login, CSRF, assignment creation and uploads, results pages."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from store.db import db
from store.models import Assignment, Problem, Submission


def csrf(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def logged_in(client, teacher):
    token = csrf(client)
    resp = client.post("/login", data={"csrf_token": token, "email": teacher.email, "password": "correct horse"})
    assert resp.status_code == 302
    return client


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_pages_need_a_login(client):
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_wrong_password_is_refused(client, teacher):
    token = csrf(client)
    resp = client.post("/login", data={"csrf_token": token, "email": teacher.email, "password": "nope"})
    assert resp.status_code == 200
    assert "do not match" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_forms_without_csrf_token_are_refused(client, teacher):
    resp = client.post("/login", data={"email": teacher.email, "password": "correct horse"})
    assert resp.status_code == 400
    assert client.get("/").status_code == 302


def test_login_does_not_redirect_off_site(client, teacher):
    token = csrf(client)
    resp = client.post("/login?next=//evil.example/x",
                       data={"csrf_token": token, "email": teacher.email, "password": "correct horse"})
    assert resp.headers["Location"] == "/"


def test_create_assignment_with_the_form(logged_in, app):
    token = csrf(logged_in, "/assignments/new")
    resp = logged_in.post("/assignments/new", data={
        "csrf_token": token, "title": "Quiz 1",
        "statement": ["2 + 2", "Solve x - 1 = 0", ""], "answer": ["4", "x = 1", ""], "points": ["1", "2", "1"],
    })
    assert resp.status_code == 302
    page = logged_in.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Quiz 1" in page and "Solve x - 1 = 0" in page
    assert count(app, Problem) == 2


def test_create_assignment_from_a_csv_upload(logged_in, app):
    token = csrf(logged_in, "/assignments/new")
    data = b'statement,answer,points,policy\n"Expand (x+1)^2",x^2+2x+1,2,"{""require"": [""expanded""]}"\nWhat is 1/3 as a decimal?,0.333,1,"{""mode"": ""numeric"", ""rel_tol"": 0.01}"\n'
    resp = logged_in.post("/assignments/new", data={
        "csrf_token": token, "title": "Uploaded", "file": (io.BytesIO(data), "problems.csv"),
    }, content_type="multipart/form-data")
    assert resp.status_code == 302
    with app.app_context():
        problems = db.session.scalars(select(Problem).order_by(Problem.position)).all()
        assert [p.points for p in problems] == [2.0, 1.0]
        assert problems[0].policy == {"require": ["expanded"]}


@pytest.mark.parametrize("data", [
    b"\xff\xfe not utf8",
    b"answer,points\n1,2\n",
    b'{"problems": [{"statement": ""}]}',
    b'statement,points\nx,lots\n',
    b"[[[[",
])
def test_bad_problem_uploads_store_nothing(logged_in, app, data):
    token = csrf(logged_in, "/assignments/new")
    resp = logged_in.post("/assignments/new", data={
        "csrf_token": token, "title": "Bad", "file": (io.BytesIO(data), "p.csv"),
    }, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "Not saved" in resp.get_data(as_text=True)
    assert count(app, Assignment) == 0


def _assignment(logged_in, app):
    token = csrf(logged_in, "/assignments/new")
    resp = logged_in.post("/assignments/new", data={
        "csrf_token": token, "title": "Quiz", "statement": ["1+1", "2x = 4"], "answer": ["2", "x = 2"],
        "points": ["1", "1"],
    })
    return resp.headers["Location"]


def test_upload_submissions_csv_then_see_them(logged_in, app):
    url = _assignment(logged_in, app)
    token = csrf(logged_in, url)
    data = "student,problem,answer,work\nAda,1,2,\nAda,2,x=2,2x = 4 | x = 2\nBen,1,3,\n".encode()
    resp = logged_in.post(url + "/submissions", data={"csrf_token": token, "file": (io.BytesIO(data), "s.csv")},
                          content_type="multipart/form-data")
    assert resp.status_code == 302
    page = logged_in.get(url).get_data(as_text=True)
    assert "Queued 2 submission(s)" in page
    assert "Ada" in page and "Ben" in page
    with app.app_context():
        ada = db.session.scalar(select(Submission).where(Submission.student == "Ada"))
        assert ada.source == "dashboard"
        assert ada.answers[1].work == ["2x = 4", "x = 2"]
    sub_page = logged_in.get(f"/submissions/{ada.id}").get_data(as_text=True)
    assert "Not graded yet" in sub_page


def test_a_bad_row_uploads_nothing(logged_in, app):
    url = _assignment(logged_in, app)
    token = csrf(logged_in, url)
    data = b"student,problem,answer\nAda,1,2\nBen,7,3\n"
    logged_in.post(url + "/submissions", data={"csrf_token": token, "file": (io.BytesIO(data), "s.csv")},
                   content_type="multipart/form-data")
    page = logged_in.get(url).get_data(as_text=True)
    assert "Nothing was uploaded" in page and "answers[0].problem" in page
    assert count(app, Submission) == 0


def test_other_teachers_pages_are_404(logged_in, app):
    from web.auth import create_teacher
    from web.intake import submit_assignment
    from store.intake import parse_problems

    with app.app_context():
        other, _ = create_teacher("someone@else.test", "their password")
        assignment = submit_assignment(other, "Theirs", parse_problems([{"statement": "1+1", "answer": "2"}]),
                                       app.config["STEPWISE"])
        problem_id, assignment_id = assignment.problems[0].id, assignment.id
    assert logged_in.get(f"/assignments/{assignment_id}").status_code == 404
    token = csrf(logged_in, "/")
    assert logged_in.post(f"/problems/{problem_id}/key", data={"csrf_token": token, "answer": "3"}).status_code == 404


def test_setting_a_key_queues_a_regrade(logged_in, app):
    url = _assignment(logged_in, app)
    token = csrf(logged_in, url)
    logged_in.post(url + "/submissions", data={
        "csrf_token": token, "file": (io.BytesIO(b"student,problem,answer\nAda,1,2\n"), "s.csv")},
        content_type="multipart/form-data")
    with app.app_context():
        problem = db.session.scalar(select(Problem).where(Problem.position == 1))
        sub = db.session.scalar(select(Submission))
        sub.status = "graded"
        db.session.commit()
        problem_id = problem.id
    resp = logged_in.post(f"/problems/{problem_id}/key", data={"csrf_token": token, "answer": "5"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Problem, problem_id).answer_key == "5"
        assert db.session.scalar(select(Submission)).status == "queued"


def test_healthz(client):
    body = client.get("/healthz").get_json()
    assert body == {"status": "ok", "database": "up", "broker": "redis"}


def test_reference_solution_is_shown_and_a_disagreeing_key_is_flagged(logged_in, app):
    from store.models import ReferenceSolution

    url = _assignment(logged_in, app)  # problem 1: "1+1", key "2"
    with app.app_context():
        problem = db.session.scalar(select(Problem).where(Problem.position == 1))
        problem.reference = ReferenceSolution(
            cache_key="k" * 64, statement_hash="h" * 64, statement="1+1", model_id="tiny", status="ready",
            settings={"temperature": 0.6, "top_p": 0.95}, final_answer="3", agreement=0.8,
            reasoning="<think>\nOne plus one, carefully.\n</think>\nSo the sum is \\boxed{3}.",
            samples=[{"text": "…", "answer": "3"}] * 4 + [{"text": "…", "answer": None}],
            completion_tokens=321, latency_s=1.5,
        )
        db.session.commit()
    page = logged_in.get(url).get_data(as_text=True)
    assert "So the sum is" in page and "The model's thinking" in page
    assert "80% of 5 samples agree" in page
    assert "differs from your key" in page
    assert "321 tokens" in page
