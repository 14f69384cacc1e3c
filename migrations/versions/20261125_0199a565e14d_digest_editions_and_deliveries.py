"""digest editions and deliveries

Revision ID: 0199a565e14d
Revises: 1b2c3d4e5f60
Create Date: 2026-11-25 11:04:20

"""
import sqlalchemy as sa
from alembic import op

revision = '0199a565e14d'
down_revision = '1b2c3d4e5f60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('digest_edition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_subscriber_id', sa.Integer(), nullable=False),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('withheld', sa.Integer(), nullable=False),
    sa.Column('resource_ids', sa.JSON(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('progressed_at', sa.DateTime(), nullable=False),
    sa.Column('composed_at', sa.DateTime(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("frequency IN ('weekly', 'monthly')", name=op.f('ck_digest_edition_frequency_known')),
    sa.CheckConstraint("status IN ('composing', 'sending', 'done')", name=op.f('ck_digest_edition_status_known')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_digest_edition_event_id_event'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_edition')),
    sa.UniqueConstraint('frequency', 'period_start', name=op.f('uq_digest_edition_frequency'))
    )
    op.create_table('digest_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('email_id', sa.Integer(), nullable=True),
    sa.Column('resource_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['edition_id'], ['digest_edition.id'], name=op.f('fk_digest_delivery_edition_id_digest_edition'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_id'], ['outgoing_email.id'], name=op.f('fk_digest_delivery_email_id_outgoing_email'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_digest_delivery_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_delivery')),
    sa.UniqueConstraint('edition_id', 'subscriber_id', name=op.f('uq_digest_delivery_edition_id'))
    )
    with op.batch_alter_table('digest_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_delivery_subscriber_id'), ['subscriber_id'], unique=False)



def downgrade():
    with op.batch_alter_table('digest_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_delivery_subscriber_id'))

    op.drop_table('digest_delivery')
    op.drop_table('digest_edition')
