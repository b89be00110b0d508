"""distribution: service lines, settings, visit reports, picks and visit tasks

Revision ID: distribution_0001
Revises: deadlines_0001
Create Date: 2026-12-07 15:15:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'distribution_0001'
down_revision = 'deadlines_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('distribution_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_distribution_line_portal_id_portal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_line'))
    )
    with op.batch_alter_table('distribution_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_line_portal_id'), ['portal_id'], unique=False)
    op.create_table('distribution_settings',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_distribution_settings_portal_id_portal')),
    sa.PrimaryKeyConstraint('portal_id', name=op.f('pk_distribution_settings'))
    )
    op.create_table('distribution_visit_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('line_ids', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('visited_at', sa.DateTime(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decisions', sa.JSON(), nullable=False),
    sa.Column('main_decision', sa.JSON(), nullable=False),
    sa.Column('main_manager_id', sa.Integer(), nullable=True),
    sa.Column('deals', sa.JSON(), nullable=False),
    sa.Column('control_task_id', sa.Integer(), nullable=True),
    sa.Column('lead_converted', sa.Boolean(), nullable=False),
    sa.Column('notified', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_distribution_visit_report_portal_id_portal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_visit_report')),
    sa.UniqueConstraint('portal_id', 'lead_id', name=op.f('uq_distribution_visit_report_portal_id_lead_id'))
    )
    with op.batch_alter_table('distribution_visit_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_visit_report_portal_id'), ['portal_id'], unique=False)
    op.create_table('distribution_pick',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('picked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_distribution_pick_portal_id_portal')),
    sa.ForeignKeyConstraint(['report_id'], ['distribution_visit_report.id'], name=op.f('fk_distribution_pick_report_id_distribution_visit_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_pick')),
    sa.UniqueConstraint('report_id', 'line_id', name=op.f('uq_distribution_pick_report_id_line_id'))
    )
    with op.batch_alter_table('distribution_pick', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_pick_portal_id'), ['portal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_pick_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_pick_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_pick_user_id'), ['user_id'], unique=False)
    op.create_table('distribution_visit_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('representative_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portal.id'], name=op.f('fk_distribution_visit_task_portal_id_portal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_visit_task')),
    sa.UniqueConstraint('portal_id', 'lead_id', name=op.f('uq_distribution_visit_task_portal_id_lead_id'))
    )
    with op.batch_alter_table('distribution_visit_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_visit_task_portal_id'), ['portal_id'], unique=False)


def downgrade():
    op.drop_table('distribution_visit_task')
    op.drop_table('distribution_pick')
    op.drop_table('distribution_visit_report')
    op.drop_table('distribution_settings')
    op.drop_table('distribution_line')
