"""A teacher's day in headless Chromium: write an assignment, upload answers with a preview, watch
grading finish without reloading, read the class picture, export grades. Layout at 375 and 1,280 px."""

from __future__ import annotations

import csv
import io

import pytest
from browsing import assert_accessible, login, screenshot
from playwright.sync_api import expect

from store.db import db

ANSWERS = """student,problem,answer,work
Ada,1,6,3(x - 2) = 12 | 3x - 6 = 12 | 3x = 18 | x = 6
Ada,2,1/2,
Ada,3,(x-1)(x+1),
Ben,1,14/3,3(x - 2) = 12 | 3x - 2 = 12 | 3x = 14 | x = 14/3
Ben,2,0.5,
Ben,3,x^2-1,
Cy,1,6,
Cy,2,2/4,
Cy,3,(x+1)(x-1),
"""


def make_assignment(app, teacher, problems: list[dict], title="Week 3 quiz") -> int:
    from store.intake import parse_problems
    from store.models import Teacher
    from web.intake import submit_assignment

    with app.app_context():
        owner = db.session.get(Teacher, teacher.id)
        return submit_assignment(owner, title, parse_problems(problems), app.config["STEPWISE"]).id


QUIZ = [
    {"statement": "Solve $3(x - 2) = 12$", "answer": "x = 6", "points": 2},
    {"statement": "Simplify $\\frac{2}{4}$", "answer": "1/2"},
    {"statement": "Factor $x^2 - 1$", "answer": "(x-1)(x+1)", "policy": {"require": ["factored"]}},
]


def test_write_an_assignment_with_added_rows_and_a_policy(page, teacher):
    login(page, teacher)
    page.get_by_role("link", name="New assignment").click()
    assert_accessible(page)
    page.get_by_label("Title").fill("Factoring")
    for _ in range(2):
        page.get_by_role("button", name="Add a problem").click()
    expect(page.locator(".problem-row")).to_have_count(5)
    assert page.locator("#problem-count").inner_text() == "5 problems"
    page.get_by_role("button", name="Remove problem 2").click()
    expect(page.locator(".problem-row")).to_have_count(4)
    statements = page.get_by_label("Statement")
    statements.nth(0).fill("Factor $x^2 - 5x + 6$")
    page.get_by_label("Answer key").nth(0).fill("(x-2)(x-3)")
    page.locator("details.policy summary").nth(0).click()
    page.get_by_label("Factored").nth(0).check()
    assert page.locator(".policy-summary").nth(0).inner_text() == "factored"
    statements.nth(3).fill("Round $\\pi$ to 3 significant figures")
    page.get_by_label("Answer key").nth(3).fill("3.14")
    page.locator("details.policy summary").nth(3).click()
    page.get_by_label("Significant figures").nth(3).fill("3")
    assert_accessible(page)
    screenshot(page, "new-assignment")
    page.get_by_role("button", name="Create assignment").click()
    expect(page.get_by_text("Created “Factoring” with 2 problems")).to_be_visible()
    expect(page.get_by_text("Policy: factored")).to_be_visible()
    expect(page.get_by_text("Policy: 3 significant figures")).to_be_visible()
    page.locator("#problem-1 .katex").first.wait_for()  # the statement is typeset by KaTeX
    assert_accessible(page)


@pytest.mark.slow
def test_upload_preview_live_progress_and_export(page, app, teacher, celery_worker, tmp_path):
    assignment_id = make_assignment(app, teacher, QUIZ)
    login(page, teacher)
    page.goto(f"/assignments/{assignment_id}")
    assert page.locator(".progress-text").inner_text() == "0/0 graded"
    path = tmp_path / "answers.csv"
    path.write_text(ANSWERS)
    page.get_by_label("Answers file (CSV, JSON or XLSX)").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Nothing is stored yet. 3 students, 9 answers read.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "upload-preview")
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/progress") else None)
    page.get_by_role("button", name="Store and grade 3 students").click()
    page.wait_for_url(f"**/assignments/{assignment_id}")
    page.evaluate("() => { window.notReloaded = true; }")
    # The bar reaches the end without a reload: the polling script updates it.
    page.wait_for_function("document.querySelector('.progress-text').textContent.startsWith('3/3')", timeout=90_000)
    page.wait_for_selector("[data-progress-url][data-done=true]")
    page.wait_for_function("!document.querySelector('#results').textContent.includes('…')")
    assert page.locator(".progress-text").inner_text() == "3/3 graded"
    assert page.evaluate("() => window.notReloaded === true") and polls  # same page, updated by polling
    assert page.locator("progress").evaluate("el => el.value === el.max")
    results = page.locator("#results table")
    assert results.locator("tbody tr").count() == 3
    assert "4" in results.locator("tr", has_text="Ada").inner_text()
    expect(page.locator("#class-picture svg")).to_have_count(2)
    expect(page.locator("#class-picture code", has_text="14/3")).to_be_visible()  # Ben's common wrong answer
    assert_accessible(page)
    screenshot(page, "assignment")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download grades (CSV)").click()
    table = list(csv.reader(io.StringIO(download.value.path().read_text())))
    students = {row[0] for row in table[1:]}
    assert students == {"Ada", "Ben", "Cy"}

    page.get_by_role("link", name="Ben").click()
    expect(page.get_by_role("heading", name="Ben")).to_be_visible()
    expect(page.locator("td.feedback.incorrect").first).to_be_visible()  # the step that does not follow
    assert_accessible(page)
    screenshot(page, "student")


def test_a_phone_sized_screen_collapses_the_menu_and_scrolls_tables_in_their_box(browser, live_server, app, teacher):
    problems = [{"statement": f"Compute ${n} \\times {n}$", "answer": str(n * n)} for n in range(1, 21)]
    assignment_id = make_assignment(app, teacher, problems, title="Twenty squares")
    _submissions(app, assignment_id, 6)
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 800}, bypass_csp=True)
    page = context.new_page()
    try:
        login(page, teacher)
        page.goto(f"/assignments/{assignment_id}")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(nav.get_by_role("link", name="New assignment")).to_be_visible()
        page.get_by_role("button", name="Menu").click()
        assert _page_width(page) <= 375, "the page itself must not scroll sideways"
        box = page.locator("#results .table-scroll")
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")  # the table scrolls inside its box
        assert_accessible(page)
        screenshot(page, "assignment-375", full_page=False)
        page.goto("/assignments/new")
        assert _page_width(page) <= 375
        assert_accessible(page)
        screenshot(page, "new-assignment-375", full_page=False)
        # Every other teacher page fits the phone too.
        for path in (
            f"/assignments/{assignment_id}/problems/1/groups",
            f"/submissions/{_first_submission(app)}",
            f"/assignments/{assignment_id}/report",
            "/review",
            "/",
        ):
            page.goto(path)
            assert _page_width(page) <= 375, path
            assert_accessible(page)
    finally:
        context.close()


def test_twenty_problems_fit_at_1280(page, app, teacher):
    problems = [{"statement": f"Compute ${n} \\times {n}$", "answer": str(n * n)} for n in range(1, 21)]
    assignment_id = make_assignment(app, teacher, problems, title="Twenty squares")
    _submissions(app, assignment_id, 6)
    login(page, teacher)
    page.goto(f"/assignments/{assignment_id}")
    assert _page_width(page) <= 1280
    box = page.locator("#results .table-scroll")
    widths = box.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1] + 1, f"20 problems fit without scrolling: {widths}"
    assert_accessible(page)
    screenshot(page, "assignment-20-problems", full_page=False)


def _first_submission(app) -> int:
    from sqlalchemy import func, select

    from store.models import Submission

    with app.app_context():
        return db.session.scalar(select(func.min(Submission.id)))


def _page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def _submissions(app, assignment_id: int, students: int) -> None:
    """Graded-looking rows straight in the database (layout tests need no worker)."""
    from store.models import Answer, Assignment, Grade, Submission

    with app.app_context():
        assignment = db.session.get(Assignment, assignment_id)
        for s in range(students):
            sub = Submission(
                assignment_id=assignment.id,
                teacher_id=assignment.teacher_id,
                student=f"Student number {s + 1}",
                source="dashboard",
                status="graded",
                max_score=assignment.max_score,
            )
            for p in assignment.problems:
                right = (s + p.position) % 3 != 0
                sub.answers.append(
                    Answer(
                        problem_id=p.id,
                        position=p.position,
                        text=p.answer_key if right else "7",
                        grade=Grade(
                            status="correct" if right else "incorrect", score=1.0 if right else 0.0, points=1.0
                        ),
                    )
                )
            sub.score = sum(a.grade.score for a in sub.answers)
            db.session.add(sub)
        db.session.commit()
