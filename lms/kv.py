"""Small shared key-value state: the webhook rate limit and pylti1p3's OIDC state/nonce cache.

Redis when `redis_url` is set (shared by every web process), an in-process dict otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from store.settings import Settings

log = logging.getLogger("stepwise.lms")
PREFIX = "stepwise:lms:"

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    with _lock:
        client = _clients.get(settings.redis_url)
        if client is None:
            client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            _clients[settings.redis_url] = client
        return client


class MemoryStore:
    """Process-local fallback with expiry (single-process installs and tests)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        if len(self._data) > 10_000:
            for key in [k for k, (exp, _v) in self._data.items() if exp < now]:
                del self._data[key]

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < time.time():
                return None
            return item[1]

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        with self._lock:
            now = time.time()
            self._purge(now)
            self._data[key] = (now + (exp or 86400), value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, exp: int) -> int:
        with self._lock:
            now = time.time()
            self._purge(now)
            exp_at, value = self._data.get(key, (0.0, 0))
            if exp_at < now:
                exp_at, value = now + exp, 0
            self._data[key] = (exp_at, value + 1)
            return value + 1


_memory = MemoryStore()


class LtiCache:
    """The `cache` object pylti1p3's `CacheDataStorage` expects: get / set(key, value, exp)."""

    def __init__(self, settings: Settings) -> None:
        self.redis = redis_client(settings)

    def get(self, key: str) -> Any:
        if self.redis is None:
            return _memory.get(PREFIX + "lti:" + key)
        raw = self.redis.get(PREFIX + "lti:" + key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        if self.redis is None:
            _memory.set(PREFIX + "lti:" + key, value, exp)
            return
        self.redis.set(PREFIX + "lti:" + key, json.dumps(value), ex=exp or 86400)

    def pop(self, key: str) -> Any:
        """Read and delete (one-time values: nonces)."""
        if self.redis is None:
            value = _memory.get(PREFIX + "lti:" + key)
            _memory.delete(PREFIX + "lti:" + key)
            return value
        raw = self.redis.getdel(PREFIX + "lti:" + key)
        return None if raw is None else json.loads(raw)


def rate_limit(settings: Settings, bucket: str, limit: int, window: int = 60) -> int | None:
    """Fixed-window counter. Returns None when allowed, else seconds until the window resets."""
    if limit <= 0:
        return None
    now = time.time()
    window_start = int(now // window) * window
    key = f"{PREFIX}rl:{bucket}:{window_start}"
    client = redis_client(settings)
    count = None
    if client is not None:
        try:
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, window * 2)
            count = pipe.execute()[0]
        except redis.RedisError:
            log.warning("lms.ratelimit.redis_unavailable")
    if count is None:
        count = _memory.incr(key, window * 2)
    if count > limit:
        return max(1, int(window_start + window - now + 0.999))
    return None
