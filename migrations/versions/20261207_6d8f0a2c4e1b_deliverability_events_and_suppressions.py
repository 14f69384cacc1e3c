"""deliverability: bounce and complaint events, the suppression list, subscriber status 'bounced'

Revision ID: 6d8f0a2c4e1b
Revises: 9c2e4a6b8d0f
Create Date: 2026-12-07 17:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '6d8f0a2c4e1b'
down_revision = '9c2e4a6b8d0f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'delivery_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('email_id', sa.Integer(), nullable=True),
        sa.Column('address_key', sa.String(length=320), nullable=True),
        sa.Column('lane', sa.String(length=16), nullable=True),
        sa.Column('status_code', sa.String(length=16), nullable=True),
        sa.Column('diagnostic', sa.Text(), nullable=True),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unmatched')",
                           name=op.f('ck_delivery_event_kind_known')),
        sa.CheckConstraint("source IN ('smtp', 'dsn', 'arf', 'other')", name=op.f('ck_delivery_event_source_known')),
        sa.ForeignKeyConstraint(['email_id'], ['outgoing_email.id'], ondelete='SET NULL',
                                name=op.f('fk_delivery_event_email_id_outgoing_email')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_event')),
    )
    with op.batch_alter_table('delivery_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_event_email_id'), ['email_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_event_address_key'), ['address_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_event_created_at'), ['created_at'], unique=False)
    op.create_table(
        'mail_suppression',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address_key', sa.String(length=320), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("reason IN ('hard_bounce', 'soft_bounces', 'complaint')",
                           name=op.f('ck_mail_suppression_reason_known')),
        sa.ForeignKeyConstraint(['event_id'], ['delivery_event.id'], ondelete='SET NULL',
                                name=op.f('fk_mail_suppression_event_id_delivery_event')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_suppression')),
        sa.UniqueConstraint('address_key', name=op.f('uq_mail_suppression_address_key')),
    )
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_subscriber_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('pending', 'confirmed', 'unsubscribed', 'bounced', 'erased')")


def downgrade():
    # A bounced subscriber is not confirmed; without the status they can only be unsubscribed.
    op.execute("UPDATE subscriber SET status = 'unsubscribed' WHERE status = 'bounced'")
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_subscriber_status_known'), type_='check')
        batch_op.create_check_constraint(
            'status_known', "status IN ('pending', 'confirmed', 'unsubscribed', 'erased')")
    op.drop_table('mail_suppression')
    op.drop_table('delivery_event')
