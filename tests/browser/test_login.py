"""Login in a real browser: refusal, success, and no accessibility faults on the pages."""
from __future__ import annotations

from playwright.sync_api import expect

from browsing import PASSWORD, assert_accessible, login


def test_login_refuses_a_wrong_password_then_lets_the_teacher_in(page, teacher):
    page.goto("/")
    assert "/login" in page.url
    assert_accessible(page)
    page.get_by_label("Email").fill(teacher.email)
    page.get_by_label("Password").fill("not " + PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("do not match")).to_be_visible()
    login(page, teacher)
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()
    assert_accessible(page)
