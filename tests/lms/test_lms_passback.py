"""Grade passback against the test platform: AGS over real HTTP, retries, no repost, failures."""

from __future__ import annotations

import time

from lms_helpers import csrf_from, graded_submission, login, set_grade

from lms import Backoff, Delivery, deliver
from lms.passback import scores_url

FAST = Backoff(base=0.01, cap=0.05, max_attempts=4)


def _attempts(session, delivery_id):
    session.expire_all()
    return [(a.number, a.outcome, a.response_code) for a in session.get(Delivery, delivery_id).attempt_log]


def test_ags_score_arrives_in_ags_format(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, score=3.0, lineitem=platform.lineitem(1))
    outcome = deliver(session, sub.id, settings, backoff=FAST)
    assert outcome.status == "sent" and outcome.response_code == 200
    assert len(platform.scores) == 1
    posted = platform.scores[0]
    assert posted.path == "/lineitems/1/scores"
    assert posted.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
    score = posted.json()
    assert score["userId"] == "student-1"
    assert score["scoreGiven"] == 3.0 and score["scoreMaximum"] == 3.0
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["timestamp"].endswith("Z") and "T" in score["timestamp"]
    assert "1: correct (1/1)" in score["comment"]
    # OAuth2 client credentials with a JWT assertion signed by the tool key (platform verified it)
    token_form = platform.token_requests[0].form
    assert token_form["grant_type"] == "client_credentials"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in token_form["scope"]
    delivery = session.get(Delivery, outcome.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.score_sent, delivery.channel) == ("sent", 1, 3.0, "ags")


def test_needs_review_is_pending_manual(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(
        session, integration, assignment, score=1.0, status="needs_review", lineitem=platform.lineitem(2)
    )
    assert deliver(session, sub.id, settings).status == "sent"
    assert platform.scores[0].json()["gradingProgress"] == "PendingManual"


def test_unchanged_grade_is_not_posted_again(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(
        session, integration, assignment, score=1.0, status="needs_review", lineitem=platform.lineitem(1)
    )
    assert deliver(session, sub.id, settings).status == "sent"
    again = deliver(session, sub.id, settings)
    assert (again.status, again.reason) == ("skipped", "unchanged")
    assert len(platform.scores) == 1
    set_grade(session, sub, score=3.0)  # the teacher's review changes the grade: post it
    assert deliver(session, sub.id, settings).status == "sent"
    assert deliver(session, sub.id, settings).status == "skipped"
    assert [s.json()["gradingProgress"] for s in platform.scores] == ["PendingManual", "FullyGraded"]
    assert [s.json()["scoreGiven"] for s in platform.scores] == [1.0, 3.0]


def test_task_retries_after_500s_then_succeeds(app, session, settings, platform, lti_integration, assignment):
    from dataclasses import replace

    import tasks.lms  # noqa: F401  (registers the task on every app)
    from tasks import PASSBACK_TASK
    from tasks.celery_app import make_celery

    fast = make_celery(replace(settings, passback_backoff_base=0.01, passback_backoff_cap=0.05))  # from Settings
    passback = fast.tasks[PASSBACK_TASK]
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.score_plan.extend([500, 503])
    result = passback.apply(args=[sub.id])
    assert result.get() == "sent"
    delivery = session.query(Delivery).one()
    assert _attempts(session, delivery.id) == [(1, "retry", 500), (2, "retry", 503), (3, "sent", 200)]
    retries = [a for a in delivery.attempt_log if a.outcome == "retry"]
    assert all(a.next_try_at is not None and a.error for a in retries)
    assert delivery.status == "sent" and delivery.next_try_at is None
    assert len(platform.scores) == 1


def test_timeouts_are_retried(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.hang_s = 1.5
    platform.score_plan.append("hang")
    first = deliver(session, sub.id, settings, backoff=FAST, timeout=(0.5, 0.5))
    assert first.status == "retry" and first.reason == "timed out" and first.countdown == 0.01
    second = deliver(session, sub.id, settings, backoff=FAST, retries_done=1, timeout=(0.5, 0.5))
    assert second.status == "sent" and second.delivery_id == first.delivery_id
    assert _attempts(session, first.delivery_id) == [(1, "retry", None), (2, "sent", 200)]


def test_token_endpoint_failure_is_retried(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.token_plan.append(500)
    outcome = deliver(session, sub.id, settings, backoff=FAST)
    assert outcome.status == "retry" and outcome.response_code == 500 and "token" in outcome.reason
    assert deliver(session, sub.id, settings, backoff=FAST, retries_done=1).status == "sent"


def test_client_errors_fail_without_retry(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.score_plan.append(422)
    outcome = deliver(session, sub.id, settings, backoff=FAST)
    assert outcome.status == "failed" and outcome.response_code == 422 and outcome.countdown is None
    delivery = session.get(Delivery, outcome.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 422)


def test_retries_are_capped(app, session, settings, platform, lti_integration, assignment):
    from dataclasses import replace

    import tasks.lms  # noqa: F401  (registers the task on every app)
    from tasks import PASSBACK_TASK
    from tasks.celery_app import make_celery

    fast = make_celery(
        replace(settings, passback_backoff_base=0.01, passback_backoff_cap=0.02, passback_max_attempts=3)
    )
    passback = fast.tasks[PASSBACK_TASK]
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.score_plan.extend([500] * 10)
    result = passback.apply(args=[sub.id])
    assert result.get() == "failed"
    delivery = session.query(Delivery).one()
    assert _attempts(session, delivery.id) == [(1, "retry", 500), (2, "retry", 500), (3, "failed", 500)]
    assert delivery.status == "failed" and delivery.next_try_at is None
    assert platform.scores == []


def test_backoff_is_exponential_with_a_cap():
    backoff = Backoff(base=30, cap=3600, max_attempts=10)
    assert [backoff.delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


def test_signed_webhook_passback(session, settings, platform, lti_integration, assignment):
    integration, _secret = lti_integration
    sub = graded_submission(
        session, integration, assignment, score=2.0, lti_user=None, callback_url=platform.url + "/callback"
    )
    outcome = deliver(session, sub.id, settings)
    assert outcome.status == "sent" and outcome.response_code == 204
    assert len(platform.callbacks) == 1  # the platform checked the signature with the secret
    event = platform.callbacks[0].json()
    assert event["type"] == "submission.graded"
    assert event["data"]["external_id"] == "ext-1"
    assert event["data"]["score"] == 2.0 and event["data"]["max_score"] == 3.0
    assert deliver(session, sub.id, settings).status == "skipped"


def test_not_graded_or_not_lms_is_skipped(session, settings, platform, lti_integration, assignment):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    sub.status = "grading"
    session.commit()
    assert deliver(session, sub.id, settings).status == "skipped"
    assert deliver(session, 999999, settings).status == "skipped"
    assert platform.scores == [] and session.query(Delivery).count() == 0


def test_scores_url_keeps_query():
    assert (
        scores_url("https://lms.test/api/lti/courses/1/line_items/2")
        == "https://lms.test/api/lti/courses/1/line_items/2/scores"
    )
    assert (
        scores_url("https://moodle.test/mod/lti/services.php/2/lineitems/7/lineitem?type_id=1")
        == "https://moodle.test/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=1"
    )


def test_dashboard_lists_failed_deliveries_and_retries(
    client, session, settings, platform, lti_integration, assignment, teacher, enqueued
):
    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.score_plan.append(400)
    outcome = deliver(session, sub.id, settings)
    assert outcome.status == "failed"

    assert client.get("/lms/deliveries").status_code == 302  # login required
    login(client, teacher)
    page = client.get("/lms/deliveries")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "failed" in html and "400" in html
    url = f"/lms/deliveries/{outcome.delivery_id}/retry"
    assert client.post(url).status_code == 400  # no CSRF token
    assert enqueued["passback"] == []
    response = client.post(url, data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert enqueued["passback"] == [sub.id]
    session.expire_all()
    assert session.get(Delivery, outcome.delivery_id).status == "pending"
    # the queued task re-sends the same grade on the same delivery row
    assert deliver(session, sub.id, settings).status == "sent"
    assert _attempts(session, outcome.delivery_id) == [(1, "failed", 400), (2, "sent", 200)]


def test_no_transaction_or_lock_is_held_while_the_lms_is_called(
    session, settings, platform, lti_integration, assignment, database_url
):
    """Passback claims and commits, then sends: while the LMS takes its time, this database shows
    no connection idle in a transaction and no advisory lock."""
    import threading

    from sqlalchemy import create_engine, text

    integration, _ = lti_integration
    sub = graded_submission(session, integration, assignment, lineitem=platform.lineitem(1))
    platform.hang_s = 1.5
    platform.score_plan.append("hang")
    result = {}
    worker = threading.Thread(target=lambda: result.update(outcome=deliver(session, sub.id, settings)))
    worker.start()
    probe = create_engine(database_url)
    seen = []
    try:
        with probe.connect() as conn:
            for _ in range(10):
                time.sleep(0.1)
                seen.append(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND state = 'idle in transaction'"
                        )
                    ).scalar()
                )
                seen.append(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())"
                        )
                    ).scalar()
                )
                conn.rollback()
            sending = conn.execute(text("SELECT status FROM lms_deliveries")).scalar()
    finally:
        worker.join()
        probe.dispose()
    assert sending == "sending"  # the claim was committed before the call
    assert seen and not any(seen), seen
    assert result["outcome"].status == "sent"
