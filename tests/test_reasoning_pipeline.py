"""A problem without a key, end to end: API intake, a real reasoning worker with the tiny model,
a real grading worker, and the teacher's key winning over the model afterwards."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support import start_worker, stop_worker, wait_for, worker_env

from store.db import db
from store.models import Problem, ReferenceSolution

pytestmark = pytest.mark.slow

MODEL_ENV = dict(
    STEPWISE_MODEL_ENABLED="1",
    STEPWISE_MODEL_LOCAL_ONLY="1",
    STEPWISE_DEVICE="cpu",
    STEPWISE_MAX_NEW_TOKENS="12",
    STEPWISE_SAMPLES="3",
    STEPWISE_BATCH_SIZE="4",
    HF_HUB_OFFLINE="1",
    TOKENIZERS_PARALLELISM="false",
)


@pytest.fixture
def model_app(settings, tiny_model_path):
    """The web app of an install whose reasoning workers hold the (tiny) model."""
    from web import create_app

    model_settings = replace(
        settings,
        model_enabled=True,
        model=str(tiny_model_path),
        model_local_only=True,
        device="cpu",
        max_new_tokens=12,
        samples=3,
        batch_size=4,
    )
    app = create_app(model_settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def workers(settings, redis_url, tiny_model_path, tmp_path):
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    env = worker_env(settings, STEPWISE_MODEL=str(tiny_model_path), **MODEL_ENV)
    procs = [
        start_worker(env, "reasoning", tmp_path / "reasoning.log", pool="solo", concurrency=1),
        start_worker(env, "grading,lms", tmp_path / "grading.log"),
    ]
    yield procs
    for proc in procs:
        stop_worker(proc)


def test_keyless_problem_is_solved_once_voted_and_then_overridden_by_a_key(model_app, teacher, database_url, workers):
    auth = {"Authorization": f"Bearer {teacher.token}"}
    client = model_app.test_client()
    body = {"title": "No keys", "problems": [{"statement": "What is 6 times 7?"}, {"statement": "1+1", "answer": "2"}]}
    assignment = client.post("/api/v1/assignments", json=body, headers=auth).get_json()
    urls = []
    for student in ("Ada", "Ben"):
        resp = client.post(
            f"/api/v1/assignments/{assignment['id']}/submissions",
            headers=auth,
            json={"student": student, "answers": [{"problem": 1, "answer": "42"}, {"problem": 2, "answer": "2"}]},
        )
        urls.append(resp.get_json()["url"])

    def settled(url):
        sub = client.get(url, headers=auth).get_json()
        return sub if sub["status"] in ("graded", "needs_review", "failed") else None

    subs = [wait_for(lambda u=u: settled(u), timeout=150, interval=0.5) for u in urls]
    with model_app.app_context():
        refs = db.session.query(ReferenceSolution).order_by(ReferenceSolution.id).all()
        # One reference for the keyless problem (never one per student; a keyed problem uses no GPU
        # unless the teacher asks for worked solutions), with every sample stored.
        assert len(refs) == 1
        for ref in refs:
            assert ref.status in ("ready", "needs_review")
            assert len(ref.samples) == 3 and ref.agreement is not None and ref.completion_tokens > 0
    keyless = refs[0]
    for sub in subs:
        first, second = sub["answers"]
        assert second["status"] == "correct" and second["reference"] == "key"  # keyed problems never wait
        if keyless.status == "needs_review":  # a random model rarely agrees with itself
            assert sub["status"] == "needs_review" and first["status"] == "needs_review"
        else:
            assert first["reference"] == "model"

    # The teacher sets a key: it wins, and both students are graded against it.
    with model_app.app_context():
        problem = db.session.query(Problem).filter_by(position=1).one()
        from web.intake import set_key

        set_key(problem, "42")
    for url in urls:
        done = wait_for(lambda u=url: (s := settled(u)) and s["status"] == "graded" and s, timeout=60)
        assert done["score"] == 2 and done["answers"][0]["reference"] == "key"
