"""runs carry an attempt number so a stale execution can tell it is stale

Revision ID: 0004_run_attempt
Revises: 0003_sweeps
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_run_attempt'
down_revision = '0003_sweeps'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('attempt')
