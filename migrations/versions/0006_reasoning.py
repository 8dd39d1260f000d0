"""reference_solutions.priority: interactive work is claimed before batch work

Revision ID: 0006_reasoning
Revises: 0002_lms
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_reasoning'
down_revision = '0005_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reference_solutions') as batch:
        batch.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('reference_solutions') as batch:
        batch.drop_column('priority')
