"""registration: compare addresses by an NFC, case-folded key (unique index too)

Revision ID: d6f8a0c2e4b6
Revises: c4e6a8b0d2f4
Create Date: 2026-11-25 07:20:00

"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = 'd6f8a0c2e4b6'
down_revision = 'c4e6a8b0d2f4'
branch_labels = None
depends_on = None


def _key(address: str) -> str:
    # portal.mail.validation.address_key, frozen here as of this migration.
    return unicodedata.normalize("NFC", address.strip()).casefold()


def upgrade():
    # The expression indexes go first: SQLite's batch mode cannot reflect them when it rebuilds the table.
    op.drop_index('uq_registration_event_email_active', table_name='registration')
    op.drop_index('ix_registration_email_lower', table_name='registration')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=320), nullable=True))

    connection = op.get_bind()
    registration = sa.table('registration', sa.column('id', sa.Integer), sa.column('email', sa.String),
                            sa.column('email_key', sa.String))
    for row_id, email in connection.execute(sa.select(registration.c.id, registration.c.email)).all():
        connection.execute(registration.update().where(registration.c.id == row_id).values(email_key=_key(email)))

    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.alter_column('email_key', existing_type=sa.String(length=320), nullable=False)
        batch_op.create_index('ix_registration_email_key', ['email_key'], unique=False)
        batch_op.create_index(
            'uq_registration_event_email_key_active', ['event_id', 'email_key'], unique=True,
            postgresql_where=sa.text("status != 'cancelled'"), sqlite_where=sa.text("status != 'cancelled'"),
        )


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('uq_registration_event_email_key_active')
        batch_op.drop_index('ix_registration_email_key')
        batch_op.drop_column('email_key')
    op.create_index('ix_registration_email_lower', 'registration', [sa.literal_column("lower(email)")], unique=False)
    op.create_index(
        'uq_registration_event_email_active', 'registration', ["event_id", sa.literal_column("lower(email)")],
        unique=True, postgresql_where=sa.text("status != 'cancelled'"), sqlite_where=sa.text("status != 'cancelled'"),
    )
