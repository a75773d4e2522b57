"""metric indexes for downsampled curves: (run_id, name, step, value) covers the bucket query,
(run_id, step) makes a run's highest step one lookup

Revision ID: 0007_metric_curve_indexes
Revises: 0006_nonfinite_metrics
Create Date: 2026-11-25
"""
from alembic import op

revision = '0007_metric_curve_indexes'
down_revision = '0006_nonfinite_metrics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('metric', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_run_name_step')
        batch_op.create_index('ix_metric_run_name_step_value', ['run_id', 'name', 'step', 'value'], unique=False)
        batch_op.create_index('ix_metric_run_step', ['run_id', 'step'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('metric', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_run_step')
        batch_op.drop_index('ix_metric_run_name_step_value')
        batch_op.create_index('ix_metric_run_name_step', ['run_id', 'name', 'step'], unique=False)
