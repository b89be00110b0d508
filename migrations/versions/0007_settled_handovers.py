"""settled handovers: a handover's absence is a foreign key; users keep their language

Revision ID: 0007_settled_handovers
Revises: 0006_session_version
Create Date: 2026-12-07 04:30:00.000000

Before the key exists, handovers pointing at a deleted absence are settled the way deleting an
absence settles them now: a preview (nothing moved) is dropped with its journal; any other
handover keeps its history and forgets the absence (one still with the deputy is then given
back by the next tick, as for an absence that is over).
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_settled_handovers'
down_revision = '0006_session_version'
branch_labels = None
depends_on = None

_ORPHAN = ("move_batch.absence_id IS NOT NULL AND NOT EXISTS "
           "(SELECT 1 FROM absence WHERE absence.id = move_batch.absence_id)")


def upgrade():
    op.execute("DELETE FROM move_item WHERE batch_id IN (SELECT id FROM move_batch WHERE "
               f"state = 'preview' AND {_ORPHAN})")
    op.execute(f"DELETE FROM move_batch WHERE state = 'preview' AND {_ORPHAN}")
    op.execute(f"UPDATE move_batch SET absence_id = NULL, live_key = NULL WHERE {_ORPHAN}")
    with _sqlite_keys_off():
        with op.batch_alter_table('move_batch', schema=None) as batch_op:
            batch_op.create_foreign_key(batch_op.f('fk_move_batch_absence_id_absence'),
                                        'absence', ['absence_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.drop_column('language')
    with _sqlite_keys_off():
        with op.batch_alter_table('move_batch', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_move_batch_absence_id_absence'),
                                     type_='foreignkey')


@contextmanager
def _sqlite_keys_off():
    """On SQLite, batch mode copies ``move_batch`` into a new table and drops the old one;
    with foreign keys on, that drop would delete every journal row (``move_item`` cascades).
    The pragma only takes effect outside a transaction."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if sqlite:
            with op.get_context().autocommit_block():
                op.execute("PRAGMA foreign_keys=ON")
