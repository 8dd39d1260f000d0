"""Helpers shared by the LMS tests (signing deliveries, counting rows, logging in)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC

from sqlalchemy import func, select

from lms import crypto


def event(assignment_id, external_id="lms-sub-1", **data):
    body = {
        "type": "submission.created",
        "id": "evt-" + external_id,
        "data": {
            "assignment": assignment_id,
            "student": "ada@school.test",
            "external_id": external_id,
            "answers": [{"problem": 1, "answer": "4", "work": ["2 + 2 = 4"]}, {"problem": 2, "answer": "x^2+2x+1"}],
            **data,
        },
    }
    return json.dumps(body).encode()


def deliver_webhook(client, integration, secret, body: bytes, *, timestamp=None, signature=None, headers=None):
    hdrs = {
        "Content-Type": "application/json",
        crypto.INTEGRATION_HEADER: integration.public_id,
        crypto.SIGNATURE_HEADER: signature or crypto.sign(secret, body, timestamp),
    }
    hdrs.update(headers or {})
    return client.post("/lms/webhook", data=body, headers=hdrs)


def counts(session) -> dict[str, int]:
    from store.models import Answer, Job, Submission

    session.rollback()
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in (Submission, Answer, Job)}


def login(client, teacher) -> None:
    with client.session_transaction() as s:  # what Flask-Login stores: the teacher and their session nonce
        s["_user_id"] = f"{teacher.id}.{teacher.session_nonce}"
        s["_fresh"] = True


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf token in page"
    return match.group(1)


def now() -> int:
    return int(time.time())


def graded_submission(
    session,
    integration,
    assignment,
    *,
    score=3.0,
    status="graded",
    lti_user="student-1",
    lineitem=None,
    callback_url=None,
    external_id="ext-1",
):
    """A stored LMS submission already graded (as the grading service would leave it)."""
    from store.intake import AnswerIn, create_submission
    from store.models import Source

    context = {"integration": integration.public_id, "external_id": external_id}
    if lti_user:
        context["lti"] = {"user_id": lti_user, "lineitem": lineitem}
    sub, _ = create_submission(
        session,
        assignment,
        student="Ada",
        answers=[AnswerIn(1, "4"), AnswerIn(2, "x^2+2x+1")],
        source=Source.lms,
        external_id=f"{integration.public_id}:{external_id}",
        callback_url=callback_url,
        integration_id=integration.id,
        lms_context=context,
    )
    session.commit()
    set_grade(session, sub, score=score, status=status)
    return sub


def set_grade(session, sub, *, score, status="graded"):
    from datetime import datetime

    from store.models import Grade

    remaining = score
    for answer in sub.answers:
        points = answer.problem.points
        got = min(points, remaining)
        remaining -= got
        if answer.grade is None:
            answer.grade = Grade(status="correct", score=got, points=points)
        answer.grade.score = got
        answer.grade.status = "correct" if got == points else "incorrect"
        answer.grade.feedback = "Well done." if got == points else "Check the expansion."
    sub.status = status
    sub.score = score
    sub.graded_at = datetime.now(UTC)
    session.commit()
