"""Error answers: JSON `{"error", "message"}` for API clients, a small HTML page for browsers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from store.db import db, is_transient, safe_rollback

log = logging.getLogger("stepwise.web")


class ApiError(Exception):
    """An error the API answers with a status, a short code and a readable message."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/lms/webhook")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def json_error(status: int, error: str, message: str, field: str | None = None):
    body = {"error": error, "message": message}
    if field:
        body["field"] = field
    return jsonify(body), status


RETRY_AFTER_S = 30


def _database_down(exc: Exception):
    """The database is unreachable or restarting: 503 with Retry-After, never a 500 with a trace.
    Nothing was stored, so the client can safely send the same request again."""
    safe_rollback(db.session())  # drop the broken connection; the pool reconnects on the next request
    log.warning("request.database_unavailable path=%s error=%s", request.path, type(exc).__name__)
    message = "The database is unavailable for a moment; nothing was stored. Try again shortly."
    if wants_json():
        response, status = json_error(503, "service_unavailable", message)
    else:
        response, status = render_template("error.html", code=503, name="Service unavailable", message=message), 503
        response = make_response(response)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response, status


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        db.session.rollback()
        return json_error(exc.status, exc.error, exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        if code == 413:
            message = f"The request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes."
        else:
            message = exc.description or exc.name
        if wants_json():
            response = json_error(code, name, message)
            if getattr(exc, "valid_methods", None):
                response[0].headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return render_template("error.html", code=code, name=exc.name, message=message), code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if is_transient(exc):
            return _database_down(exc)
        db.session.rollback()
        log.exception("request.failed path=%s", request.path)
        if wants_json():
            return json_error(500, "internal_error", "Something went wrong on our side; nothing was changed.")
        return render_template("error.html", code=500, name="Server error", message="Something went wrong."), 500
