"""portal_user.session_version: logging out or losing access ends every session

Revision ID: 0006_session_version
Revises: 0005_transfers
Create Date: 2026-12-07 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_session_version'
down_revision = '0005_transfers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
