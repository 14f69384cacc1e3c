"""resources: featured, added date, retired, last link check

Revision ID: 1b2c3d4e5f60
Revises: 0a1b2c3d4e5f
Create Date: 2026-11-25 10:35:00

"""
import sqlalchemy as sa
from alembic import op

revision = '1b2c3d4e5f60'
down_revision = '0a1b2c3d4e5f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.add_column(sa.Column('featured', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('added_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('link_checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('link_status', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('link_error', sa.String(length=300), nullable=True))
    # Existing entries joined the catalog when they were first seeded.
    resource = sa.table('resource', sa.column('added_on', sa.Date()), sa.column('created_at', sa.DateTime()))
    # SQLite's CAST(... AS DATE) would keep only the year; date() gives 'YYYY-MM-DD'.
    as_date = (sa.func.date(resource.c.created_at) if op.get_bind().dialect.name == 'sqlite'
               else sa.cast(resource.c.created_at, sa.Date()))
    op.execute(resource.update().values(added_on=as_date))
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.alter_column('added_on', existing_type=sa.Date(), nullable=False)


def downgrade():
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_column('link_error')
        batch_op.drop_column('link_status')
        batch_op.drop_column('link_checked_at')
        batch_op.drop_column('retired_at')
        batch_op.drop_column('added_on')
        batch_op.drop_column('featured')
