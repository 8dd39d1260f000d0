"""LMS fixtures: the test platform, an LTI integration registered with it, an assignment, and
helpers to sign webhook deliveries. Shared fixtures (database_url, app, client, teacher,
celery_worker) come from tests/conftest.py."""

from __future__ import annotations

import pytest
from platform_server import Platform

from store.db import db


@pytest.fixture(scope="session")
def platform():
    p = Platform()
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _reset_platform(request):
    if "platform" in request.fixturenames:
        p = request.getfixturevalue("platform")
        for name in ("scores", "callbacks", "token_requests", "requests", "score_plan", "token_plan", "callback_plan"):
            getattr(p, name).clear()
    yield


@pytest.fixture
def session(app, database_url):
    """A session for the test's own reads and writes. Requests made with `client` remove the
    thread's scoped session, so this one is closed explicitly (TRUNCATE waits for it otherwise).
    No app context is held: requests must push their own (fresh `g` per request)."""
    s = db.session()
    yield s
    s.close()
    db.session.remove()


@pytest.fixture
def enqueued(monkeypatch):
    """Record task enqueues instead of sending them to the broker."""
    import tasks

    calls: dict[str, list[int]] = {"grading": [], "passback": []}
    names = {tasks.GRADE_TASK: "grading", tasks.PASSBACK_TASK: "passback"}

    def send(task_name, ids, **_options):
        calls[names[task_name]].extend(ids)
        return []

    monkeypatch.setattr(tasks, "send", send)
    return calls


@pytest.fixture
def lti_integration(app, session, teacher, settings, platform, client):
    """An LTI 1.3 integration registered with the test platform; returns (integration, secret)."""
    from lms import create_integration
    from store.models import Teacher

    row = session.get(Teacher, teacher.id)
    integration, secret = create_integration(
        session,
        row,
        settings,
        name="Test LMS",
        kind="lti",
        allowed_hosts=["127.0.0.1"],
        issuer=platform.issuer,
        client_id=platform.client_id,
        deployment_ids=[platform.deployment_id],
        auth_login_url=platform.auth_url,
        auth_token_url=platform.token_url,
        key_set_url=platform.jwks_url,
    )
    platform.tool_jwks = client.get("/lms/jwks").get_json()  # the admin pastes our JWKS URL
    platform.webhook_secret = secret
    return integration, secret


@pytest.fixture
def assignment(session, teacher):
    from store.intake import create_assignment, parse_problems
    from store.models import Teacher

    row = session.get(Teacher, teacher.id)
    problems = parse_problems(
        [
            {"statement": "What is 2 + 2?", "answer": "4", "points": 1},
            {"statement": "Expand (x+1)^2", "answer": "x**2 + 2*x + 1", "points": 2},
        ]
    )
    assignment, _ = create_assignment(session, row, "Homework 1", problems)
    session.commit()
    return assignment
