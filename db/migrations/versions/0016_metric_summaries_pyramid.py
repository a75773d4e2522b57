"""metric summaries and the curve pyramid, kept at ingest; backfilled from the metric rows

metric_summary: per (run, metric) count, first, last, finite min and max and their steps.
metric_bucket: per (run, metric, level, bucket of 2^level steps) count, finite min and max and
the bucket's last row, for levels 3, 5, ..., 23 (db.queries.metrics.PYRAMID_LEVELS).

Revision ID: 0016_metric_summaries_pyramid
Revises: 0015_workers_resources
Create Date: 2026-12-03
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0016_metric_summaries_pyramid'
down_revision = '0015_workers_resources'
branch_labels = None
depends_on = None

LEVELS = tuple(range(3, 24, 2))  # frozen here: the backfill must not follow later code

SUMMARIES = """
INSERT INTO metric_summary (run_id, name, count, first_step, first_value, first_special, last_step, last_value,
                            last_special, min_value, min_step, max_value, max_step, version)
SELECT g.run_id, g.name, g.n, g.lo,
  (SELECT m.value FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.lo ORDER BY m.id LIMIT 1),
  (SELECT m.special FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.lo
   ORDER BY m.id LIMIT 1),
  g.hi,
  (SELECT m.value FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi
   ORDER BY m.id DESC LIMIT 1),
  (SELECT m.special FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi
   ORDER BY m.id DESC LIMIT 1),
  g.vmin, (SELECT min(m.step) FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.value = g.vmin),
  g.vmax, (SELECT min(m.step) FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.value = g.vmax),
  1
FROM (SELECT run_id, name, count(*) AS n, min(step) AS lo, max(step) AS hi, min(value) AS vmin, max(value) AS vmax
      FROM metric GROUP BY run_id, name) g
"""

# one level's buckets from the raw rows; the last row of a bucket is the newest row of its highest step
# (steps are non-negative, so integer division is the floor the ingest's shift computes)
BUCKETS = """
INSERT INTO metric_bucket (run_id, name, level, bucket, count, vmin, vmax, last_step, last_epoch, last_time,
                           last_value, last_special)
SELECT g.run_id, g.name, {level}, g.bucket, g.n, g.vmin, g.vmax, g.hi,
  (SELECT m.epoch FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi ORDER BY m.id DESC LIMIT 1),
  (SELECT m.time FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi ORDER BY m.id DESC LIMIT 1),
  (SELECT m.value FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi ORDER BY m.id DESC LIMIT 1),
  (SELECT m.special FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi
   ORDER BY m.id DESC LIMIT 1)
FROM (SELECT run_id, name, step / {width} AS bucket, count(*) AS n, min(value) AS vmin, max(value) AS vmax,
             max(step) AS hi
      FROM metric GROUP BY run_id, name, step / {width}) g
"""


def upgrade() -> None:
    op.create_table(
        'metric_summary',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_step', sa.Integer(), nullable=True),
        sa.Column('first_value', sa.Float(), nullable=True),
        sa.Column('first_special', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.Column('last_step', sa.Integer(), nullable=True),
        sa.Column('last_value', sa.Float(), nullable=True),
        sa.Column('last_special', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.Column('min_value', sa.Float(), nullable=True),
        sa.Column('min_step', sa.Integer(), nullable=True),
        sa.Column('max_value', sa.Float(), nullable=True),
        sa.Column('max_step', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id']),
        sa.PrimaryKeyConstraint('run_id', 'name'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'metric_bucket',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('vmin', sa.Float(), nullable=True),
        sa.Column('vmax', sa.Float(), nullable=True),
        sa.Column('last_step', sa.Integer(), nullable=False),
        sa.Column('last_epoch', sa.Integer(), nullable=True),
        sa.Column('last_time', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('last_value', sa.Float(), nullable=True),
        sa.Column('last_special', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.PrimaryKeyConstraint('run_id', 'name', 'level', 'bucket'),
        sqlite_with_rowid=False,  # the primary key is the table: one B-tree per upsert, not two
    )
    op.execute(SUMMARIES)
    for level in LEVELS:
        op.execute(BUCKETS.format(level=level, width=2 ** level))


def downgrade() -> None:
    op.drop_table('metric_bucket')
    op.drop_table('metric_summary')
