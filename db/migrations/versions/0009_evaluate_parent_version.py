"""run.parent_version_id: the model version a run started from (its config's init_version), so
the Models page can show lineage (version → runs started from it)

Revision ID: 0009_evaluate_parent_version
Revises: 0007_metric_curve_indexes
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_evaluate_parent_version'
down_revision = '0008_artifacts_run_records'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_version_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_run_parent_version_id', ['parent_version_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index('ix_run_parent_version_id')
        batch_op.drop_column('parent_version_id')
