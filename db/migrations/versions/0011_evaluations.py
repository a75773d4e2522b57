"""evaluation: a saved model (version or checkpoint) evaluated on a split of a dataset, as a job

Revision ID: 0011_evaluations
Revises: 0009_evaluate_parent_version
Create Date: 2026-12-03
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011_evaluations'
down_revision = '0009_evaluate_parent_version'
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'evaluation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_version_id', sa.Integer(), nullable=True),
        sa.Column('checkpoint_id', sa.Integer(), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('family', STR(), nullable=False),
        sa.Column('task', STR(), nullable=True),
        sa.Column('dataset_id', sa.Integer(), nullable=False),
        sa.Column('split', STR(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('status', STR(), nullable=False),
        sa.Column('phase', STR(), nullable=True),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('job_id', STR(), nullable=True),
        sa.Column('worker', STR(), nullable=True),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('tables', sa.JSON(), nullable=False),
        sa.Column('artifacts', sa.JSON(), nullable=False),
        sa.Column('out_dir', STR(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('started_at', TIME(), nullable=True),
        sa.Column('finished_at', TIME(), nullable=True),
        sa.Column('duration_s', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['model_version_id'], ['modelversion.id']),
        sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoint.id']),
        sa.ForeignKeyConstraint(['run_id'], ['run.id']),
        sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_evaluation_model_version_id', 'evaluation', ['model_version_id'], unique=False)
    op.create_index('ix_evaluation_dataset_id', 'evaluation', ['dataset_id'], unique=False)
    op.create_index('ix_evaluation_created_at', 'evaluation', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_evaluation_created_at', table_name='evaluation')
    op.drop_index('ix_evaluation_dataset_id', table_name='evaluation')
    op.drop_index('ix_evaluation_model_version_id', table_name='evaluation')
    op.drop_table('evaluation')
