"""Operations: health and readiness checks, Prometheus metrics, JSON logs."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from web import create_app


def samples(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "up", "broker": "up", "model": "off"}


def test_readyz_is_503_while_the_broker_is_down(settings):
    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    resp = broken.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert resp.get_json()["broker"] == "down" and resp.get_json()["database"] == "up"
    assert broken.test_client().get("/healthz").status_code == 200  # alive all the same


def test_metrics_report_queue_depth_rows_and_recorded_work(client, auth):
    from store import metrics

    created = client.post(
        "/api/v1/assignments", headers=auth, json={"title": "t", "problems": [{"statement": "1+1", "answer": "2"}]}
    ).get_json()
    for student in ("a", "b"):
        client.post(
            f"/api/v1/assignments/{created['id']}/submissions",
            headers=auth,
            json={"student": student, "answers": [{"problem": 1, "answer": "2"}]},
        )
    before = samples(client)
    metrics.record_graded(0.3, 0.02)
    metrics.record_generation(500, 2.0)
    metrics.record_failure("grading")
    after = samples(client)
    assert after[("stepwise_submissions", (("status", "queued"),))] == 2
    assert after[("stepwise_submissions_received_total", (("source", "api"),))] == 2
    # No worker runs here: both grading messages wait in the grading queue.
    assert after[("stepwise_queue_depth", (("queue", "grading"),))] >= 2
    assert ("stepwise_queue_depth", (("queue", "reasoning"),)) in after

    def delta(name, labels=()):
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert delta("stepwise_grading_latency_seconds_count") == 1
    assert delta("stepwise_grading_latency_seconds_bucket", (("le", "0.5"),)) == 1
    assert delta("stepwise_generation_tokens_total") == 500
    assert delta("stepwise_generation_tokens_per_second_sum") == pytest.approx(250)  # float sum, others add theirs
    assert delta("stepwise_failures_total", (("kind", "grading"),)) == 1


def test_json_logs(settings, capsys):
    create_app(replace(settings, log_format="json"))
    try:
        logging.getLogger("stepwise.intake").info("submission.queued submission=%s", 7, extra={"submission": 7})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["event"] == "submission.queued submission=7" and record["submission"] == 7
        assert record["level"] == "info" and record["logger"] == "stepwise.intake"
    finally:
        from store import logs

        logs.configure("text")
