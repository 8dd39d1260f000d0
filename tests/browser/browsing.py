"""Helpers for the browser tests: log in, run axe-core, keep screenshots."""

from __future__ import annotations

import os
from pathlib import Path

AXE = Path(__file__).with_name("axe.min.js")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse"


def login(page, teacher) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(teacher.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def axe_violations(page, impacts=("critical", "serious")) -> list[dict]:
    """Run axe-core on the current page; the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in found if v["impact"] in impacts]


def assert_accessible(page) -> None:
    bad = axe_violations(page)
    assert not bad, f"axe-core violations on {page.url}: {bad}"


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot of a key page under docs/screenshots (only when STEPWISE_SCREENSHOTS=1)."""
    if os.environ.get("STEPWISE_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page, type="png")
