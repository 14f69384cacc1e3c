"""newsletter: the resources a welcome email highlighted, so digests do not repeat them

Revision ID: 3c5e7a9b1d2f
Revises: 0199a565e14d
Create Date: 2026-12-05 12:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '3c5e7a9b1d2f'
down_revision = '0199a565e14d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('welcome_resource_ids', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_column('welcome_resource_ids')
