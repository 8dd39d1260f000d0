"""JSON API `/api/v1`: a contract integrators rely on. Extend it; never break it."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from web.api import routes, tokens  # noqa: E402,F401  (registers the views)
from web.api import workflow  # noqa: E402,F401  (issue 9: groups, overrides, review, batches)
