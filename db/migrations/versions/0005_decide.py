"""model registry: version status, one active per scope, audit lines, activation policy; share links

Revision ID: 0005_decide
Revises: 0004_run_attempt
Create Date: 2026-11-25
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005_decide'
down_revision = '0004_run_attempt'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain strings, not PG enum types: statuses and policies may grow without a type migration
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='candidate'))
        batch_op.add_column(sa.Column('active_slot', sa.String(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, family, task, scope FROM modelversion WHERE active "
                                "ORDER BY id DESC")).fetchall()
    seen = set()
    for id_, family, task, scope in rows:  # the newest active one of a scope keeps it
        slot = f"{family}|{task or ''}|{scope}"
        if slot in seen:
            bind.execute(sa.text("UPDATE modelversion SET active = :f, status = 'archived' WHERE id = :id"),
                         {"f": False, "id": id_})
            continue
        seen.add(slot)
        bind.execute(sa.text("UPDATE modelversion SET status = 'active', active_slot = :slot WHERE id = :id"),
                     {"slot": slot, "id": id_})
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.create_index('uq_modelversion_active_slot', ['active_slot'], unique=True)

    op.create_table('activationpolicy',
    sa.Column('family', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('policy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('family')
    )
    op.create_table('modelevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('time', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('family', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=True),
    sa.Column('replaced_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['model_version_id'], ['modelversion.id'], ),
    sa.ForeignKeyConstraint(['replaced_id'], ['modelversion.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('modelevent', schema=None) as batch_op:
        batch_op.create_index('ix_modelevent_scope', ['family', 'task', 'scope'], unique=False)
        batch_op.create_index(batch_op.f('ix_modelevent_time'), ['time'], unique=False)

    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='runs'))
        batch_op.add_column(sa.Column('model_version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key('fk_sharelink_model_version', 'modelversion', ['model_version_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sharelink_model_version', type_='foreignkey')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('model_version_id')
        batch_op.drop_column('kind')
    op.drop_table('modelevent')
    op.drop_table('activationpolicy')
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.drop_index('uq_modelversion_active_slot')
        batch_op.drop_column('active_slot')
        batch_op.drop_column('status')
