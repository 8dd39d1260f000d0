"""SSRF guard: only registered hosts, only public addresses, https, no redirects, timeouts."""

from __future__ import annotations

import pytest
from lms_helpers import graded_submission

from lms import Delivery, deliver
from lms.net import BlockedTarget, GuardedSession, check_url, check_url_syntax, host_allowed


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://192.168.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://100.64.0.1/x",
        "https://localhost/x",
    ],
)
def test_private_and_loopback_targets_are_refused(url):
    host = url.split("/")[2].strip("[]").rsplit("]", 1)[0]
    with pytest.raises(BlockedTarget):
        check_url(url, [host], allow_private=False)


def test_public_address_passes_the_address_check():
    assert check_url("https://8.8.8.8/x", ["8.8.8.8"]) == "8.8.8.8"


@pytest.mark.parametrize(
    "url,hosts",
    [
        ("http://lms.school.example/x", ["lms.school.example"]),  # https only
        ("https://evil.example/x", ["lms.school.example"]),
        ("https://lms.school.example.evil.example/x", ["lms.school.example"]),
        ("https://user:pw@lms.school.example/x", ["lms.school.example"]),
        ("file:///etc/passwd", ["lms.school.example"]),
        ("https:///nohost", ["lms.school.example"]),
    ],
)
def test_unregistered_or_malformed_urls_are_refused(url, hosts):
    with pytest.raises(BlockedTarget):
        check_url_syntax(url, hosts)


def test_host_allow_list_wildcards():
    assert host_allowed("school.instructure.com", ["*.instructure.com"])
    assert not host_allowed("instructure.com", ["*.instructure.com"])
    assert not host_allowed("evilinstructure.com", ["*.instructure.com"])
    assert host_allowed("LMS.School.Example.", ["lms.school.example"])


def test_guarded_session_refuses_loopback_without_the_test_flag(platform):
    with GuardedSession(["127.0.0.1"], allow_private=False) as http:
        with pytest.raises(BlockedTarget):
            http.post(platform.url + "/callback", data=b"{}")
    assert "POST /callback" not in platform.requests


def test_redirects_are_not_followed(platform):
    with GuardedSession(["127.0.0.1"], allow_private=True) as http:
        response = http.post(platform.url + "/redirect", data=b"{}")
    assert response.status_code == 302
    assert "POST /callback" not in platform.requests and "GET /callback" not in platform.requests


def test_passback_to_an_unregistered_host_fails_without_a_request(
    session, settings, platform, lti_integration, assignment
):
    from store.lms import Integration

    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    row = session.get(Integration, integration.id)
    row.allowed_hosts = ["lms.school.example"]  # the registration changed after intake
    session.commit()
    outcome = deliver(session, sub.id, settings)
    assert outcome.status == "failed" and outcome.reason.startswith("blocked")
    assert platform.requests == []
    assert session.get(Delivery, outcome.delivery_id).attempts == 1


def test_passback_refuses_private_addresses_in_production_mode(
    session, settings, platform, lti_integration, assignment
):
    import dataclasses

    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    production = dataclasses.replace(settings, lms_allow_private=False)
    outcome = deliver(session, sub.id, production)
    assert outcome.status == "failed" and "blocked" in outcome.reason
    assert platform.requests == []
