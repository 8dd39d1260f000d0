"""Webhook intake: accepted, idempotent, and every rejection leaves nothing stored."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from lms_helpers import counts, deliver_webhook, event, now

from lms import crypto
from store.lms import Integration
from store.models import Submission

EMPTY = {"Submission": 0, "Answer": 0, "Job": 0}


def test_accepted_delivery_is_stored_and_queued(client, session, lti_integration, assignment, enqueued, platform):
    integration, secret = lti_integration
    body = event(assignment.id, callback_url=platform.url + "/callback")
    response = deliver_webhook(client, integration, secret, body)
    assert response.status_code == 202, response.get_json()
    data = response.get_json()
    assert data == {"id": data["id"], "status": "queued", "url": f"/api/v1/submissions/{data['id']}"}
    sub = session.get(Submission, data["id"])
    assert sub.source == "lms" and sub.integration_id == integration.id
    assert sub.student == "ada@school.test"
    assert sub.callback_url == platform.url + "/callback"
    assert sub.lms_context["external_id"] == "lms-sub-1"
    assert [a.work for a in sub.answers] == [["2 + 2 = 4"], []]
    assert enqueued["grading"] == [sub.id]
    assert counts(session) == {"Submission": 1, "Answer": 2, "Job": 1}


def test_redelivery_gives_one_submission_and_same_answer(client, session, lti_integration, assignment, enqueued):
    integration, secret = lti_integration
    body = event(assignment.id)
    first = deliver_webhook(client, integration, secret, body)
    second = deliver_webhook(client, integration, secret, body, timestamp=now() + 1)
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert counts(session)["Submission"] == 1
    assert enqueued["grading"] == [first.get_json()["id"]]


def test_lti_context_takes_lineitem(client, session, lti_integration, assignment, enqueued, platform):
    integration, secret = lti_integration
    body = event(assignment.id, lti={"user_id": "lti-user-9", "lineitem": platform.lineitem(3)})
    response = deliver_webhook(client, integration, secret, body)
    assert response.status_code == 202
    sub = session.get(Submission, response.get_json()["id"])
    assert sub.lms_context["lti"] == {"user_id": "lti-user-9", "lineitem": platform.lineitem(3)}


@pytest.mark.parametrize(
    "case",
    [
        "bad_signature",
        "stale",
        "future",
        "unknown_integration",
        "no_signature",
        "other_secret",
        "malformed_header",
        "tampered_body",
    ],
)
def test_unauthenticated_deliveries_are_refused(case, client, session, lti_integration, assignment, enqueued):
    integration, secret = lti_integration
    body = event(assignment.id)
    kwargs = {}
    if case == "bad_signature":
        kwargs["signature"] = f"t={now()},v1={'0' * 64}"
    elif case == "stale":
        kwargs["timestamp"] = now() - 301
    elif case == "future":
        kwargs["timestamp"] = now() + 301
    elif case == "unknown_integration":
        kwargs["headers"] = {crypto.INTEGRATION_HEADER: "int_0000000000000000"}
    elif case == "no_signature":
        kwargs["headers"] = {crypto.SIGNATURE_HEADER: ""}
    elif case == "other_secret":
        kwargs["signature"] = crypto.sign(crypto.new_secret(), body)
    elif case == "malformed_header":
        kwargs["signature"] = "sha256=abc"
    elif case == "tampered_body":
        kwargs["signature"] = crypto.sign(secret, body)
        body = body.replace(b'"4"', b'"5"')
    response = deliver_webhook(client, integration, secret, body, **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert counts(session) == EMPTY
    assert enqueued["grading"] == []


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda b: b"{not json", "body"),
        (lambda b: b"[1, 2]", "body"),
        (lambda b: b.replace(b"submission.created", b"submission.deleted"), "type"),
        (lambda b: b.replace(b'"student": "ada@school.test"', b'"student": ""'), "data.student"),
        (lambda b: b.replace(b'"external_id": "lms-sub-1"', b'"external_id": null'), "data.external_id"),
        (lambda b: b.replace(b'"problem": 1', b'"problem": 7'), "data.answers[0].problem"),
        (lambda b: b.replace(b'"answers": [', b'"answers": 5, "x": ['), "data.answers"),
    ],
)
def test_malformed_bodies_name_the_field(mutate, field, client, session, lti_integration, assignment, enqueued):
    integration, secret = lti_integration
    body = mutate(event(assignment.id))
    response = deliver_webhook(client, integration, secret, body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field
    assert counts(session) == EMPTY


def test_bad_assignment_reference(client, session, lti_integration, assignment, enqueued):
    integration, secret = lti_integration
    response = deliver_webhook(client, integration, secret, event("abc"))
    assert response.status_code == 400 and response.get_json()["field"] == "data.assignment"
    response = deliver_webhook(client, integration, secret, event({"id": assignment.id + 1000}))
    assert response.status_code == 404
    assert counts(session) == EMPTY


def test_assignment_of_another_teacher_is_404(client, session, lti_integration, assignment, enqueued):
    from store.intake import create_assignment, parse_problems
    from web.auth import create_teacher

    other, _ = create_teacher("other@school.test", "pw-other-teacher")
    theirs, _ = create_assignment(session, other, "Theirs", parse_problems([{"statement": "1+1", "answer": "2"}]))
    session.commit()
    integration, secret = lti_integration
    response = deliver_webhook(client, integration, secret, event(theirs.id))
    assert response.status_code == 404
    assert counts(session) == EMPTY


def test_callback_url_must_be_on_a_registered_host(client, session, lti_integration, assignment, enqueued):
    integration, secret = lti_integration
    for url in (
        "http://evil.example/steal",
        "http://169.254.169.254/latest/meta-data",
        "ftp://127.0.0.1/x",
        "http://user:pw@127.0.0.1/x",
    ):
        response = deliver_webhook(client, integration, secret, event(assignment.id, callback_url=url))
        assert response.status_code == 400, url
        assert response.get_json()["field"] == "data.callback_url"
    assert counts(session) == EMPTY


def test_oversized_body_is_413(client, session, lti_integration, assignment, settings, enqueued):
    integration, secret = lti_integration
    body = event(assignment.id, padding="x" * (settings.max_body_bytes + 10))
    response = deliver_webhook(client, integration, secret, body)
    assert response.status_code == 413
    assert counts(session) == EMPTY


def test_rate_limit_per_integration(app, client, session, lti_integration, assignment, settings, enqueued, monkeypatch):
    monkeypatch.setitem(app.config, "STEPWISE", dataclasses.replace(settings, webhook_rate_limit=3))
    integration, secret = lti_integration
    codes = [
        deliver_webhook(client, integration, secret, event(assignment.id, external_id=f"s{i}")).status_code
        for i in range(4)
    ]
    assert codes[:3] == [202, 202, 202] or 429 in codes  # a window boundary may reset the count once
    response = None
    for i in range(4, 10):
        response = deliver_webhook(client, integration, secret, event(assignment.id, external_id=f"s{i}"))
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    stored = counts(session)["Submission"]
    assert stored <= 6


def test_secrets_are_encrypted_and_never_logged(client, session, lti_integration, assignment, enqueued, caplog):
    caplog.set_level(logging.DEBUG)
    integration, secret = lti_integration
    row = session.get(Integration, integration.id)
    assert secret not in row.secret_encrypted and row.secret_encrypted.startswith("gAAAA")
    assert "PRIVATE KEY" not in row.tool_private_key_encrypted
    deliver_webhook(client, integration, secret, event(assignment.id))
    deliver_webhook(client, integration, secret, event(assignment.id), signature=f"t={now()},v1={'a' * 64}")
    assert secret not in caplog.text
    assert "lms.webhook.accepted" in caplog.text and "lms.webhook.rejected" in caplog.text
    assert secret not in repr(row)
