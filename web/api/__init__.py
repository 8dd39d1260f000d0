"""JSON API `/api/v1`: a contract integrators rely on. Extend it; never break it."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from web.api import (  # noqa: E402,F401  (registers the views)
    routes,
    tokens,
    workflow,
)
