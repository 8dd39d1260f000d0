from __future__ import annotations

import logging

from flask import current_app

from store.settings import Settings

log = logging.getLogger("stepwise.lms")


def settings() -> Settings:
    return current_app.config["STEPWISE"]


def public_url(path: str) -> str:
    return settings().public_url.rstrip("/") + path
