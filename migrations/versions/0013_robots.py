"""robots: stage robots, their versions and runs, the catch-up's cursor, extra holidays; the
deadline guard's mark of a robot's task

Revision ID: robots_0001
Revises: deadlines_0002
Create Date: 2026-12-07 17:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'robots_0001'
down_revision = 'deadlines_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stage_robot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('status_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('responsible', sa.String(length=16), nullable=False),
    sa.Column('deadline_hours', sa.Integer(), nullable=True),
    sa.Column('deadline_days', sa.Integer(), nullable=True),
    sa.Column('policy', sa.String(length=24), nullable=False),
    sa.Column('auditors', sa.JSON(), nullable=False),
    sa.Column('task_control', sa.Boolean(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('on_leave', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('active_since', sa.DateTime(), nullable=False),
    sa.Column('broken', sa.Text(), nullable=True),
    sa.Column('broken_field', sa.String(length=32), nullable=True),
    sa.Column('broken_reported_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stage_robot', schema=None) as batch_op:
        batch_op.create_index('ix_stage_robot_portal_stage', ['portal_id', 'entity', 'status_id'],
                              unique=False)

    op.create_table('stage_robot_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('robot_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('robot_id', 'version')
    )
    with op.batch_alter_table('stage_robot_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_robot_version_robot_id'), ['robot_id'],
                              unique=False)

    op.create_table('stage_robot_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('robot_id', sa.Integer(), nullable=False),
    sa.Column('robot_version', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('entry_key', sa.String(length=96), nullable=False),
    sa.Column('stage_id', sa.String(length=64), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('responsible_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('portal_id', 'robot_id', 'entity', 'item_id', 'entry_key')
    )
    with op.batch_alter_table('stage_robot_run', schema=None) as batch_op:
        batch_op.create_index('ix_stage_robot_run_item', ['portal_id', 'entity', 'item_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_stage_robot_run_robot_id'), ['robot_id'],
                              unique=False)

    op.create_table('stage_robot_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('last_history_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('portal_id', 'entity')
    )
    op.create_table('stage_robot_holidays',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('year_holidays', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], ),
    sa.PrimaryKeyConstraint('portal_id')
    )
    with op.batch_alter_table('deadline_track', schema=None) as batch_op:
        batch_op.add_column(sa.Column('robot_policy', sa.String(length=24), nullable=True))


def downgrade():
    with op.batch_alter_table('deadline_track', schema=None) as batch_op:
        batch_op.drop_column('robot_policy')
    op.drop_table('stage_robot_holidays')
    op.drop_table('stage_robot_cursor')
    with op.batch_alter_table('stage_robot_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_robot_run_robot_id'))
        batch_op.drop_index('ix_stage_robot_run_item')
    op.drop_table('stage_robot_run')
    with op.batch_alter_table('stage_robot_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_robot_version_robot_id'))
    op.drop_table('stage_robot_version')
    with op.batch_alter_table('stage_robot', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_robot_portal_stage')
    op.drop_table('stage_robot')
