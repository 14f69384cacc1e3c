"""payment instructions on events, payment status on registrations

Revision ID: c3e5a7f9b1d2
Revises: a4c6e8f0b2d1
Create Date: 2026-12-07 18:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'c3e5a7f9b1d2'
down_revision = 'a4c6e8f0b2d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('payment_url', sa.String(length=500), nullable=True))
        # Existing rows need a value; the model supplies it for new ones.
        batch_op.add_column(sa.Column('payment_instructions', sa.Text(), nullable=False, server_default=''))
        batch_op.create_check_constraint(
            'payment_method_known', "payment_method IS NULL OR payment_method IN ('invoice', 'at_door', 'online')")
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_status', sa.String(length=8), nullable=False, server_default='unpaid'))
        batch_op.add_column(sa.Column('paid_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('payment_note', sa.String(length=500), nullable=False, server_default=''))
        batch_op.create_check_constraint('payment_status_known', "payment_status IN ('unpaid', 'paid', 'waived')")


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_registration_payment_status_known'), type_='check')
        batch_op.drop_column('payment_note')
        batch_op.drop_column('paid_on')
        batch_op.drop_column('payment_status')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_event_payment_method_known'), type_='check')
        batch_op.drop_column('payment_instructions')
        batch_op.drop_column('payment_url')
        batch_op.drop_column('payment_method')
