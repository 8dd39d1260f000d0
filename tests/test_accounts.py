"""Accounts and web security: sessions that logout really ends, login rate limits, API tokens that
can be revoked and reissued, Secure cookies behind TLS, and security headers on every page."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace

import pytest

from web import create_app

PASSWORD = "correct horse"


def csrf(client, path="/login", **kw) -> str:
    html = client.get(path, **kw).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email, password=PASSWORD, **kw):
    token = csrf(client, **{k: v for k, v in kw.items() if k in ("environ_base", "headers", "base_url")})
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password}, **kw)


def session_cookie(client):
    return client.get_cookie("session")


def test_logout_ends_every_copy_of_the_session(app, client, teacher):
    assert login(client, teacher.email).status_code == 302
    copied = app.test_client()
    copied.set_cookie("session", session_cookie(client).value)
    assert copied.get("/").status_code == 200  # the copy works while the session lives
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert client.get("/").status_code == 302
    assert copied.get("/").status_code == 302  # and not after logout
    assert login(client, teacher.email).status_code == 302  # a new login works again
    assert client.get("/").status_code == 200


@pytest.fixture
def strict_app(settings):
    """An app with small login limits (its own limiter; Redis storage, keys unique to this test)."""
    app = create_app(replace(settings, login_limit_account="3 per hour", login_limit_ip="6 per hour"))
    app.config["TESTING"] = True
    return app


def _new_teacher(app, password=PASSWORD):
    from web.auth import create_teacher

    with app.app_context():
        row, _ = create_teacher(f"rl{secrets.token_hex(4)}@school.test", password)
        return row.email


def test_login_is_limited_per_account(strict_app):
    email = _new_teacher(strict_app)
    ip = {"REMOTE_ADDR": f"10.1.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    client = strict_app.test_client()
    for _ in range(3):
        assert login(client, email, "wrong password", environ_base=ip).status_code == 200
    # The right password no longer helps: the account is locked for the window, from any IP.
    assert login(client, email, environ_base=ip).status_code == 429
    other_ip = {"REMOTE_ADDR": "10.2.0.1"}
    assert login(strict_app.test_client(), email, environ_base=other_ip).status_code == 429
    # Another account from the first IP is not affected.
    assert login(strict_app.test_client(), _new_teacher(strict_app), environ_base=ip).status_code == 302


def test_login_is_limited_per_ip_and_success_does_not_count(strict_app):
    ip = {"REMOTE_ADDR": f"10.3.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    good = _new_teacher(strict_app)
    for _ in range(8):  # successful logins are not failures
        assert login(strict_app.test_client(), good, environ_base=ip).status_code == 302
    for _ in range(6):  # six different accounts, one wrong password each
        other = _new_teacher(strict_app)
        assert login(strict_app.test_client(), other, "nope nope", environ_base=ip).status_code == 200
    resp = login(strict_app.test_client(), good, environ_base=ip)
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert login(strict_app.test_client(), good, environ_base={"REMOTE_ADDR": "10.4.0.1"}).status_code == 302


@pytest.mark.parametrize(
    "changes,secure",
    [
        ({}, False),
        ({"proxy_hops": 1}, True),  # behind a TLS-terminating proxy
        ({"secure_cookies": "1"}, True),
        ({"proxy_hops": 1, "secure_cookies": "0"}, False),
    ],
)
def test_session_cookie_is_secure_behind_tls(settings, teacher, changes, secure):
    app = create_app(replace(settings, **changes))
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"}
    resp = login(client, teacher.email, headers=https, base_url="https://localhost")
    assert resp.status_code == 302
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert ("Secure" in cookie) is secure and "HttpOnly" in cookie


@pytest.mark.parametrize("path", ["/login", "/api/v1/assignments", "/healthz", "/no-such-page", "/lms/jwks"])
def test_security_headers_on_every_answer(client, path):
    resp = client.get(path)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and resp.headers["X-Frame-Options"] == "DENY"


def test_lti_pages_may_be_framed_by_the_lms(client):
    resp = client.post("/lms/launch", data={})
    assert "frame-ancestors *" in resp.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in resp.headers


def test_pages_have_no_inline_scripts(client, teacher):
    login(client, teacher.email)
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers either


# --- API tokens ---------------------------------------------------------------------------


def test_tokens_are_listed_issued_revoked_and_reissued(client, auth):
    listed = client.get("/api/v1/tokens", headers=auth).get_json()["tokens"]
    assert len(listed) == 1 and listed[0]["active"] and "token" not in listed[0]
    issued = client.post("/api/v1/tokens", headers=auth, json={"name": "grading script"})
    assert issued.status_code == 201
    second = issued.get_json()
    assert second["name"] == "grading script" and second["token"].startswith("sw_")
    new_auth = {"Authorization": f"Bearer {second['token']}"}
    assert client.get("/api/v1/assignments", headers=new_auth).status_code == 200

    reissued = client.post(f"/api/v1/tokens/{second['id']}/reissue", headers=auth).get_json()
    assert reissued["name"] == "grading script" and reissued["id"] != second["id"]
    assert client.get("/api/v1/assignments", headers=new_auth).status_code == 401
    reissued_auth = {"Authorization": f"Bearer {reissued['token']}"}
    assert client.get("/api/v1/assignments", headers=reissued_auth).status_code == 200

    revoked = client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=auth)
    assert revoked.status_code == 200 and revoked.get_json()["active"] is False
    assert client.get("/api/v1/tokens", headers=auth).status_code == 401  # it revoked itself


def test_another_teachers_token_is_404(app, client, auth):
    from web.auth import create_teacher

    with app.app_context():
        other, _ = create_teacher("other@school.test", PASSWORD)
        other_token_id = other.tokens[0].id
    assert client.delete(f"/api/v1/tokens/{other_token_id}", headers=auth).status_code == 404
    assert client.post(f"/api/v1/tokens/{other_token_id}/reissue", headers=auth).status_code == 404


def test_tokens_on_the_dashboard(client, teacher):
    login(client, teacher.email)
    page = client.get("/tokens")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = csrf(client, "/tokens")
    assert client.post("/tokens", data={"name": "x"}).status_code == 400  # no CSRF token
    made = client.post("/tokens", data={"csrf_token": token, "name": "gradebook sync"}).get_data(as_text=True)
    plain = re.search(r'<code class="secret">(sw_[^<]+)</code>', made).group(1)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/assignments", headers=headers).status_code == 200
    rows = client.get("/api/v1/tokens", headers=headers).get_json()["tokens"]
    new_id = next(r["id"] for r in rows if r["name"] == "gradebook sync")
    again = client.post(f"/tokens/{new_id}/reissue", data={"csrf_token": token}).get_data(as_text=True)
    replacement = re.search(r'<code class="secret">(sw_[^<]+)</code>', again).group(1)
    assert client.get("/api/v1/assignments", headers=headers).status_code == 401
    headers = {"Authorization": f"Bearer {replacement}"}
    rows = client.get("/api/v1/tokens", headers=headers).get_json()["tokens"]
    current = next(r["id"] for r in rows if r["name"] == "gradebook sync" and r["active"])
    assert client.post(f"/tokens/{current}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/assignments", headers=headers).status_code == 401
    assert client.post("/tokens/99999999999/revoke", data={"csrf_token": token}).status_code == 404
    assert plain not in client.get("/tokens").get_data(as_text=True)  # shown once
