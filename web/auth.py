"""Who is asking: bearer tokens for the API, a Flask-Login session for the dashboard.

A dashboard session names the teacher *and* their current session nonce; logging out rotates the
nonce, so every cookie issued before (a copied one included) stops working at once. Login attempts
are rate-limited per IP and per account (Flask-Limiter; Redis when configured).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from store.db import db
from store.intake import token_hash
from store.models import ApiToken, Teacher

TOKEN_PREFIX = "sw_"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# A few of the most used passwords; the length rule already refuses most of the rest.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "password12",
        "password123",
        "passw0rd12",
        "iloveyou12",
        "1q2w3e4r5t",
        "qwerty1234",
        "1qaz2wsx3edc",
        "letmein123",
        "administrator",
        "changeme123",
        "stepwise123",
        "teacher123",
        "welcome123",
        "abcdefghij",
        "aaaaaaaaaa",
        "password1234",
    }
)

login_manager = LoginManager()
LOGIN_VIEWS = ("dashboard.login",)  # the views whose POSTs are rate-limited


class SessionUser:
    """What Flask-Login holds for a logged-in teacher: the row and the nonce the session names."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, teacher: Teacher) -> None:
        self.teacher = teacher

    def get_id(self) -> str:
        return f"{self.teacher.id}.{self.teacher.session_nonce}"


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    teacher_id, _, nonce = user_id.partition(".")
    if not teacher_id.isdigit() or not nonce or len(teacher_id) > 10:
        return None
    teacher = db.session.get(Teacher, int(teacher_id))
    if teacher is None or not teacher.session_nonce or not hmac.compare_digest(teacher.session_nonce, nonce):
        return None
    return SessionUser(teacher)


def init_app(app: Flask) -> None:
    """Bind Flask-Login, and a Flask-Limiter of this app's own (limits stored in Redis when configured;
    memory when Redis is unreachable), to the app. Call after the blueprints are registered."""
    settings = app.config["STEPWISE"]
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "stepwise-limits")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    # One limiter per app: a Limiter's storage belongs to the last app it was bound to.
    limiter = Limiter(key_func=get_remote_address, strategy="fixed-window", default_limits=[], app=app)
    app.extensions["stepwise_limiter"] = limiter
    for endpoint in LOGIN_VIEWS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = limit_login(limiter, app.view_functions[endpoint])


# --- passwords ------------------------------------------------------------------------------


def password_problem(password: str | None, email: str = "") -> str | None:
    """What is wrong with a new password, or None: at least 10 characters, not a common or trivially
    guessable one (NIST SP 800-63B: length and a block list, no composition rules)."""
    if not password or not password.strip():
        return "must not be empty"
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"must be at most {MAX_PASSWORD} characters"
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        return "is too easy to guess"
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and local in lowered:
        return "must not contain your email name"
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(teacher: Teacher | None, password: str) -> bool:
    # Hash even when the teacher is unknown so timing does not reveal which emails exist.
    if teacher is None:
        check_password_hash(generate_password_hash("x"), password)
        return False
    return check_password_hash(teacher.password_hash, password)


# --- dashboard sessions ---------------------------------------------------------------------


def _login_email() -> str:
    return "account:" + request.form.get("email", "")[:255].strip().lower()


def _failed(response) -> bool:
    # Only failed attempts count: a successful login redirects.
    return response.status_code != 302


def limit_login(limiter: Limiter, view):
    """Rate limits for a login view's POSTs, per client IP and per account (failed attempts only)."""

    def ip_limit() -> str:
        return current_app.config["STEPWISE"].login_limit_ip

    def account_limit() -> str:
        return current_app.config["STEPWISE"].login_limit_account

    view = limiter.limit(
        account_limit, key_func=_login_email, methods=["POST"], deduct_when=_failed, scope="login-account"
    )(view)
    return limiter.limit(ip_limit, methods=["POST"], deduct_when=_failed, scope="login-ip")(view)


def login_teacher(teacher: Teacher) -> None:
    """Start a fresh dashboard session for `teacher` (the old session's data is dropped)."""
    session.clear()
    if not teacher.session_nonce:
        teacher.session_nonce = new_nonce()
        db.session.commit()
    login_user(SessionUser(teacher))
    g.pop("teacher", None)


def logout_teacher() -> None:
    """End the session, and every other copy of it: the nonce the cookies name is replaced."""
    teacher = current_teacher()
    if teacher is not None:
        teacher.session_nonce = new_nonce()
        db.session.commit()
    logout_user()
    session.clear()
    g.pop("teacher", None)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def current_teacher() -> Teacher | None:
    """The teacher logged in to the dashboard, if any."""
    if "teacher" not in g:
        g.teacher = current_user.teacher if current_user and current_user.is_authenticated else None
    return g.teacher


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_teacher() is None:
            return redirect(url_for("dashboard.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


# --- API tokens -----------------------------------------------------------------------------


def issue_token(teacher: Teacher, name: str = "") -> str:
    """Create an API token; only its hash is stored, the plaintext is returned once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    teacher.tokens.append(ApiToken(token_hash=token_hash(token), prefix=token[:10], name=name[:255]))
    return token


TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # `last_used_at` is kept to the minute, not per call


def teacher_for_token(token: str) -> Teacher | None:
    """The teacher a live token belongs to, in one query (token and teacher together). Its use is
    recorded at most once a minute, so a busy integration does not write a row on every call."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = db.session.execute(
        select(Teacher, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.teacher_id == Teacher.id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    teacher, token_id, last = found
    moment = datetime.now(UTC)
    if last is not None and last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=UTC)
    if last is None or moment - last >= TOKEN_USE_RESOLUTION:
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=moment))
        db.session.commit()
    return teacher


def bearer_teacher() -> Teacher | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return teacher_for_token(token.strip())


def tokens_of(teacher: Teacher, *, include_revoked: bool = True) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.teacher_id == teacher.id).order_by(ApiToken.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(db.session.scalars(query))


def token_of(teacher: Teacher, token_id: int) -> ApiToken | None:
    row = db.session.get(ApiToken, token_id)
    return row if row is not None and row.teacher_id == teacher.id else None


def find_token(token: str) -> ApiToken | None:
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))


def revoke_token(row: ApiToken) -> None:
    """Revoke a token (committed); it answers 401 from the next request on. Idempotent."""
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    db.session.commit()


def reissue_token(row: ApiToken) -> str:
    """Revoke `row` and issue a new token with the same name (committed); returns the new plaintext."""
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    token = issue_token(row.teacher, row.name)
    db.session.commit()
    return token


def token_json(row: ApiToken, token: str | None = None) -> dict:
    body = {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": _iso(row.created_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked_at": _iso(row.revoked_at),
        "active": row.revoked_at is None,
    }
    if token is not None:
        body["token"] = token
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- accounts -------------------------------------------------------------------------------


def create_teacher(email: str, password: str, name: str = "") -> tuple[Teacher, str]:
    """Store a teacher and return them with a fresh API token (committed)."""
    teacher = Teacher(
        email=email.strip().lower(), name=name, password_hash=hash_password(password), session_nonce=new_nonce()
    )
    db.session.add(teacher)
    token = issue_token(teacher, name="created with the account")
    db.session.commit()
    return teacher, token


def find_teacher(email: str) -> Teacher | None:
    return db.session.scalar(select(Teacher).where(Teacher.email == email.strip().lower()))
