"""resilience: external ids unique per assignment, job send times for the sweeper

Revision ID: 0003_resilience
Revises: 0004_accounts
Create Date: 2026-11-30 16:00:00

Existing rows are kept as they are: the old constraint (teacher, source, external id) was stricter
than the new one (assignment, source, external id), so no stored data can violate it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_resilience"
down_revision = "0004_accounts"  # re-chained after main (0002 -> 0005 -> 0006 -> 0004)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_submissions_external", type_="unique")
        batch_op.create_unique_constraint(
            "uq_submissions_assignment_external",
            ["assignment_id", "source", "external_id"],
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_jobs_kind_status", ["kind", "status"], unique=False)
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_disagrees", sa.Boolean(), nullable=True))
    # Jobs stored before this revision were sent when they were created.
    op.execute("UPDATE jobs SET enqueued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.drop_column("key_disagrees")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_kind_status")
        batch_op.drop_column("enqueued_at")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_submissions_assignment_external", type_="unique")
        batch_op.create_unique_constraint(
            "uq_submissions_external", ["teacher_id", "source", "external_id"]
        )
