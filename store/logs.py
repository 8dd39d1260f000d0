"""Logging setup for every process (web, workers, CLI): plain lines by default, one JSON object per
line with STEPWISE_LOG_FORMAT=json. The web app calls `configure(settings.log_format)` at start;
Celery workers do too, and put their own handlers in the same format (tasks/celery_app.py)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        body.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def is_json(log_format: str) -> bool:
    return log_format.strip().lower() == "json"


def format_handlers(logger: logging.Logger, log_format: str) -> None:
    """Give a logger's existing handlers (Celery's, say) the chosen format."""
    if is_json(log_format):
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Give the `stepwise` loggers one handler in the chosen format (idempotent)."""
    logger = logging.getLogger("stepwise")
    for handler in list(logger.handlers):
        if getattr(handler, "_stepwise", False):
            logger.removeHandler(handler)
    if not is_json(log_format):
        return  # plain text: the server's own logging setup (waitress, gunicorn, celery) stays in charge
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler._stepwise = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
