"""distribution: a visit report's client data as filed, the company and contact its deals
are bound to, and when its run last started (a stale run is taken up again)

Revision ID: distribution_0002
Revises: bizproc_0001
Create Date: 2026-12-07 17:55:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'distribution_0002'
down_revision = 'bizproc_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('distribution_visit_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('company_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('distribution_visit_report', schema=None) as batch_op:
        batch_op.drop_column('started_at')
        batch_op.drop_column('contact_id')
        batch_op.drop_column('company_id')
        batch_op.drop_column('client')
