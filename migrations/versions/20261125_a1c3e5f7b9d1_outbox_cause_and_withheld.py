"""outbox: what caused a message, and messages withheld at send time

Revision ID: a1c3e5f7b9d1
Revises: cdb287e072d7
Create Date: 2026-11-25 02:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1c3e5f7b9d1'
down_revision = 'cdb287e072d7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cause_kind', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('cause_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_outgoing_email_cause', ['cause_kind', 'cause_id'], unique=False)
        batch_op.drop_constraint(op.f('ck_outgoing_email_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('queued', 'sending', 'sent', 'failed', 'withheld')"
        )


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outgoing_email_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('queued', 'sending', 'sent', 'failed')")
        batch_op.drop_index('ix_outgoing_email_cause')
        batch_op.drop_column('cause_id')
        batch_op.drop_column('cause_kind')
