"""Integration management: create (secret shown once), look up, rotate; LTI registrations."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms import crypto
from lms.net import BlockedTarget, check_url_syntax, normalise_host
from store.lms.models import Integration, IntegrationKind
from store.models import Teacher
from store.settings import Settings

log = logging.getLogger("stepwise.lms")


class IntegrationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _hosts(raw: Iterable[str] | str | None) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    hosts = []
    for item in raw:
        host = normalise_host(str(item))
        if not host:
            continue
        if "/" in host or "@" in host or " " in host or (":" in host and not _is_ip(host)):
            raise IntegrationError("allowed_hosts", f"{item!r} is not a host name (no scheme, path or port)")
        if host not in hosts:
            hosts.append(host)
    return hosts


def create_integration(
    session: Session,
    teacher: Teacher,
    settings: Settings,
    *,
    name: str,
    allowed_hosts: Iterable[str] | str | None = None,
    kind: str = IntegrationKind.webhook,
    issuer: str | None = None,
    client_id: str | None = None,
    deployment_ids: Iterable[str] | str | None = None,
    auth_login_url: str | None = None,
    auth_token_url: str | None = None,
    key_set_url: str | None = None,
    auth_audience: str | None = None,
) -> tuple[Integration, str]:
    """Store a new integration (committed); returns it and the webhook secret, shown only now.

    For `kind="lti"` the four platform values are required; the hosts of the platform URLs are
    added to `allowed_hosts`, and a tool RSA key pair is generated (public key at `/lms/jwks`).
    Raises `IntegrationError(field, message)` on bad input.
    """
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise IntegrationError("name", "is required (at most 255 characters)")
    if kind not in IntegrationKind.all:
        raise IntegrationError("kind", f"must be one of {', '.join(IntegrationKind.all)}")
    hosts = _hosts(allowed_hosts)
    secret = crypto.new_secret()
    integration = Integration(
        teacher_id=teacher.id,
        public_id=crypto.new_public_id(),
        name=name,
        kind=kind,
        secret_encrypted=crypto.encrypt(settings, secret),
    )
    if kind == IntegrationKind.lti:
        values = {
            "issuer": issuer,
            "client_id": client_id,
            "auth_login_url": auth_login_url,
            "auth_token_url": auth_token_url,
            "key_set_url": key_set_url,
        }
        for field, value in values.items():
            if not value or not str(value).strip():
                raise IntegrationError(field, "is required for an LTI 1.3 integration")
        for field in ("auth_login_url", "auth_token_url", "key_set_url"):
            url = str(values[field]).strip()
            host = normalise_host(urlsplit(url).hostname or "")
            if not host:
                raise IntegrationError(field, "must be an absolute URL")
            if host not in hosts:
                hosts.append(host)
            try:
                check_url_syntax(url, hosts, allow_private=settings.lms_allow_private)
            except BlockedTarget as exc:
                raise IntegrationError(field, str(exc)) from None
        if isinstance(deployment_ids, str):
            deployment_ids = deployment_ids.replace(",", " ").split()
        integration.issuer = str(issuer).strip()
        integration.client_id = str(client_id).strip()
        integration.deployment_ids = [str(d).strip() for d in deployment_ids or () if str(d).strip()]
        integration.auth_login_url = str(auth_login_url).strip()
        integration.auth_token_url = str(auth_token_url).strip()
        integration.key_set_url = str(key_set_url).strip()
        integration.auth_audience = (auth_audience or "").strip() or None
        if session.scalar(
            select(Integration.id).where(
                Integration.issuer == integration.issuer, Integration.client_id == integration.client_id
            )
        ):
            raise IntegrationError("client_id", "this issuer and client id are already registered")
        private_pem, public_pem, kid = crypto.new_key_pair()
        integration.tool_private_key_encrypted = crypto.encrypt(settings, private_pem)
        integration.tool_public_key = public_pem
        integration.tool_kid = kid
    integration.allowed_hosts = hosts
    session.add(integration)
    session.commit()
    log.info("lms.integration.created integration=%s kind=%s", integration.public_id, kind)
    return integration, secret


def rotate_secret(session: Session, integration: Integration, settings: Settings) -> str:
    secret = crypto.new_secret()
    integration.secret_encrypted = crypto.encrypt(settings, secret)
    session.commit()
    log.info("lms.integration.secret_rotated integration=%s", integration.public_id)
    return secret


def webhook_secret(integration: Integration, settings: Settings) -> str:
    return crypto.decrypt(settings, integration.secret_encrypted)


def find_by_public_id(session: Session, public_id: str | None) -> Integration | None:
    if not public_id or len(public_id) > 40:
        return None
    integration = session.scalar(select(Integration).where(Integration.public_id == public_id))
    if integration is None or integration.disabled_at is not None:
        return None
    return integration


def tool_jwks(session: Session) -> dict[str, Any]:
    """The public keys of every LTI integration (what platforms fetch from `/lms/jwks`)."""
    rows = session.scalars(
        select(Integration).where(Integration.tool_public_key.is_not(None), Integration.disabled_at.is_(None))
    )
    return {"keys": [crypto.public_jwk(r.tool_public_key, r.tool_kid) for r in rows]}


# --- pylti1p3 glue --------------------------------------------------------------------------


class StepwiseRegistration(Registration):
    """A pylti1p3 registration whose kid is the one Stepwise publishes at `/lms/jwks`."""

    _kid: str | None = None

    def get_kid(self) -> str | None:
        return self._kid

    def get_jwks(self):
        public = self.get_tool_public_key()
        return [crypto.public_jwk(public, self._kid)] if public else []


def registration_for(integration: Integration, settings: Settings) -> StepwiseRegistration:
    reg = StepwiseRegistration()
    reg.set_issuer(integration.issuer).set_client_id(integration.client_id)
    reg.set_auth_login_url(integration.auth_login_url).set_auth_token_url(integration.auth_token_url)
    reg.set_key_set_url(integration.key_set_url)
    if integration.auth_audience:
        reg.set_auth_audience(integration.auth_audience)
    if integration.tool_private_key_encrypted:
        reg.set_tool_private_key(crypto.decrypt(settings, integration.tool_private_key_encrypted))
        reg.set_tool_public_key(integration.tool_public_key)
    reg._kid = integration.tool_kid
    return reg


class DbToolConf(ToolConfAbstract):
    """pylti1p3 tool configuration read from `lms_integrations` (issuer + client id)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.integration: Integration | None = None  # the one found last (for host checks)

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _find(self, iss: str, client_id: str | None) -> Integration | None:
        query = select(Integration).where(
            Integration.issuer == iss, Integration.kind == IntegrationKind.lti, Integration.disabled_at.is_(None)
        )
        if client_id:
            query = query.where(Integration.client_id == client_id)
        rows = list(self.session.scalars(query.limit(2)))
        if len(rows) != 1:
            return None
        self.integration = rows[0]
        return rows[0]

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        integration = self._find(iss, client_id)
        return registration_for(integration, self.settings) if integration else None

    def find_deployment(self, iss, deployment_id):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        integration = self._find(iss, client_id)
        if integration is None:
            return None
        if integration.deployment_ids and deployment_id not in integration.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)

    def allowed_hosts(self) -> list[str]:
        return list(self.integration.allowed_hosts) if self.integration else []
