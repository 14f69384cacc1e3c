"""consent log and first-party page views

Revision ID: b2d4f6a8c0e2
Revises: a1c3e5f7b9d1
Create Date: 2026-11-25 03:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b2d4f6a8c0e2'
down_revision = 'a1c3e5f7b9d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('granted', sa.JSON(), nullable=False),
    sa.Column('denied', sa.JSON(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('gpc', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=35), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_event'))
    )
    with op.batch_alter_table('consent_event', schema=None) as batch_op:
        batch_op.create_index('ix_consent_event_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_event_consent_id'), ['consent_id'], unique=False)

    op.create_table('page_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('referrer_host', sa.String(length=255), nullable=True),
    sa.Column('new_visit', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_view'))
    )
    with op.batch_alter_table('page_view', schema=None) as batch_op:
        batch_op.create_index('ix_page_view_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('page_view', schema=None) as batch_op:
        batch_op.drop_index('ix_page_view_created_at')
    op.drop_table('page_view')
    with op.batch_alter_table('consent_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_event_consent_id'))
        batch_op.drop_index('ix_consent_event_created_at')
    op.drop_table('consent_event')
