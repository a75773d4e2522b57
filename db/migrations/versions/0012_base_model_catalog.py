"""catalog_entry: the base models of the operator's models folder (family, format, size, sha256,
source, when), so a catalogued file loads only while it still has the digest recorded here

Revision ID: 0012_base_model_catalog
Revises: 0011_evaluations
Create Date: 2026-12-03
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_base_model_catalog'
down_revision = '0011_evaluations'
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'catalog_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', STR(), nullable=False),
        sa.Column('family', STR(), nullable=False),
        sa.Column('task', STR(), nullable=True),
        sa.Column('format', STR(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', STR(), nullable=False),
        sa.Column('source', STR(), nullable=False),
        sa.Column('added_at', TIME(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_entry_name', ['name'], unique=True)
        batch_op.create_index('ix_catalog_entry_family', ['family'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_catalog_entry_family')
        batch_op.drop_index('ix_catalog_entry_name')
    op.drop_table('catalog_entry')
