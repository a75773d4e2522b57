"""metrics store NaN and infinities faithfully (value nullable + special word)

Revision ID: 0006_nonfinite_metrics
Revises: 0005_decide
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006_nonfinite_metrics'
down_revision = '0005_decide'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('metric', schema=None) as batch_op:
        batch_op.add_column(sa.Column('special', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True))
        batch_op.alter_column('value', existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    # a non-finite value has no finite spelling: those rows cannot go back to a NOT NULL column
    op.execute("DELETE FROM metric WHERE value IS NULL")
    with op.batch_alter_table('metric', schema=None) as batch_op:
        batch_op.alter_column('value', existing_type=sa.Float(), nullable=False)
        batch_op.drop_column('special')
