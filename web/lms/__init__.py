"""The `/lms` blueprint: signed webhook intake, LTI 1.3 login/launch/deep linking, tool JWKS,
and the teacher pages for integrations and grade deliveries.

The app factory exempts this blueprint from CSRF (LMS posts are authenticated by signatures and
id_tokens); the dashboard forms here check the CSRF token themselves.
"""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("lms", __name__, template_folder="../templates")

from web.lms import dashboard, lti, webhook  # noqa: E402,F401  (routes register on bp)


def init_app(app: Flask) -> None:
    """Hook called by `create_app` after registering `bp`; importing store.lms registers the tables."""
    import store.lms  # noqa: F401

    app.extensions.setdefault("stepwise_lms", {"webhook_path": "/lms/webhook"})
