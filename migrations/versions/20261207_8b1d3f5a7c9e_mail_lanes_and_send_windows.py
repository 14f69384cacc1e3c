"""outbox lanes (transactional, bulk), the sent_at index, and the embedded bulk-rate counters

Revision ID: 8b1d3f5a7c9e
Revises: 5e7a9c1b3d4f
Create Date: 2026-12-07 14:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '8b1d3f5a7c9e'
down_revision = '5e7a9c1b3d4f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.String(length=16), nullable=False, server_default='transactional'))
        batch_op.create_check_constraint('lane_known', "lane IN ('transactional', 'bulk')")
        batch_op.create_index('ix_outgoing_email_sent_at', ['sent_at'], unique=False)
    # Digests already queued belong to the bulk lane.
    op.execute("UPDATE outgoing_email SET lane = 'bulk' WHERE name = 'digest'")
    op.create_table(
        'mail_send_window',
        sa.Column('limit_name', sa.String(length=64), nullable=False),
        sa.Column('window_start', sa.Integer(), nullable=False),
        sa.Column('used', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('limit_name', name=op.f('pk_mail_send_window')),
    )


def downgrade():
    op.drop_table('mail_send_window')
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_email_sent_at')
        batch_op.drop_constraint(op.f('ck_outgoing_email_lane_known'), type_='check')
        batch_op.drop_column('lane')
