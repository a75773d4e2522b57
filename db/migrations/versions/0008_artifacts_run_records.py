"""a run's records: notes (description, tags), clone origin, progress time and stall flag;
artifacts (files with size and sha256), reproducibility manifests, notifications and their
deliveries

Revision ID: 0008_artifacts_run_records
Revises: 0007_metric_curve_indexes
Create Date: 2026-12-03
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008_artifacts_run_records'
down_revision = '0007_metric_curve_indexes'
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    # plain columns only: a constraint would make SQLite rebuild the run table, which every other
    # table refers to (``cloned_from`` is cleared by the run deletion instead)
    with op.batch_alter_table('run', schema=None) as b:
        b.add_column(sa.Column('description', sa.Text(), nullable=False, server_default=''))
        b.add_column(sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))
        b.add_column(sa.Column('cloned_from', sa.Integer(), nullable=True))
        b.add_column(sa.Column('progress_at', TIME(), nullable=True))
        b.add_column(sa.Column('stalled_at', TIME(), nullable=True))
    op.create_table(
        'artifact',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('path', STR(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', STR(), nullable=False),
        sa.Column('kind', STR(), nullable=False),
        sa.Column('recorded_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id', 'path', name='uq_artifact_run_path'),
    )
    op.create_index('ix_artifact_run_id', 'artifact', ['run_id'], unique=False)
    op.create_table(
        'runmanifest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id', 'attempt', name='uq_runmanifest_run_attempt'),
    )
    op.create_index('ix_runmanifest_run_id', 'runmanifest', ['run_id'], unique=False)
    op.create_table(
        'notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('event', STR(), nullable=False),
        sa.Column('subject', STR(), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notification_created_at', 'notification', ['created_at'], unique=False)
    op.create_table(
        'notificationdelivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=False),
        sa.Column('target', STR(), nullable=False),
        sa.Column('host', STR(), nullable=False),
        sa.Column('status', STR(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_at', TIME(), nullable=False),
        sa.Column('claimed_at', TIME(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered_at', TIME(), nullable=True),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['notification_id'], ['notification.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('notification_id', 'target', name='uq_delivery_notification_target'),
    )
    op.create_index('ix_notificationdelivery_notification_id', 'notificationdelivery', ['notification_id'],
                    unique=False)
    op.create_index('ix_delivery_target_status', 'notificationdelivery', ['target', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_target_status', table_name='notificationdelivery')
    op.drop_index('ix_notificationdelivery_notification_id', table_name='notificationdelivery')
    op.drop_table('notificationdelivery')
    op.drop_index('ix_notification_created_at', table_name='notification')
    op.drop_table('notification')
    op.drop_index('ix_runmanifest_run_id', table_name='runmanifest')
    op.drop_table('runmanifest')
    op.drop_index('ix_artifact_run_id', table_name='artifact')
    op.drop_table('artifact')
    with op.batch_alter_table('run', schema=None) as b:
        for name in ('stalled_at', 'progress_at', 'cloned_from', 'tags', 'description'):
            b.drop_column(name)
