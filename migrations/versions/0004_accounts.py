"""Accounts: a per-teacher session nonce, so logout ends every copy of a dashboard session.

Revision ID: 0004_accounts
Revises: 0006_reasoning
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_accounts"
down_revision = "0006_reasoning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teachers") as batch:
        batch.add_column(sa.Column("session_nonce", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teachers") as batch:
        batch.drop_column("session_nonce")
