"""Outbound HTTP to LMSs: only to an integration's registered hosts, never to private addresses.

Every request goes through `GuardedSession`: https only, host in the allow list, every resolved
address public (unless `lms_allow_private`, for tests), the connection pinned to the checked
address (no DNS rebinding between check and connect), redirects never followed, timeouts always.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

DEFAULT_TIMEOUT = (5.0, 10.0)  # (connect, read) seconds
USER_AGENT = "Stepwise-LMS/1.0"


class BlockedTarget(requests.RequestException):
    """A URL Stepwise must not contact: wrong scheme, host not registered, or a private address.

    A `RequestException`, so libraries calling through `GuardedSession` (pylti1p3) treat it as a
    failed request."""


def normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Exact match, or a `*.example.edu` entry matching any subdomain (not the bare domain)."""
    host = normalise_host(host)
    for entry in allowed_hosts or ():
        entry = normalise_host(str(entry))
        if not entry:
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def check_url_syntax(url: str, allowed_hosts: Iterable[str], *, allow_private: bool = False) -> tuple[str, str, int]:
    """Scheme, registered host, no credentials; returns (scheme, host, port). No DNS here."""
    if not isinstance(url, str) or len(url) > 2048:
        raise BlockedTarget("not a URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BlockedTarget("not a valid URL") from None
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise BlockedTarget("only https URLs are allowed")
    if parts.username or parts.password:
        raise BlockedTarget("URLs with credentials are not allowed")
    host = normalise_host(parts.hostname or "")
    if not host:
        raise BlockedTarget("URL has no host")
    if not host_allowed(host, allowed_hosts):
        raise BlockedTarget(f"host {host} is not registered for this integration")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def resolve_public(host: str, port: int, *, allow_private: bool = False) -> str:
    """Resolve `host`; every address must be public. Returns the address to connect to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise BlockedTarget(f"host {host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise BlockedTarget(f"host {host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _address_is_public(address):
                raise BlockedTarget(f"host {host} resolves to a non-public address")
    return addresses[0]


def check_url(url: str, allowed_hosts: Iterable[str], *, allow_private: bool = False) -> str:
    """Full check (syntax, allow list, DNS); returns the pinned address."""
    _scheme, host, port = check_url_syntax(url, allowed_hosts, allow_private=allow_private)
    return resolve_public(host, port, allow_private=allow_private)


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address the guard checked, keeping the host name for TLS (SNI + cert)."""

    def __init__(self) -> None:
        self.pins = threading.local()
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pinned = getattr(self.pins, "address", None)
        if pinned is not None:
            hostname = host_params["host"]
            host_params = dict(host_params, host=pinned)
            if host_params.get("scheme") == "https":
                pool_kwargs = dict(pool_kwargs, server_hostname=hostname, assert_hostname=hostname)
        return host_params, pool_kwargs


class GuardedSession(requests.Session):
    """A `requests.Session` that refuses unregistered or private targets (see module docstring).

    `allowed_hosts` is a list, or a callable returning one (for LTI launches, where the
    registration is only known once the id_token has been read).
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str] | Callable[[], Iterable[str]],
        *,
        allow_private: bool = False,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        self._allowed = allowed_hosts
        self.allow_private = allow_private
        self.timeout = timeout
        self.trust_env = False  # no proxies from the environment
        self.headers["User-Agent"] = USER_AGENT
        self.last_status: int | None = None
        self._adapter = _PinnedAdapter()
        self.mount("https://", self._adapter)
        self.mount("http://", self._adapter)

    def allowed_hosts(self) -> list[str]:
        allowed = self._allowed() if callable(self._allowed) else self._allowed
        return list(allowed or ())

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        scheme, host, port = check_url_syntax(url, self.allowed_hosts(), allow_private=self.allow_private)
        address = resolve_public(host, port, allow_private=self.allow_private)
        kwargs["allow_redirects"] = False
        kwargs.setdefault("timeout", self.timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.timeout
        default_port = 443 if scheme == "https" else 80
        headers = dict(kwargs.get("headers") or {})
        headers["Host"] = host if port == default_port else f"{host}:{port}"
        kwargs["headers"] = headers
        self._adapter.pins.address = address
        try:
            response = super().request(method, url, *args, **kwargs)
            self.last_status = response.status_code
            return response
        finally:
            self._adapter.pins.address = None
