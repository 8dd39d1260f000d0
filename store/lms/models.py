"""LMS tables: integrations (who may deliver), deliveries (grades sent back), LTI resource links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, utcnow


class IntegrationKind:
    webhook = "webhook"  # signed webhook in, signed webhook (callback URL) out
    lti = "lti"  # also LTI 1.3: launch, deep linking and AGS grade passback

    all = (webhook, lti)


class DeliveryStatus:
    pending = "pending"  # waiting for its first try or a retry
    sending = "sending"  # claimed by a worker; the HTTP call is in flight
    sent = "sent"
    failed = "failed"  # gave up (4xx, blocked target, or retries exhausted)
    skipped = "skipped"  # unchanged grade, superseded, or nothing to send

    all = (pending, sending, sent, failed, skipped)


class Integration(Base):
    """One LMS connection of a teacher. Secrets are Fernet-encrypted, never stored in the clear."""

    __tablename__ = "lms_integrations"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lms_integrations_issuer_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"), index=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # X-Stepwise-Integration header
    name: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16), default=IntegrationKind.webhook)
    secret_encrypted: Mapped[str] = mapped_column(Text)  # webhook HMAC secret (Fernet token)
    allowed_hosts: Mapped[list[Any]] = mapped_column(default=list)  # callback / platform hosts
    # LTI 1.3 platform registration (kind == "lti")
    issuer: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(255))
    deployment_ids: Mapped[list[Any]] = mapped_column(default=list)  # empty: any deployment
    auth_login_url: Mapped[str | None] = mapped_column(Text)
    auth_token_url: Mapped[str | None] = mapped_column(Text)
    auth_audience: Mapped[str | None] = mapped_column(Text)
    key_set_url: Mapped[str | None] = mapped_column(Text)
    tool_private_key_encrypted: Mapped[str | None] = mapped_column(Text)  # PEM (Fernet token)
    tool_public_key: Mapped[str | None] = mapped_column(Text)  # PEM, public
    tool_kid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

    @property
    def is_lti(self) -> bool:
        return self.kind == IntegrationKind.lti and bool(self.issuer and self.client_id)

    def __repr__(self) -> str:  # never show secrets
        return f"<Integration {self.id} {self.public_id} {self.kind}>"


class Delivery(Base):
    """One grade version to send to one target; its attempts are rows of `DeliveryAttempt`."""

    __tablename__ = "lms_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("lms_integrations.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "webhook" | "ags"
    target: Mapped[str] = mapped_column(Text)  # callback URL or AGS scores URL
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    next_try_at: Mapped[datetime | None]
    score_sent: Mapped[float | None]
    grading_progress: Mapped[str | None] = mapped_column(String(32))
    payload_hash: Mapped[str] = mapped_column(String(64))  # what changed: score, status, comment
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", order_by="DeliveryAttempt.number"
    )
    integration: Mapped[Integration] = relationship()


class DeliveryAttempt(Base):
    __tablename__ = "lms_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("lms_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # sent | retry | failed
    response_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    next_try_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    delivery: Mapped[Delivery] = relationship(back_populates="attempt_log")


class LtiResourceLink(Base):
    """An LMS placement (resource link) of a Stepwise assignment, and its AGS line item."""

    __tablename__ = "lms_resource_links"
    __table_args__ = (UniqueConstraint("integration_id", "resource_link_id", name="uq_lms_resource_links_link"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("lms_integrations.id", ondelete="CASCADE"), index=True)
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str | None] = mapped_column(String(255))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    lineitem_url: Mapped[str | None] = mapped_column(Text)
    ags_scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
