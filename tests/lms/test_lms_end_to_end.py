"""Done means: a webhook delivery is graded by a real worker and its score arrives at the
platform's AGS scores endpoint."""

from __future__ import annotations

import json

import pytest
from lms_helpers import deliver_webhook
from support import wait_for

from store.lms import Delivery
from store.models import Submission


@pytest.mark.slow
def test_webhook_delivery_is_graded_and_passed_back(
    celery_worker, client, session, platform, lti_integration, assignment
):
    integration, secret = lti_integration
    body = json.dumps(
        {
            "type": "submission.created",
            "id": "evt-e2e-1",
            "data": {
                "assignment": {"id": assignment.id},
                "student": "Ada Lovelace",
                "external_id": "canvas-sub-77",
                "answers": [{"problem": 1, "answer": "4"}, {"problem": 2, "answer": "x**2 + 2*x + 1"}],
                "lti": {"user_id": "lti-user-42", "lineitem": platform.lineitem(5)},
            },
        }
    ).encode()
    response = deliver_webhook(client, integration, secret, body)
    assert response.status_code == 202, response.get_json()
    sub_id = response.get_json()["id"]

    wait_for(lambda: platform.scores, timeout=60)
    session.expire_all()
    sub = session.get(Submission, sub_id)
    assert sub.status in ("graded", "needs_review")
    score = platform.scores[0].json()
    assert platform.scores[0].path == "/lineitems/5/scores"
    assert score["userId"] == "lti-user-42"
    assert score["scoreGiven"] == sub.score and score["scoreMaximum"] == 3.0
    assert score["gradingProgress"] in ("FullyGraded", "PendingManual")
    assert score["activityProgress"] == "Completed"
    delivery = wait_for(lambda: session.query(Delivery).filter_by(status="sent").first() or session.rollback())
    assert delivery.submission_id == sub_id and delivery.attempts == 1

    # the LMS retries the same delivery: same answer, nothing new graded or posted
    again = deliver_webhook(client, integration, secret, body)
    assert again.get_json()["id"] == sub_id
    assert len(platform.scores) == 1
