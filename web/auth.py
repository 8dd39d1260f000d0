"""Who is asking: bearer tokens for the API, a session login for the dashboard."""
from __future__ import annotations

import functools
import secrets
from datetime import datetime, timezone

from flask import g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from store.db import db
from store.intake import token_hash
from store.models import ApiToken, Teacher

TOKEN_PREFIX = "sw_"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(teacher: Teacher | None, password: str) -> bool:
    # Hash even when the teacher is unknown so timing does not reveal which emails exist.
    if teacher is None:
        check_password_hash(generate_password_hash("x"), password)
        return False
    return check_password_hash(teacher.password_hash, password)


def issue_token(teacher: Teacher, name: str = "") -> str:
    """Create an API token; only its hash is stored, the plaintext is returned once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    teacher.tokens.append(ApiToken(token_hash=token_hash(token), prefix=token[:10], name=name))
    return token


def teacher_for_token(token: str) -> Teacher | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    row.last_used_at = datetime.now(timezone.utc)
    db.session.commit()
    return row.teacher


def bearer_teacher() -> Teacher | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return teacher_for_token(token.strip())


def current_teacher() -> Teacher | None:
    """The teacher logged in to the dashboard, if any."""
    if "teacher" not in g:
        teacher_id = session.get("teacher_id")
        g.teacher = db.session.get(Teacher, teacher_id) if teacher_id else None
    return g.teacher


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_teacher() is None:
            return redirect(url_for("dashboard.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def create_teacher(email: str, password: str, name: str = "") -> tuple[Teacher, str]:
    """Store a teacher and return them with a fresh API token (committed)."""
    teacher = Teacher(email=email.strip().lower(), name=name, password_hash=hash_password(password))
    db.session.add(teacher)
    token = issue_token(teacher, name="created with the account")
    db.session.commit()
    return teacher, token


def find_teacher(email: str) -> Teacher | None:
    return db.session.scalar(select(Teacher).where(Teacher.email == email.strip().lower()))
