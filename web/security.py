"""Security headers on every answer: a CSP that runs only the app's own scripts, nosniff, and
framing refused everywhere except the LTI pages, which the LMS shows in an iframe."""

from __future__ import annotations

from flask import Flask, request

# LTI endpoints the LMS frames (launch, deep linking, the student's submission page).
FRAMEABLE = frozenset({"lms.login", "lms.launch", "lms.link", "lms.deep_link", "lms.submit"})


def content_security_policy(frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",  # no inline scripts, no eval, no third-party scripts
            "style-src 'self' 'unsafe-inline'",  # KaTeX and a few style attributes
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def secure_cookies(settings) -> bool:
    """`STEPWISE_SECURE_COOKIES`: 1/0 force it; "auto" means Secure behind a TLS proxy or on https."""
    value = str(settings.secure_cookies).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return settings.proxy_hops > 0 or settings.public_url.startswith("https://")


def init_app(app: Flask) -> None:
    settings = app.config["STEPWISE"]
    secure = secure_cookies(settings)
    app.config.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure, REMEMBER_COOKIE_HTTPONLY=True)
    framed_policy = content_security_policy(settings.frame_ancestors or "*")
    page_policy = content_security_policy("'none'")

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint in FRAMEABLE:
            headers.setdefault("Content-Security-Policy", framed_policy)
        else:
            headers.setdefault("Content-Security-Policy", page_policy)
            headers.setdefault("X-Frame-Options", "DENY")
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
