"""The teacher dashboard: login, CSRF, assignment creation and uploads, results pages."""
from __future__ import annotations

import html
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


def rows(*problems, **policy) -> dict:
    """Form fields for the problem rows: (statement, answer, points) each; policy fields for row 0."""
    data = {}
    for i, (statement, answer, points) in enumerate(problems):
        data.update({f"problems-{i}-statement": statement, f"problems-{i}-answer": answer,
                     f"problems-{i}-points": points})
    data.update({f"problems-0-policy-{k}": v for k, v in policy.items()})
    return data


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
        "csrf_token": token, "title": "Quiz 1", "create": "1",
        **rows(("2 + 2", "4", "1"), ("Solve x - 1 = 0", "x = 1", "2"), ("", "", "1")),
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
        "csrf_token": token, "title": "Quiz", **rows(("1+1", "2", "1"), ("2x = 4", "x = 2", "1")),
    })
    return resp.headers["Location"]


def upload(client, url, data: bytes, name="s.csv"):
    token = csrf(client, url)
    return client.post(url + "/submissions", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def confirm(client, url, preview_html: str):
    payload = html.unescape(re.search(r'name="payload" value="([^"]*)"', preview_html).group(1))
    token = csrf(client, url)
    return client.post(url + "/submissions/confirm", data={"csrf_token": token, "payload": payload})


def test_upload_is_previewed_then_stored_on_confirm(logged_in, app):
    url = _assignment(logged_in, app)
    data = "student,problem,answer,work\nAda,1,2,\nAda,2,x=2,2x = 4 | x = 2\nBen,1,3,\n".encode()
    preview = upload(logged_in, url, data)
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "Nothing is stored yet" in text and "2 students, 3 answers" in text
    assert count(app, Submission) == 0
    resp = confirm(logged_in, url, text)
    assert resp.status_code == 302
    page = logged_in.get(url).get_data(as_text=True)
    assert "Queued 2 submission(s)" in page
    assert "Ada" in page and "Ben" in page and "0/2 graded" in page
    with app.app_context():
        ada = db.session.scalar(select(Submission).where(Submission.student == "Ada"))
        assert ada.source == "dashboard"
        assert ada.answers[1].work == ["2x = 4", "x = 2"]
    sub_page = logged_in.get(f"/submissions/{ada.id}").get_data(as_text=True)
    assert "Not graded yet" in sub_page


def test_a_bad_row_is_named_with_its_student_and_nothing_is_stored(logged_in, app):
    url = _assignment(logged_in, app)
    text = upload(logged_in, url, b"student,problem,answer\nAda,1,2\nBen,7,3\nCy,x,1\n").get_data(as_text=True)
    assert "Row 3 (Ben): problem must be a problem number from 1 to 2" in text
    assert 'name="payload"' not in text  # no way to store a file with errors
    assert count(app, Submission) == 0


def test_a_bad_row_error_names_the_row_even_in_a_later_student(logged_in, app):
    url = _assignment(logged_in, app)
    text = upload(logged_in, url, b"student,problem,answer\nAda,1,2\nBen,1,2\nBen,1,3\n").get_data(as_text=True)
    assert "Row 4 (Ben): problem problem 1 is answered twice" in text
    assert "Ada" in text and count(app, Submission) == 0


def test_a_tampered_confirmation_is_validated_again(logged_in, app):
    url = _assignment(logged_in, app)
    token = csrf(logged_in, url)
    resp = logged_in.post(url + "/submissions/confirm", data={
        "csrf_token": token, "payload": '[{"student": "Ada", "answers": [{"problem": 9, "answer": "1"}]}]'})
    assert resp.status_code == 302
    assert "Nothing was uploaded" in logged_in.get(url).get_data(as_text=True)
    assert count(app, Submission) == 0


EXCEL_FILES = [
    ("semicolons, Latin-1", "student;problem;answer\nJosé;1;2\nZoë;2;x=2\n".encode("latin-1")),
    ("UTF-8 with BOM", "\ufeffstudent,problem,answer\nJosé,1,2\nZoë,2,x=2\n".encode("utf-8")),
    ("semicolons, Windows-1252, CRLF", "student;problem;answer\r\nJosé;1;2\r\nZoë;2;x=2\r\n".encode("cp1252")),
]


@pytest.mark.parametrize("label,data", EXCEL_FILES, ids=[f[0] for f in EXCEL_FILES])
def test_excel_csv_exports_are_read(logged_in, app, label, data):
    url = _assignment(logged_in, app)
    text = upload(logged_in, url, data).get_data(as_text=True)
    assert "2 students, 2 answers" in text, label
    assert "José" in text and "Zoë" in text


def test_xlsx_uploads_are_read(logged_in, app):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in (["student", "problem", "answer"], ["José", 1, 2], ["Zoë", 2, "x=2"], [None, None, None]):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    url = _assignment(logged_in, app)
    text = upload(logged_in, url, buffer.getvalue(), "answers.xlsx").get_data(as_text=True)
    assert "2 students, 2 answers" in text and "Zoë" in text
    assert confirm(logged_in, url, text).status_code == 302
    assert count(app, Submission) == 2


def test_a_broken_xlsx_is_refused(logged_in, app):
    url = _assignment(logged_in, app)
    upload(logged_in, url, b"PK\x03\x04 not really a zip", "answers.xlsx")
    assert "not a readable .xlsx workbook" in logged_in.get(url).get_data(as_text=True)


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
    confirm(logged_in, url, upload(logged_in, url, b"student,problem,answer\nAda,1,2\n").get_data(as_text=True))
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
