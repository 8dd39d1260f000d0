"""Login in a real browser: refusal, success, and no accessibility faults on the pages."""

from __future__ import annotations

from browsing import PASSWORD, assert_accessible, login
from playwright.sync_api import expect


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


def test_pages_run_under_the_apps_own_csp(browser, live_server, app, teacher):
    """Without bypassing the CSP: no violation reported, and KaTeX and the page scripts still run."""
    from test_flows import make_assignment

    assignment_id = make_assignment(app, teacher, [{"statement": "Solve $2x = 4$", "answer": "x = 2"}])
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        login(page, teacher)
        for path in (f"/assignments/{assignment_id}", "/assignments/new"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
        page.goto(f"/assignments/{assignment_id}")
        expect(page.locator("#problem-1 .katex").first).to_be_visible()
        expect(page.locator("[data-progress-url][data-done=true]")).to_have_count(1)  # progress.js ran
    finally:
        context.close()
    assert not violations, violations
