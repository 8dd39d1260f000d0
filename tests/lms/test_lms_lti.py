"""LTI 1.3 launch against the test platform: OIDC login, id_token checks, deep linking, submit."""

from __future__ import annotations

import re

import jwt
import pytest
import requests
from lms_helpers import counts
from platform_server import rsa_pair

from store.lms import LtiResourceLink
from store.models import Submission

INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]


def oidc_login(client, platform, **extra):
    params = {
        "iss": platform.issuer,
        "login_hint": "hint-1",
        "target_link_uri": "http://127.0.0.1:8000/lms/launch",
        "lti_message_hint": "msg-1",
        "client_id": platform.client_id,
        **extra,
    }
    response = client.get("/lms/login", query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(platform.auth_url + "?")
    # the browser follows the redirect to the platform, which answers with the auth request it got
    auth = requests.get(location, timeout=5).json()
    return auth


def launch(client, platform, *, state=None, **token_kwargs):
    auth = oidc_login(client, platform)
    token = platform.id_token(nonce=auth["nonce"], **token_kwargs)
    response = client.post("/lms/launch", data={"id_token": token, "state": state or auth["state"]})
    return response, auth, token


def test_login_redirects_to_platform_with_state_and_nonce(client, platform, lti_integration):
    auth = oidc_login(client, platform)
    assert auth["client_id"] == platform.client_id
    assert auth["redirect_uri"] == "http://127.0.0.1:8000/lms/launch"
    assert auth["response_type"] == "id_token" and auth["response_mode"] == "form_post"
    assert auth["scope"] == "openid" and auth["prompt"] == "none"
    assert auth["login_hint"] == "hint-1" and auth["lti_message_hint"] == "msg-1"
    assert auth["state"].startswith("state-") and len(auth["nonce"]) >= 32


def test_login_for_unknown_platform_is_refused(client, platform, lti_integration):
    response = client.get(
        "/lms/login", query_string={"iss": "https://unknown.example", "login_hint": "x", "client_id": "nope"}
    )
    assert response.status_code == 400
    response = client.get(
        "/lms/login",
        query_string={"iss": platform.issuer, "login_hint": "x", "target_link_uri": "https://evil.example/"},
    )
    assert response.status_code == 400


def test_student_launch_and_submit(client, session, platform, lti_integration, assignment, enqueued):
    integration, _ = lti_integration
    response, _auth, _ = launch(client, platform, custom={"assignment": str(assignment.id)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Homework 1" in html and "What is 2 + 2?" in html
    link = session.query(LtiResourceLink).one()
    assert (link.resource_link_id, link.assignment_id, link.lineitem_url) == (
        "rl-1",
        assignment.id,
        platform.lineitem(1),
    )
    launch_id = re.search(r'name="launch_id" value="([^"]+)"', html).group(1)
    response = client.post(
        "/lms/launch/submit",
        data={"launch_id": launch_id, "answer-1": "4", "answer-2": "x^2+2x+1", "work-2": "(x+1)(x+1)\nx^2+2x+1"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "submitted" in response.get_data(as_text=True)
    sub = session.query(Submission).one()
    assert sub.source == "lms" and sub.integration_id == integration.id and sub.student == "Ada Lovelace"
    assert sub.lms_context["lti"]["user_id"] == "student-1"
    assert sub.lms_context["lti"]["lineitem"] == platform.lineitem(1)
    assert sub.answers[1].work == ["(x+1)(x+1)", "x^2+2x+1"]
    assert enqueued["grading"] == [sub.id]
    # submitting again (double click, back button) does not create a second submission
    client.post("/lms/launch/submit", data={"launch_id": launch_id, "answer-1": "5"})
    assert counts(session)["Submission"] == 1 and enqueued["grading"] == [sub.id]


def test_instructor_launch_links_and_shows_assignment(client, session, platform, lti_integration, assignment):
    response, _, _ = launch(client, platform, sub="teacher-1", roles=INSTRUCTOR, resource_link_id="rl-2")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Link a Stepwise assignment" in html
    launch_id = re.search(r'name="launch_id" value="([^"]+)"', html).group(1)
    response = client.post("/lms/launch/link", data={"launch_id": launch_id, "assignment": assignment.id})
    assert response.status_code == 200 and "Grades go back to the gradebook" in response.get_data(as_text=True)
    session.expire_all()
    assert session.query(LtiResourceLink).one().assignment_id == assignment.id
    # a later student launch of the same link finds the assignment without a custom parameter
    response, _, _ = launch(client, platform, resource_link_id="rl-2")
    assert response.status_code == 200 and "What is 2 + 2?" in response.get_data(as_text=True)


def test_deep_linking_returns_signed_content_item(client, session, platform, lti_integration, assignment):
    response, _, _ = launch(client, platform, sub="teacher-1", roles=INSTRUCTOR, message_type="LtiDeepLinkingRequest")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Add a Stepwise assignment" in html
    launch_id = re.search(r'name="launch_id" value="([^"]+)"', html).group(1)
    response = client.post("/lms/deep-link", data={"launch_id": launch_id, "assignment": assignment.id})
    html = response.get_data(as_text=True)
    assert platform.url + "/deep_link_return" in html
    token = re.search(r'name="JWT" value="([^"]+)"', html).group(1)
    jwks = client.get("/lms/jwks").get_json()
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=platform.issuer)
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert items[0]["custom"] == {"assignment": str(assignment.id)}
    assert items[0]["lineItem"]["scoreMaximum"] == 3.0
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "dl-data-1"


def test_deep_linking_is_for_instructors_only(client, platform, lti_integration, assignment):
    response, _, _ = launch(client, platform, message_type="LtiDeepLinkingRequest")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "case", ["replay", "foreign_key", "expired", "wrong_client", "wrong_deployment", "bad_state", "no_state"]
)
def test_bad_launches_are_refused(case, client, session, platform, lti_integration, assignment, enqueued):
    custom = {"assignment": str(assignment.id)}
    if case == "replay":
        response, auth, token = launch(client, platform, custom=custom)
        assert response.status_code == 200
        response = client.post("/lms/launch", data={"id_token": token, "state": auth["state"]})
    elif case == "foreign_key":
        other_private, _ = rsa_pair(platform.kid)  # same kid, key the platform never published
        response, _, _ = launch(client, platform, custom=custom, key=other_private)
    elif case == "expired":
        response, _, _ = launch(client, platform, custom=custom, exp_delta=-120)
    elif case == "wrong_client":
        response, _, _ = launch(client, platform, custom=custom, client_id="someone-else")
    elif case == "wrong_deployment":
        response, _, _ = launch(client, platform, custom=custom, deployment_id="deploy-999")
    elif case == "bad_state":
        response, _, _ = launch(client, platform, custom=custom, state="state-forged")
    else:
        auth = oidc_login(client, platform)
        token = platform.id_token(nonce=auth["nonce"], custom=custom)
        response = client.post("/lms/launch", data={"id_token": token})
    assert response.status_code == 401
    if case != "replay":
        assert session.query(LtiResourceLink).count() == 0
    assert counts(session)["Submission"] == 0


def test_expired_or_forged_launch_id_cannot_submit(client, session, platform, lti_integration, assignment):
    response = client.post("/lms/launch/submit", data={"launch_id": "lti1p3-launch-forged", "answer-1": "4"})
    assert response.status_code == 401
    assert counts(session)["Submission"] == 0


def test_platform_keys_only_from_registered_hosts(client, session, platform, lti_integration, assignment):
    from store.lms import Integration

    integration, _ = lti_integration
    row = session.get(Integration, integration.id)
    row.allowed_hosts = ["lms.school.example"]
    session.commit()
    response, _, _ = launch(client, platform, custom={"assignment": str(assignment.id)})
    assert response.status_code == 401
    assert "GET /jwks" not in platform.requests


def test_tool_jwks_has_public_keys_only(client, lti_integration):
    integration, _ = lti_integration
    keys = client.get("/lms/jwks").get_json()["keys"]
    assert [k["kid"] for k in keys] == [integration.tool_kid]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0] and "p" not in keys[0]
