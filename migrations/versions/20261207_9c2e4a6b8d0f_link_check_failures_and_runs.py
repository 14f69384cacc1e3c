"""link checks: failures in a row per resource, and each run (offline or not)

Revision ID: 9c2e4a6b8d0f
Revises: 8b1d3f5a7c9e
Create Date: 2026-12-07 14:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '9c2e4a6b8d0f'
down_revision = '8b1d3f5a7c9e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('link_failure', sa.String(length=300), nullable=True))
    op.create_table(
        'link_check_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.Column('checked', sa.Integer(), nullable=False),
        sa.Column('unreachable', sa.Integer(), nullable=False),
        sa.Column('offline', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link_check_run')),
    )


def downgrade():
    op.drop_table('link_check_run')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_column('link_failure')
        batch_op.drop_column('link_failures')
