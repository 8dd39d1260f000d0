"""All tables in one MetaData: import every model module so Alembic and create_all see them."""

from __future__ import annotations

import importlib

from store.models import Base

for _module in ("store.lms", "store.workflow"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # the LMS models are optional while they are being built
        if exc.name != _module:
            raise

target_metadata = Base.metadata
