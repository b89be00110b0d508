"""deadline guard: policies, task tracks, deadline requests and the audit of changes

Revision ID: deadlines_0001
Revises: 0007_settled_handovers
Create Date: 2026-12-07 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'deadlines_0001'
down_revision = '0007_settled_handovers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'deadline_policy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('portal_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=24), nullable=False),
        sa.Column('max_postponements', sa.Integer(), nullable=True),
        sa.Column('max_delay_days', sa.Integer(), nullable=True),
        sa.Column('exempt_heads', sa.Boolean(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['portal_id'], ['portal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('portal_id', 'scope', 'department_id'),
    )
    op.create_index('ix_deadline_policy_portal_id', 'deadline_policy', ['portal_id'])
    op.create_table(
        'deadline_track',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('portal_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('original_deadline', sa.DateTime(), nullable=True),
        sa.Column('current_deadline', sa.DateTime(), nullable=True),
        sa.Column('postponements', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['portal_id'], ['portal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('portal_id', 'task_id'),
    )
    op.create_table(
        'deadline_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('portal_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('task_title', sa.String(length=255), nullable=False),
        sa.Column('requester_id', sa.Integer(), nullable=False),
        sa.Column('responsible_id', sa.Integer(), nullable=False),
        sa.Column('old_deadline', sa.DateTime(), nullable=True),
        sa.Column('new_deadline', sa.DateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('approver_ids', sa.JSON(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['portal_id'], ['portal.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_deadline_request_portal_state', 'deadline_request',
                    ['portal_id', 'state'])
    op.create_index('ix_deadline_request_task_id', 'deadline_request', ['task_id'])
    op.create_index('ix_deadline_request_requester_id', 'deadline_request', ['requester_id'])
    op.create_table(
        'deadline_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('portal_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('responsible_id', sa.Integer(), nullable=True),
        sa.Column('old_deadline', sa.DateTime(), nullable=True),
        sa.Column('new_deadline', sa.DateTime(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('approver_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('postponement_no', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['portal_id'], ['portal.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_deadline_change_portal_at', 'deadline_change', ['portal_id', 'at'])
    op.create_index('ix_deadline_change_task_id', 'deadline_change', ['task_id'])
    op.create_index('ix_deadline_change_user_id', 'deadline_change', ['user_id'])


def downgrade():
    op.drop_table('deadline_change')
    op.drop_table('deadline_request')
    op.drop_table('deadline_track')
    op.drop_table('deadline_policy')
