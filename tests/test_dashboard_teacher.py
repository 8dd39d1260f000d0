"""The teacher's pages over the workflow services: review queue, answer groups, hand grading,
re-upload replace/skip, deletes with a confirmation, gradebook export and the printable report."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import func, select
from test_dashboard import _assignment, confirm, csrf, logged_in, upload  # noqa: F401 (fixture)

from store.db import db
from store.models import Assignment, Grade, Problem, Submission


def _graded(app, grades: dict[str, list[tuple[str, float]]]) -> None:
    """Give each student's answers the (status, score) listed, as the grader would have."""
    with app.app_context():
        for sub in db.session.scalars(select(Submission)):
            for answer, (status, score) in zip(sub.answers, grades[sub.student]):
                answer.grade = Grade(
                    status=status, score=score, points=1.0, feedback=f"{status} feedback", reference_source="key"
                )
            review = any(s == "needs_review" for s, _ in grades[sub.student])
            sub.status = "needs_review" if review else "graded"
            sub.score = sum(score for _, score in grades[sub.student])
        db.session.commit()


@pytest.fixture
def quiz(logged_in, app):
    """Quiz (1+1 = 2, 2x = 4 -> x = 2) with Ada, Ben, Cy uploaded and graded."""
    url = _assignment(logged_in, app)
    data = b"student,problem,answer\nAda,1,2\nAda,2,x=2\nBen,1,3\nBen,2,x=3\nCy,1,3\nCy,2,x = 2\n"
    confirm(logged_in, url, upload(logged_in, url, data).get_data(as_text=True))
    _graded(
        app,
        {
            "Ada": [("correct", 1), ("correct", 1)],
            "Ben": [("incorrect", 0), ("needs_review", 0)],
            "Cy": [("incorrect", 0), ("correct", 1)],
        },
    )
    return url


def _sub(app, student: str) -> Submission | None:
    """The student's submission with its answers and grades loaded (usable after the session ends)."""
    with app.app_context():
        sub = db.session.scalar(select(Submission).where(Submission.student == student))
        for answer in sub.answers if sub else ():
            _ = answer.grade
        return sub


def test_a_review_item_is_resolved_in_one_action(logged_in, app, quiz):
    page = logged_in.get("/review").get_data(as_text=True)
    assert "Ben" in page and "x=3" in page and "1 answer needs a teacher" in page
    answer_id = int(re.search(r'id="review-(\d+)"', page).group(1))
    token = csrf(logged_in, "/review")
    resp = logged_in.post(
        f"/review/{answer_id}",
        data={
            "csrf_token": token,
            "action": "correct",
            "score": "0.5",
            "feedback": "Half: check the sign.",
            "next": "/review",
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/review"
    page = html_lib.unescape(logged_in.get("/review").get_data(as_text=True))
    assert "Corrected Ben's answer to problem 2" in page and "Nothing waits for you" in page
    ben = _sub(app, "Ben")
    assert ben.status == "graded" and ben.score == 0.5
    assert ben.answers[1].grade.feedback == "Half: check the sign."
    assert "graded by you" in logged_in.get(f"/submissions/{ben.id}").get_data(as_text=True)


def test_a_bad_review_score_is_refused(logged_in, app, quiz):
    answer_id = int(re.search(r'id="review-(\d+)"', logged_in.get("/review").get_data(as_text=True)).group(1))
    token = csrf(logged_in, "/review")
    logged_in.post(f"/review/{answer_id}", data={"csrf_token": token, "action": "correct", "score": "7"})
    page = logged_in.get("/review").get_data(as_text=True)
    assert "Not saved: score" in page and f'id="review-{answer_id}"' in page


def test_a_group_override_grades_every_member(logged_in, app, quiz):
    groups_url = quiz + "/problems/1/groups"
    page = logged_in.get(groups_url).get_data(as_text=True)
    match = re.search(r'<tr id="group-(\d+)">\s*<th scope="row"><code>3</code>', page)
    assert match, page
    group_id = int(match.group(1))
    token = csrf(logged_in, groups_url)
    logged_in.post(f"/groups/{group_id}/override", data={"csrf_token": token, "feedback": "No score given."})
    assert "Not saved: score is required." in logged_in.get(groups_url).get_data(as_text=True)
    assert _sub(app, "Cy").answers[0].grade.reference_source != "teacher"  # a refused override changes nothing
    logged_in.post(f"/groups/{group_id}/override", data={"csrf_token": token, "score": "1", "feedback": "Fine."})
    page = logged_in.get(groups_url).get_data(as_text=True)
    assert "now scores 1: 2 answers updated" in page and "graded by you" in page
    assert _sub(app, "Cy").answers[0].grade.score == 1 and _sub(app, "Ben").answers[0].grade.score == 1
    logged_in.post(f"/groups/{group_id}/undo", data={"csrf_token": token})
    assert "graded by the grader again" in logged_in.get(groups_url).get_data(as_text=True)
    assert _sub(app, "Cy").answers[0].grade.reference_source != "teacher"


def test_hand_grading_one_answer_and_undo(logged_in, app, quiz):
    cy = _sub(app, "Cy")
    url = f"/submissions/{cy.id}"
    page = logged_in.get(url).get_data(as_text=True)
    assert "Grade this answer yourself" in page
    token = csrf(logged_in, url)
    answer_id = cy.answers[0].id
    logged_in.post(f"/answers/{answer_id}/override", data={"csrf_token": token, "score": "0.5"})
    page = logged_in.get(url).get_data(as_text=True)
    assert "Problem 1 now scores 0.5 (graded by you)" in page
    assert _sub(app, "Cy").score == 1.5
    logged_in.post(f"/answers/{answer_id}/undo", data={"csrf_token": token})
    assert "graded by the grader again" in logged_in.get(url).get_data(as_text=True)


def test_another_teachers_answer_cannot_be_overridden(logged_in, app, quiz):
    from web.auth import create_teacher

    with app.app_context():
        create_teacher("other@school.test", "other password")
    answer_id = _sub(app, "Ada").answers[0].id
    logged_in.post("/logout", data={"csrf_token": csrf(logged_in, "/")})
    resp = logged_in.post(
        "/login", data={"csrf_token": csrf(logged_in), "email": "other@school.test", "password": "other password"}
    )
    assert resp.status_code == 302
    token = csrf(logged_in, "/")
    assert logged_in.post(f"/answers/{answer_id}/override", data={"csrf_token": token, "score": "0"}).status_code == 404
    assert logged_in.get(quiz + "/problems/1/groups").status_code == 404
    assert logged_in.get("/review").get_data(as_text=True).count("review-item") == 0
    assert _sub(app, "Ada").answers[0].grade.reference_source == "key"


@pytest.mark.parametrize("mode,expected", [("replace", "3"), ("skip", "2")])
def test_a_reupload_replaces_or_skips_and_never_duplicates(logged_in, app, quiz, mode, expected):
    preview = upload(logged_in, quiz, b"student,problem,answer\nAda,1,3\nDee,1,2\n").get_data(as_text=True)
    assert "1 student in this file already has answers here" in preview
    assert "has answers already" in preview
    html = preview.replace('name="existing" value="replace" checked', 'name="existing" value="replace"')
    payload = re.search(r'name="payload" value="([^"]*)"', html).group(1)
    token = csrf(logged_in, quiz)
    logged_in.post(
        quiz + "/submissions/confirm",
        data={"csrf_token": token, "payload": html_lib.unescape(payload), "existing": mode},
    )
    page = logged_in.get(quiz).get_data(as_text=True)
    assert "Stored the file: 1 new" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 4
        ada = db.session.scalar(select(Submission).where(Submission.student == "Ada"))
        assert ada.answers[0].text == expected


def test_deleting_asks_first_then_deletes(logged_in, app, quiz):
    ben = _sub(app, "Ben")
    page = logged_in.get(f"/submissions/{ben.id}/delete").get_data(as_text=True)
    assert "Delete Ben" in page and "cannot be undone" in page
    assert _sub(app, "Ben") is not None  # a GET never deletes
    token = csrf(logged_in, f"/submissions/{ben.id}/delete")
    logged_in.post(f"/submissions/{ben.id}/delete", data={"csrf_token": token})
    assert _sub(app, "Ben") is None
    page = html_lib.unescape(logged_in.get(quiz + "/students/delete?student=Cy").get_data(as_text=True))
    assert "all of Cy's work" in page
    logged_in.post(quiz + "/students/delete", data={"csrf_token": token, "student": "Cy"})
    assert _sub(app, "Cy") is None
    page = logged_in.get(quiz + "/delete").get_data(as_text=True)
    assert "Delete the assignment “Quiz”?" in page
    resp = logged_in.post(quiz + "/delete", data={"csrf_token": token})
    assert resp.headers["Location"] == "/"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0
        assert db.session.scalar(select(func.count()).select_from(Problem)) == 0


def test_deleting_lms_work_says_what_happens_to_the_gradebook(logged_in, app, quiz):
    with app.app_context():
        ada = db.session.scalar(select(Submission).where(Submission.student == "Ada"))
        ada.source, ada_id = "lms", ada.id
        db.session.commit()
    page = logged_in.get(f"/submissions/{ada_id}/delete").get_data(as_text=True)
    assert "came from an LMS" in page and "gradebook" in page


def test_the_gradebook_export_has_one_row_per_student(logged_in, app, quiz):
    upload_page = upload(logged_in, quiz, b"student,problem,answer\nAda,1,2\nAda,2,x=5\n").get_data(as_text=True)
    assert "has answers already" in upload_page
    body = logged_in.get(quiz + "/gradebook.csv?format=generic&pick=latest").get_data(as_text=True)
    lines = body.strip().splitlines()
    assert lines[0].startswith("student,email,student_id")
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["Ada", "Ben", "Cy"]
    assert "needs review" in body  # Ben's problem 2 is not a 0
    canvas = logged_in.get(quiz + "/gradebook.csv?format=canvas").get_data(as_text=True)
    assert canvas.splitlines()[1].startswith("Points Possible")
    assert logged_in.get(quiz + "/gradebook.csv?format=excel").status_code == 400


def test_the_printable_report_has_a_page_per_student(logged_in, app, quiz):
    page = logged_in.get(quiz + "/report").get_data(as_text=True)
    assert page.count('<article class="report') == 3
    assert "Your teacher will review this answer." in page  # Ben's needs-review answer
    css = logged_in.get("/static/style.css")
    assert "@media print" in css.get_data(as_text=True)
    css.close()
    ada = _sub(app, "Ada")
    single = logged_in.get(f"/submissions/{ada.id}/report").get_data(as_text=True)
    assert single.count('<article class="report') == 1 and "2 / 2" in single
