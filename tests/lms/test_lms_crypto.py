"""Signatures, stored-secret encryption and the in-process fallbacks (no database needed)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from lms import crypto
from lms.kv import LtiCache, rate_limit
from store.settings import Settings

BASE = Settings(secret_key="k" * 40, database_url="sqlite://", instance_dir="/tmp")


@hsettings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=512))
def test_sign_verify_round_trip_and_tamper(body):
    secret = "whsec_test"
    header = crypto.sign(secret, body, 1_000_000)
    assert crypto.verify(secret, body, header, now=1_000_100) == 1_000_000
    with pytest.raises(crypto.SignatureError):
        crypto.verify(secret, body + b"x", header, now=1_000_100)
    with pytest.raises(crypto.SignatureError):
        crypto.verify("whsec_other", body, header, now=1_000_100)


def test_signature_header_forms():
    body = b"{}"
    good = crypto.sign("s", body, 100).split(",")[1]
    # a second v1 (secret rotation) and spaces are accepted
    assert crypto.verify("s", body, f"t=100, v1={'0' * 64}, {good}", now=100) == 100
    for header in ("", "t=100", "v1=abc", "t=abc,v1=abc", "t=-5,v1=00", f"t=1{'0' * 20},{good}"):
        with pytest.raises(crypto.SignatureError):
            crypto.verify("s", body, header, now=100)
    with pytest.raises(crypto.SignatureError, match="stale"):
        crypto.verify("s", body, f"t=100,{good}", now=100 + 301)


def test_encryption_key_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = dataclasses.replace(BASE, encryption_key=old)
    token = crypto.encrypt(before, "whsec_abc")
    rotated = dataclasses.replace(BASE, encryption_key=f"{new},{old}")
    assert crypto.decrypt(rotated, token) == "whsec_abc"
    with pytest.raises(crypto.SecretError):
        crypto.decrypt(dataclasses.replace(BASE, encryption_key=new), token)
    # derived from secret_key when no key is configured
    assert crypto.decrypt(BASE, crypto.encrypt(BASE, "x")) == "x"


def test_in_process_rate_limit_and_cache_without_redis():
    cfg = dataclasses.replace(BASE, redis_url="")
    bucket = "test:" + Fernet.generate_key().decode()[:8]
    results = [rate_limit(cfg, bucket, 2, window=86400) for _ in range(3)]
    assert results[:2] == [None, None] and 1 <= results[2] <= 86400
    cache = LtiCache(cfg)
    cache.set("nonce-1", True, 60)
    assert cache.get("nonce-1") is True
    assert cache.pop("nonce-1") is True and cache.pop("nonce-1") is None
