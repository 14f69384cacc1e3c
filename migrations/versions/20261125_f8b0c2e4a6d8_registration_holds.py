"""registration: seats held until the address is confirmed (REGISTRATION_CONFIRM_EMAIL)

Revision ID: f8b0c2e4a6d8
Revises: e7a9b1d3f5c7
Create Date: 2026-11-25 07:55:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f8b0c2e4a6d8'
down_revision = 'e7a9b1d3f5c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_column('email_confirmed_at')
        batch_op.drop_column('hold_expires_at')
