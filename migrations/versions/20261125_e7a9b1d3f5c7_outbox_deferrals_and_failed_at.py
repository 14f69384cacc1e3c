"""outbox: deferrals (server unreachable, no attempt used) and when a row failed

Revision ID: e7a9b1d3f5c7
Revises: d6f8a0c2e4b6
Create Date: 2026-11-25 07:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e7a9b1d3f5c7'
down_revision = 'd6f8a0c2e4b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deferrals', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.alter_column('deferrals', existing_type=sa.Integer(), server_default=None)


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_column('failed_at')
        batch_op.drop_column('deferrals')
