"""sweep.kind: "search" (an Optuna study; every sweep made before) or "curve" (a learning-curve
study: one run per data fraction and repeat, no Optuna study)

Revision ID: 0014_sweep_kind
Revises: 0012_base_model_catalog
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_sweep_kind'
down_revision = '0012_base_model_catalog'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sweep', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(), nullable=False, server_default='search'))
        batch_op.create_index('ix_sweep_kind', ['kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sweep', schema=None) as batch_op:
        batch_op.drop_index('ix_sweep_kind')
        batch_op.drop_column('kind')
