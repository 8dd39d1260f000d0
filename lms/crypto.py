"""Encryption of stored secrets (Fernet), webhook signatures (HMAC-SHA256) and tool key pairs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

from store.settings import Settings

SIGNATURE_HEADER = "X-Stepwise-Signature"
INTEGRATION_HEADER = "X-Stepwise-Integration"
EVENT_HEADER = "X-Stepwise-Event"
TOLERANCE_S = 300  # signatures older (or further in the future) than 5 minutes are refused


class SecretError(RuntimeError):
    """A stored secret cannot be decrypted (wrong or rotated encryption key)."""


def _fernet(settings: Settings) -> MultiFernet:
    """`encryption_key` may list several comma-separated Fernet keys: the first encrypts, all decrypt."""
    keys = [k.strip() for k in (settings.encryption_key or "").split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"stepwise-lms-encryption\x00" + settings.secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(settings: Settings, plaintext: str) -> str:
    return _fernet(settings).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError("stored secret cannot be decrypted with the configured encryption key") from None


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def new_public_id() -> str:
    return "int_" + secrets.token_hex(8)


# --- webhook signatures -----------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-Stepwise-Signature` value for `body`: `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class SignatureError(ValueError):
    pass


def verify(
    secret: str, body: bytes, header: str | None, *, now: float | None = None, tolerance: int = TOLERANCE_S
) -> int:
    """Check a signature header; returns its timestamp or raises `SignatureError` (reason only)."""
    if not header:
        raise SignatureError("missing signature")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not timestamp.isdigit() or len(timestamp) > 12 or not candidates:
        raise SignatureError("malformed signature")
    ts = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise SignatureError("stale timestamp")
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    # Compare every candidate (key rotation may send two); constant time each.
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(expected.encode(), candidate.strip().lower().encode("ascii", "replace"))
    if not ok:
        raise SignatureError("bad signature")
    return ts


# --- tool key pairs (LTI) ------------------------------------------------------------------------


def new_key_pair() -> tuple[str, str, str]:
    """A fresh RSA-2048 key pair for signing LTI client assertions: (private PEM, public PEM, kid)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    kid = JWK.from_pem(public_pem.encode()).thumbprint()
    return private_pem, public_pem, kid


def public_jwk(public_pem: str, kid: str) -> dict:
    jwk = JWK.from_pem(public_pem.encode())
    data = jwk.export_public(as_dict=True)
    data.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return data
