"""bizproc: the extension's installation as a portal application, and its robot's runs

Revision ID: bizproc_0001
Revises: robots_0001
Create Date: 2026-12-07 17:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'bizproc_0001'
down_revision = 'robots_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('app_installation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('member_id', sa.String(length=255), nullable=True),
    sa.Column('rest_url', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=500), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=False),
    sa.Column('refresh_token', sa.Text(), nullable=False),
    sa.Column('application_token', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('installed_at', sa.DateTime(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_app_installation_portal_id_portal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_installation')),
    sa.UniqueConstraint('portal_id', name=op.f('uq_app_installation_portal_id'))
    )
    op.create_table('robot_app_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('event_token', sa.String(length=255), nullable=False),
    sa.Column('workflow_id', sa.String(length=64), nullable=True),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_robot_app_call_portal_id_portal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_robot_app_call')),
    sa.UniqueConstraint('portal_id', 'event_token', name=op.f('uq_robot_app_call_portal_id_event_token'))
    )
    with op.batch_alter_table('robot_app_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_robot_app_call_portal_id'), ['portal_id'], unique=False)


def downgrade():
    with op.batch_alter_table('robot_app_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_robot_app_call_portal_id'))

    op.drop_table('robot_app_call')
    op.drop_table('app_installation')
