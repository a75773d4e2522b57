"""sweeps: search settings and status, trial numbers on runs, the 'pruned' run status

Revision ID: 0003_sweeps
Revises: 0002
Create Date: 2026-11-25
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003_sweeps'
down_revision = '0002'
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE runstatus ADD VALUE IF NOT EXISTS 'pruned'")
    with op.batch_alter_table('sweep', schema=None) as b:
        b.add_column(sa.Column('dataset_id', sa.Integer(), sa.ForeignKey('dataset.id', name='fk_sweep_dataset'),
                               nullable=True))
        b.add_column(sa.Column('method', STR(), nullable=False, server_default='random'))
        b.add_column(sa.Column('metric', STR(), nullable=False, server_default=''))
        b.add_column(sa.Column('direction', STR(), nullable=False, server_default='minimize'))
        b.add_column(sa.Column('max_trials', sa.Integer(), nullable=False, server_default='10'))
        b.add_column(sa.Column('parallel', sa.Integer(), nullable=False, server_default='1'))
        b.add_column(sa.Column('pruner', STR(), nullable=False, server_default='none'))
        b.add_column(sa.Column('priority', STR(), nullable=False, server_default='default'))
        b.add_column(sa.Column('status', STR(), nullable=False, server_default='running'))
        b.add_column(sa.Column('study_name', STR(), nullable=False, server_default=''))
        b.add_column(sa.Column('error', sa.Text(), nullable=True))
        b.add_column(sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('run', schema=None) as b:
        b.add_column(sa.Column('trial_number', sa.Integer(), nullable=True))
        b.create_index('ix_run_sweep_id', ['sweep_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as b:
        b.drop_index('ix_run_sweep_id')
        b.drop_column('trial_number')
    with op.batch_alter_table('sweep', schema=None) as b:
        for name in ('finished_at', 'error', 'study_name', 'status', 'priority', 'pruner', 'parallel',
                     'max_trials', 'direction', 'metric', 'method', 'dataset_id'):
            b.drop_column(name)
