"""Reading the whole database as text, the way a dump of it would show every value."""
from sqlalchemy import select

from portal.extensions import db


def tables_holding(app, text: str) -> list[str]:
    """The tables with a row that contains `text` anywhere in its values."""
    with app.app_context():
        found = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                if text in repr(tuple(row)):
                    found.append(table.name)
        return found
