"""Resources of a run: the run process's CPU, its GPU memory, every visible GPU (JSON), free disk
of the home and artifact folders per sample; the run's resource summary (peak RAM, peak GPU
memory, GPU-hours) on the run.

Revision ID: 0015_workers_resources
Revises: 0014_sweep_kind
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_workers_resources'
down_revision = '0014_sweep_kind'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('resourcesample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proc_cpu_percent', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('gpu_proc_mem_mb', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('disk_home_free_gb', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('disk_artifacts_free_gb', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('gpus', sa.JSON(), nullable=True))
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('resources')
    with op.batch_alter_table('resourcesample', schema=None) as batch_op:
        batch_op.drop_column('gpus')
        batch_op.drop_column('disk_artifacts_free_gb')
        batch_op.drop_column('disk_home_free_gb')
        batch_op.drop_column('gpu_proc_mem_mb')
        batch_op.drop_column('proc_cpu_percent')
