"""page views: reduce the personal links already counted to their route

Revision ID: 5e7a9c1b3d4f
Revises: 3c5e7a9b1d2f
Create Date: 2026-12-07 14:00:00

Until now the page-view counter stored whatever path a page posted, so the pages
reached by a personal link stored their token (/manage/<token>, ...), and the
admin dashboard showed it to staff. The counter no longer counts those pages;
the views already counted keep their number under the route, without the token.
The token is gone for good, so the downgrade leaves the rows as they are.
"""
import sqlalchemy as sa
from alembic import op

revision = '5e7a9c1b3d4f'
down_revision = '3c5e7a9b1d2f'
branch_labels = None
depends_on = None

#: Every route whose address carries a token, as (its prefix, the pages under it that carry none).
PERSONAL_LINK_PREFIXES = (
    ('/manage/', ('/manage/lost-link', '/manage/link-sent')),
    ('/newsletter/preferences/', ()),
    ('/newsletter/confirm/', ()),
    ('/newsletter/unsubscribe/', ()),
    ('/verify/', ()),
    ('/admin/set-password/', ()),
)


def upgrade():
    page_view = sa.table('page_view', sa.column('path', sa.String))
    for prefix, public in PERSONAL_LINK_PREFIXES:
        op.execute(
            page_view.update()
            .where(page_view.c.path.startswith(prefix, autoescape=True), page_view.c.path.not_in(public))
            .values(path=prefix + '…')
        )


def downgrade():
    pass
