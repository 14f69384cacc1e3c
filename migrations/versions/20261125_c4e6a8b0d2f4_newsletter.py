"""newsletter: subscribers, their topics and history, suppressed addresses; deferred visitor requests

Revision ID: c4e6a8b0d2f4
Revises: b2d4f6a8c0e2
Create Date: 2026-11-25 06:53:58.786010

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e6a8b0d2f4'
down_revision = 'b2d4f6a8c0e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deferred_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('email_key', sa.String(length=320), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deferred_request'))
    )
    with op.batch_alter_table('deferred_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deferred_request_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deferred_request_email_key'), ['email_key'], unique=False)

    op.create_table('subscriber',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_key', sa.String(length=320), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('wants_events', sa.Boolean(), nullable=False),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('signup_source', sa.String(length=16), nullable=True),
    sa.Column('consent_source', sa.String(length=16), nullable=True),
    sa.Column('privacy_policy_version', sa.String(length=32), nullable=True),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(), nullable=True),
    sa.Column('erased_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("frequency IN ('weekly', 'monthly')", name=op.f('ck_subscriber_frequency_known')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'unsubscribed', 'erased')", name=op.f('ck_subscriber_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber')),
    sa.UniqueConstraint('email_key', name=op.f('uq_subscriber_email_key'))
    )
    op.create_table('suppressed_address',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_suppressed_address'))
    )
    op.create_table('subscriber_topic',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_subscriber_topic_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topic.id'], name=op.f('fk_subscriber_topic_topic_id_topic'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'topic_id', name=op.f('pk_subscriber_topic'))
    )
    with op.batch_alter_table('subscriber_topic', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriber_topic_topic_id'), ['topic_id'], unique=False)

    op.create_table('subscription_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('privacy_policy_version', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_subscription_event_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_event'))
    )
    with op.batch_alter_table('subscription_event', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_event_subscriber_kind_at', ['subscriber_id', 'kind', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('subscription_event', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_event_subscriber_kind_at')

    op.drop_table('subscription_event')
    with op.batch_alter_table('subscriber_topic', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriber_topic_topic_id'))

    op.drop_table('subscriber_topic')
    op.drop_table('suppressed_address')
    op.drop_table('subscriber')
    with op.batch_alter_table('deferred_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deferred_request_email_key'))
        batch_op.drop_index(batch_op.f('ix_deferred_request_created_at'))

    op.drop_table('deferred_request')
