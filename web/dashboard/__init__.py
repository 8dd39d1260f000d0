"""Teacher dashboard: server-rendered pages with CSRF-protected forms."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="../templates")

from web.dashboard import lms_pages, routes, teacher, tokens, uploads  # noqa: E402,F401
