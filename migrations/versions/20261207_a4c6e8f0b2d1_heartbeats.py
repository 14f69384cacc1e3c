"""heartbeats of workers and beat (the embedded default's store; with Redis they live there)

Revision ID: a4c6e8f0b2d1
Revises: 6d8f0a2c4e1b
Create Date: 2026-12-07 18:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a4c6e8f0b2d1'
down_revision = '6d8f0a2c4e1b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'heartbeat',
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('queues', sa.String(length=255), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeat')),
    )


def downgrade():
    op.drop_table('heartbeat')
