"""Metrics recorded where the work happens: intake in the web process, grading in a real Celery
worker that serves its prefork pool's samples on STEPWISE_WORKER_METRICS_PORT, and failures."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import pytest
import redis as redis_lib
from private_services import free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from support import start_worker, stop_worker, wait_for, worker_env
from test_ops import samples

from store.db import db

pytestmark = pytest.mark.slow

ASSIGNMENT = {
    "title": "Metrics",
    "problems": [{"statement": "1+1", "answer": "2"}, {"statement": "2/4", "answer": "1/2"}],
}
LATENCY = ("stepwise_grading_latency_seconds_count", ())
TASK_SECONDS = ("stepwise_grading_task_seconds_count", ())
GRADING_FAILURES = ("stepwise_failures_total", (("kind", "grading"),))


@pytest.fixture(scope="module")
def metrics_worker(settings, redis_url, tmp_path_factory):
    """One real prefork worker (2 processes) for the module, with its metrics port and JSON logs."""
    with redis_lib.Redis.from_url(redis_url) as client:
        client.flushdb()
    port = free_port()
    log = tmp_path_factory.mktemp("metrics-worker") / "worker.log"
    env = worker_env(settings, STEPWISE_WORKER_METRICS_PORT=port, STEPWISE_LOG_FORMAT="json")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the worker makes its own directory
    proc = start_worker(env, "grading,lms", log)
    proc.port, proc.log_path = port, log
    yield proc
    stop_worker(proc)


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def delta(after: dict, before: dict, key: tuple) -> float:
    return after.get(key, 0) - before.get(key, 0)


def _assignment(client, auth) -> int:
    return client.post("/api/v1/assignments", json=ASSIGNMENT, headers=auth).get_json()["id"]


def _submit(client, auth, assignment_id: int, answers: list[dict]) -> str:
    body = {"student": "Ada", "answers": answers}
    resp = client.post(f"/api/v1/assignments/{assignment_id}/submissions", json=body, headers=auth)
    assert resp.status_code == 202
    return resp.get_json()["url"]


def _finished(client, auth, url):
    body = client.get(url, headers=auth).get_json()
    return body if body["status"] in ("graded", "needs_review", "failed") else None


def test_intake_is_counted_by_web_and_grading_by_the_worker_that_did_it(client, auth, metrics_worker):
    web_before, worker_before = samples(client), scrape(metrics_worker.port)
    answers = [{"problem": 1, "answer": "2"}, {"problem": 2, "answer": "0.5"}]
    url = _submit(client, auth, _assignment(client, auth), answers)
    assert wait_for(lambda: _finished(client, auth, url), timeout=60)["status"] == "graded"

    web, api = samples(client), (("source", "api"),)
    assert delta(web, web_before, ("stepwise_intake_submissions_total", api)) == 1
    assert delta(web, web_before, ("stepwise_intake_answers_total", api)) == 2

    # Graded in a pool process; served by the parent, which never ran the task.
    worker = wait_for(lambda: delta(s := scrape(metrics_worker.port), worker_before, LATENCY) and s)
    assert delta(worker, worker_before, LATENCY) == delta(worker, worker_before, TASK_SECONDS) == 1
    assert 0 < worker[("stepwise_grading_latency_seconds_sum", ())] < 60

    # STEPWISE_LOG_FORMAT=json reaches the worker: Celery's own lines and the stepwise ones.
    lines = [json.loads(line) for line in metrics_worker.log_path.read_text().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert any(e.endswith(" ready.") for e in events) and any(e.startswith("grade.done") for e in events)
    assert any(e.startswith("metrics.serving") for e in events)
    assert any(e.startswith("grader.warm_up seconds=") for e in events)  # logged once logging is set up


def test_a_grader_failure_in_the_worker_counts_as_a_grading_failure(client, auth, app, metrics_worker):
    from store.models import Problem

    assignment_id = _assignment(client, auth)
    with app.app_context():  # a policy the grader refuses (as an older version might have stored it)
        problem = db.session.scalar(
            select(Problem).where(Problem.assignment_id == assignment_id, Problem.position == 2)
        )
        problem.policy = {"sigfigs": "three"}
        db.session.commit()
    before = scrape(metrics_worker.port)
    url = _submit(client, auth, assignment_id, [{"problem": 2, "answer": "1/2"}])
    assert wait_for(lambda: _finished(client, auth, url), timeout=60)["status"] == "failed"
    after = wait_for(lambda: delta(s := scrape(metrics_worker.port), before, GRADING_FAILURES) and s)
    assert delta(after, before, GRADING_FAILURES) == 1


def test_a_refused_enqueue_is_counted_where_it_was_sent(settings, auth):
    from web import create_app

    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    enqueue = ("stepwise_failures_total", (("kind", "enqueue"),))
    before = samples(broken)
    _submit(broken, auth, _assignment(broken, auth), [{"problem": 1, "answer": "2"}])  # stored all the same
    assert delta(samples(broken), before, enqueue) == 1


def test_the_model_runner_counts_the_tokens_it_generates(tiny_model_path, tmp_path):
    from prometheus_client import REGISTRY

    from store.settings import Settings
    from worker.runtime import ModelRunner

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    settings = Settings(
        instance_dir=str(tmp_path), model=str(tiny_model_path), model_local_only=True, device="cpu", max_new_tokens=8
    )
    runner = ModelRunner(settings)
    try:
        tokens, seconds = value("stepwise_generation_tokens_total"), value("stepwise_generation_seconds_total")
        samples = runner.generate(["1+1"], samples=2)[0]
        assert value("stepwise_generation_tokens_total") - tokens == sum(s.completion_tokens for s in samples) > 0
        assert value("stepwise_generation_seconds_total") > seconds
    finally:
        runner.shutdown()
