"""deadlines: the REST path's snapshot (the task's own flag, unreadable tasks, reverts),
the resync's state, escalated requests and the event-to-revert time

Revision ID: deadlines_0002
Revises: cadence_0002
Create Date: 2026-12-07 17:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'deadlines_0002'
down_revision = 'cadence_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deadline_track') as batch_op:
        batch_op.add_column(sa.Column('own_flag', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('link_posted', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('reverted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('read_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('read_failed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pending_since', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_deadline_track_pending', ['portal_id', 'pending_since'],
                              unique=False)
    with op.batch_alter_table('deadline_change') as batch_op:
        batch_op.add_column(sa.Column('latency_ms', sa.Integer(), nullable=True))
    with op.batch_alter_table('deadline_request') as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
    op.create_table('deadline_sync',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('reverted', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('portal_id')
    )


def downgrade():
    op.drop_table('deadline_sync')
    with op.batch_alter_table('deadline_request') as batch_op:
        batch_op.drop_column('escalated_at')
    with op.batch_alter_table('deadline_change') as batch_op:
        batch_op.drop_column('latency_ms')
    with op.batch_alter_table('deadline_track') as batch_op:
        batch_op.drop_index('ix_deadline_track_pending')
        batch_op.drop_column('pending_since')
        batch_op.drop_column('read_failed_at')
        batch_op.drop_column('read_error')
        batch_op.drop_column('reverted_at')
        batch_op.drop_column('link_posted')
        batch_op.drop_column('own_flag')
