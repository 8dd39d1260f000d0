"""The `/lms` blueprint: what LMS platforms call — signed webhook intake, LTI 1.3 login/launch/deep
linking and the student's page inside the LMS frame, and the tool JWKS.

Only these endpoints are CSRF-exempt (`CSRF_EXEMPT`): the webhook is authenticated by its signature,
LTI posts by the platform's id_token and then by the unguessable launch id they carry (a third-party
frame gets no session cookie, so a session CSRF token cannot work there). The teacher pages for
integrations and deliveries live in the dashboard (web/dashboard/lms_pages.py), CSRF-protected.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("lms", __name__, template_folder="../templates")

from web.lms import lti, webhook  # noqa: E402,F401  (routes register on bp)

CSRF_EXEMPT = ("lms.webhook", "lms.login", "lms.launch", "lms.link", "lms.deep_link", "lms.submit", "lms.jwks")


def init_app(app: Flask) -> None:
    """Hook called by `create_app` after registering `bp`; importing store.lms registers the tables."""
    import store.lms  # noqa: F401

    app.extensions.setdefault("stepwise_lms", {"webhook_path": "/lms/webhook"})
