"""speed: job revisions and an overridden-problem flag, so grading reads and writes in a handful
of statements

Revision ID: 0007_speed
Revises: 0003_resilience
Create Date: 2026-11-30 19:00:00

`jobs.revision` is bumped whenever an open job is asked for again (a key changed, a reference was
written); grading finishes a job only at the revision it read, so a change made while it computed
is never lost. `problems.overridden` marks problems with a teacher override (of one answer or of
an answer group), so grading looks overrides up only where there are any. Existing overrides set
the flag here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_speed"
down_revision = "0003_resilience"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overridden", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE problems SET overridden = TRUE WHERE id IN ("
        " SELECT answers.problem_id FROM answer_overrides JOIN answers ON answers.id = answer_overrides.answer_id"
        " UNION SELECT problem_id FROM answer_groups WHERE override_score IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.drop_column("overridden")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("revision")
