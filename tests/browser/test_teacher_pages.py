"""The teacher's last word in a real browser: resolve a review item, override an answer group,
and every teacher page free of critical or serious axe-core violations."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, screenshot
from playwright.sync_api import expect
from sqlalchemy import select
from test_flows import make_assignment

from store.db import db
from store.models import Grade, Submission

PROBLEMS = [
    {"statement": "Compute $1 + 1$", "answer": "2"},
    {"statement": "Solve $2x = 4$", "answer": "x = 2"},
]
GRADES = {  # student: [(answer, status, score)] for problems 1 and 2
    "Ada": [("2", "correct", 1.0), ("x=2", "correct", 1.0)],
    "Ben": [("3", "incorrect", 0.0), ("x=3", "needs_review", 0.0)],
    "Cy": [("3", "incorrect", 0.0), ("x = 2", "correct", 1.0)],
}


@pytest.fixture
def graded_quiz(app, teacher) -> int:
    """Stored as the grader would leave it (no worker needed: overrides write grades themselves)."""
    from store.models import Answer, Assignment

    assignment_id = make_assignment(app, teacher, PROBLEMS, title="Quiz 4")
    with app.app_context():
        assignment = db.session.get(Assignment, assignment_id)
        for student, answers in GRADES.items():
            review = any(status == "needs_review" for _, status, _ in answers)
            sub = Submission(
                assignment_id=assignment.id,
                teacher_id=assignment.teacher_id,
                student=student,
                source="dashboard",
                status="needs_review" if review else "graded",
                max_score=2.0,
                score=sum(score for _, _, score in answers),
            )
            for problem, (text, status, score) in zip(assignment.problems, answers):
                sub.answers.append(
                    Answer(
                        problem_id=problem.id,
                        position=problem.position,
                        text=text,
                        grade=Grade(
                            status=status,
                            score=score,
                            points=1.0,
                            reference_source="key",
                            feedback="We read your answer as $3$; it is not equal to the key."
                            if status == "incorrect"
                            else "Your teacher will review this answer.",
                        ),
                    )
                )
            db.session.add(sub)
        db.session.commit()
    return assignment_id


def test_resolve_a_review_item(page, app, teacher, graded_quiz):
    login(page, teacher)
    page.get_by_role("link", name="Review").click()
    items = page.locator(".review-item")
    expect(items).to_have_count(1)
    assert "Ben" in items.first.inner_text()
    assert_accessible(page)
    screenshot(page, "review")
    items.first.get_by_label("Score").fill("0.5")
    items.first.get_by_label("Feedback").fill("Right method, wrong sign.")
    items.first.get_by_role("button", name="Set this grade").click()
    expect(page.get_by_text("Corrected Ben's answer to problem 2.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for you")).to_be_visible()
    with app.app_context():
        ben = db.session.scalar(select(Submission).where(Submission.student == "Ben"))
        assert ben.status == "graded" and ben.score == 0.5


def test_override_an_answer_group(page, app, teacher, graded_quiz):
    login(page, teacher)
    page.goto(f"/assignments/{graded_quiz}")
    page.get_by_role("link", name="Answers given to problem 1").click()
    row = page.locator("tr", has=page.locator("code", has_text="3"))
    assert "2" in row.locator("td.num").inner_text()  # Ben and Cy gave it
    assert_accessible(page)
    row.get_by_label("Score").fill("1")
    row.get_by_label("Feedback").fill("Accepted: the question was ambiguous.")
    row.get_by_role("button", name="Grade 2 answers").click()
    expect(page.get_by_text("now scores 1: 2 answers updated")).to_be_visible()
    expect(page.locator("tr", has=page.locator("code", has_text="3")).get_by_text("graded by you")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "groups")
    page.goto(f"/assignments/{graded_quiz}")
    cy = page.locator("#results tr", has_text="Cy")
    assert "2/2" in cy.locator("td.num").last.inner_text().replace(" ", "")


def test_every_teacher_page_passes_axe(page, app, teacher, graded_quiz, tmp_path):
    from store.workflow import Batch

    login(page, teacher)
    with app.app_context():
        db.session.add(Batch(teacher_id=teacher.id, trigger="cli", stage="grading", status="running", total=3))
        db.session.commit()
        ben = db.session.scalar(select(Submission).where(Submission.student == "Ben"))
        problem_id = ben.answers[0].problem_id
    pages = [
        "/",
        f"/assignments/{graded_quiz}",
        f"/submissions/{ben.id}",
        f"/problems/{problem_id}/edit",
        f"/assignments/{graded_quiz}/report",
        f"/submissions/{ben.id}/delete",
        f"/assignments/{graded_quiz}/delete",
        f"/assignments/{graded_quiz}/problems/2/groups",
        "/review",
        "/assignments/new",
    ]
    for path in pages:
        page.goto(path)
        assert_accessible(page)
    page.goto(f"/assignments/{graded_quiz}/report")
    page.emulate_media(media="print")
    expect(page.locator("header.site")).to_be_hidden()  # the printout is the feedback alone
    screenshot(page, "report-print")
    page.emulate_media(media="screen")
    # The upload preview, with an error naming the row and the student.
    path = tmp_path / "answers.csv"
    path.write_text("student,problem,answer\nDee,1,2\nEd,9,4\n")
    page.goto(f"/assignments/{graded_quiz}")
    page.get_by_label("Answers file (CSV, JSON or XLSX)").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Row 3 (Ed): problem")).to_be_visible()
    assert page.get_by_role("button", name="Store and grade").count() == 0
    assert_accessible(page)
