"""Operations endpoints: `/healthz` (alive), `/readyz` (database, broker, model) and `/metrics`."""

from __future__ import annotations

import logging
import os
import time

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select, text

import store.metrics  # defines the metric objects in this process
from store.db import db

bp = Blueprint("ops", __name__)
log = logging.getLogger("stepwise.web")
QUEUES = ("grading", "lms", "reasoning")


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not ready", whatever its type
        log.warning("health.database_down error=%s", type(exc).__name__)
        db.session.rollback()
        return "down"
    return None


def _redis():
    import redis

    url = current_app.config["STEPWISE"].redis_url
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) if url else None


def _check_broker() -> str | None:
    client = _redis()
    if client is None:
        return None  # the embedded broker lives in the database directory
    try:
        client.ping()
    except Exception as exc:  # redis-py raises several families (connection, timeout, auth)
        log.warning("health.broker_down error=%s", type(exc).__name__)
        return "down"
    finally:
        client.close()
    return None


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers and compose: the process answers and the database does."""
    settings = current_app.config["STEPWISE"]
    if _check_database():
        return {"status": "error", "database": "down"}, 503
    return {"status": "ok", "database": "up", "broker": "redis" if settings.redis_url else "embedded"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database and the broker answer; the model is reported where it is enabled."""
    settings = current_app.config["STEPWISE"]
    checks = {"database": _check_database() or "up", "broker": _check_broker() or "up"}
    checks["model"] = "enabled" if settings.model_enabled else "off"
    ready = checks["database"] == "up" and checks["broker"] == "up"
    body = {"status": "ok" if ready else "error", **checks}
    return body, (200 if ready else 503), ({} if ready else {"Retry-After": "10"})


class ScrapeTimeCollector:
    """Queue depth per queue and rows per status, read when Prometheus scrapes (right across machines)."""

    def collect(self):
        depth = GaugeMetricFamily("stepwise_queue_depth", "Messages waiting in each broker queue", labels=["queue"])
        client = _redis()
        if client is not None:
            try:
                for queue in QUEUES:
                    depth.add_metric([queue], client.llen(queue))
            except Exception as exc:  # a broker outage must not break the scrape
                log.warning("metrics.broker_unreachable error=%s", type(exc).__name__)
            finally:
                client.close()
        yield depth
        from store.models import ReferenceSolution, Submission

        submissions = GaugeMetricFamily("stepwise_submissions", "Submissions by status", labels=["status"])
        references = GaugeMetricFamily(
            "stepwise_reference_solutions", "Reference solutions by status", labels=["status"]
        )
        received = CounterMetricFamily(
            "stepwise_submissions_received",
            "Submissions stored, by source (rate() of it is the intake rate across every process)",
            labels=["source"],
        )
        try:
            for model, family in ((Submission, submissions), (ReferenceSolution, references)):
                rows = db.session.execute(select(model.status, func.count()).group_by(model.status))
                for status, count in rows:
                    family.add_metric([str(status)], count)
            by_source = select(Submission.source, func.count()).group_by(Submission.source)
            for source, count in db.session.execute(by_source):
                received.add_metric([str(source)], count)
        except Exception as exc:  # a database outage must not break the scrape
            log.warning("metrics.database_unreachable error=%s", type(exc).__name__)
            db.session.rollback()
        yield submissions
        yield references
        yield received
        yield GaugeMetricFamily("stepwise_scrape_timestamp_seconds", "When this scrape ran", value=time.time())


@bp.get("/metrics")
def metrics():
    base = store.metrics.multiprocess_registry() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else REGISTRY
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ScrapeTimeCollector())
    return Response(generate_latest(base) + generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)
