"""Flask app factory: config from Settings, extensions bound here, one blueprint per audience."""

from __future__ import annotations

import importlib
import logging

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from store import logs
from store.db import db
from store.settings import Settings
from tasks.celery_app import make_celery

csrf = CSRFProtect()
log = logging.getLogger("stepwise.web")


class IdConverter(IntegerConverter):
    """Row ids: 1 to 2**31 - 1, so an out-of-range id is a 404, not a database error."""

    # The range is in the pattern, not only in to_python: a value the pattern takes but to_python
    # refuses makes werkzeug answer 405 when another method shares the path, instead of 404.
    regex = (
        r"(?:[1-9]\d{0,8}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
        r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])"
    )

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app; reads the environment only when no settings are given."""
    settings = settings or Settings.from_env()
    if not settings.secret_key:
        settings = settings.prepare_instance()  # keeps a generated secret under instance/
    app = Flask(__name__, instance_path=settings.instance_dir, instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        STEPWISE=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.url_map.converters["id"] = IdConverter
    if settings.proxy_hops:
        # Behind a TLS-terminating proxy: trust its X-Forwarded-* so URLs and Secure cookies are right.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    db.configure(settings.database_url)
    csrf.init_app(app)
    logs.configure(settings.log_format)

    app.extensions["celery"] = make_celery(settings)

    from web import api, auth, dashboard, errors, ops, security

    security.init_app(app)
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(ops.bp)
    errors.init_app(app)
    from web.views import split_thinking

    app.add_template_filter(split_thinking)
    _register_lms(app)
    auth.init_app(app)

    @app.teardown_appcontext
    def _remove_session(_exc):
        db.session.remove()

    return app


def _register_lms(app: Flask) -> None:
    try:
        lms = importlib.import_module("web.lms")
    except ModuleNotFoundError as exc:
        if exc.name not in ("web.lms",):
            raise
        return
    if not hasattr(lms, "bp"):
        return
    app.register_blueprint(lms.bp, url_prefix="/lms")
    for endpoint in getattr(lms, "CSRF_EXEMPT", ()):
        csrf.exempt(app.view_functions[endpoint])
    if hasattr(lms, "init_app"):
        lms.init_app(app)
