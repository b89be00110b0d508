"""cadence: the daily digest's record, call statistics, the digest hour, report indexes

Revision ID: cadence_0002
Revises: cadence_0001
Create Date: 2026-12-07 18:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'cadence_0002'
down_revision = 'cadence_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cadence_digest',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_cadence_digest_portal_id_portal')),
    sa.PrimaryKeyConstraint('portal_id', 'user_id', 'day', name=op.f('pk_cadence_digest'))
    )
    op.create_table('cadence_call_stat',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_cadence_call_stat_portal_id_portal')),
    sa.PrimaryKeyConstraint('portal_id', 'activity_id', name=op.f('pk_cadence_call_stat'))
    )
    with op.batch_alter_table('cadence_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_hour', sa.Integer(), nullable=True))
    with op.batch_alter_table('cadence_company', schema=None) as batch_op:
        batch_op.create_index('ix_cadence_company_portal_resp_due', ['portal_id', 'responsible_id', 'due_at'], unique=False)
        batch_op.create_index('ix_cadence_company_portal_cat_due', ['portal_id', 'category', 'due_at'], unique=False)


def downgrade():
    with op.batch_alter_table('cadence_company', schema=None) as batch_op:
        batch_op.drop_index('ix_cadence_company_portal_cat_due')
        batch_op.drop_index('ix_cadence_company_portal_resp_due')
    with op.batch_alter_table('cadence_settings', schema=None) as batch_op:
        batch_op.drop_column('digest_hour')
    op.drop_table('cadence_call_stat')
    op.drop_table('cadence_digest')
