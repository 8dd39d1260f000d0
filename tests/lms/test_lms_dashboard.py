"""Teacher pages: create an integration (secret shown once, stored encrypted), CSRF enforced."""

from __future__ import annotations

import re

from lms_helpers import csrf_from, login

from store.lms import Integration


def test_create_integration_shows_secret_once(client, session, teacher, settings):
    assert client.get("/lms/integrations").status_code == 302
    login(client, teacher)
    page = client.get("/lms/integrations")
    assert page.status_code == 200 and "No integrations yet" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    form = {"name": "Canvas", "kind": "webhook", "allowed_hosts": "canvas.school.example"}
    assert client.post("/lms/integrations", data=form).status_code == 400  # no CSRF token
    assert session.query(Integration).count() == 0
    response = client.post("/lms/integrations", data={**form, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', html).group(1)
    row = session.query(Integration).one()
    assert row.allowed_hosts == ["canvas.school.example"] and secret not in row.secret_encrypted
    assert secret not in client.get("/lms/integrations").get_data(as_text=True)
    from lms.integrations import webhook_secret

    assert webhook_secret(row, settings) == secret


def test_lti_integration_needs_platform_urls(client, session, teacher):
    login(client, teacher)
    token = csrf_from(client.get("/lms/integrations").get_data(as_text=True))
    response = client.post(
        "/lms/integrations",
        data={"csrf_token": token, "name": "Moodle", "kind": "lti", "issuer": "https://moodle.school.example"},
    )
    assert response.status_code == 400 and "client_id" in response.get_data(as_text=True)
    assert session.query(Integration).count() == 0
    response = client.post(
        "/lms/integrations",
        data={
            "csrf_token": token,
            "name": "Moodle",
            "kind": "lti",
            "issuer": "https://moodle.school.example",
            "client_id": "abc123",
            "deployment_ids": "1",
            "auth_login_url": "https://moodle.school.example/mod/lti/auth.php",
            "auth_token_url": "https://moodle.school.example/mod/lti/token.php",
            "key_set_url": "https://moodle.school.example/mod/lti/certs.php",
        },
    )
    assert response.status_code == 200
    row = session.query(Integration).one()
    assert row.allowed_hosts == ["moodle.school.example"] and row.deployment_ids == ["1"]
    assert row.tool_kid and "BEGIN PUBLIC KEY" in row.tool_public_key
    assert [k["kid"] for k in client.get("/lms/jwks").get_json()["keys"]] == [row.tool_kid]


def test_huge_ids_are_404_not_500(client, teacher):
    login(client, teacher)
    token = csrf_from(client.get("/lms/integrations").get_data(as_text=True))
    for url in ("/lms/integrations/99999999999999999999/rotate", "/lms/deliveries/99999999999999999999/retry"):
        assert client.post(url, data={"csrf_token": token}).status_code == 404


def test_only_the_machine_endpoints_skip_csrf(app):
    """Teacher pages are dashboard pages; the /lms blueprint keeps only what LMS platforms call."""
    from web import csrf

    lms_endpoints = {e for e in app.view_functions if e.startswith("lms.")}
    assert lms_endpoints == {
        "lms.webhook",
        "lms.login",
        "lms.launch",
        "lms.link",
        "lms.deep_link",
        "lms.submit",
        "lms.jwks",
    }
    exempt = {e for e, view in app.view_functions.items() if f"{view.__module__}.{view.__name__}" in csrf._exempt_views}
    assert {e for e in exempt if not e.startswith("api.")} == lms_endpoints
