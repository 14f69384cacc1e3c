import pytest

from portal.extensions import db
from portal.resources.service import seed_resources


@pytest.fixture
def seeded(app):
    """The app with the catalog from resources.json loaded."""
    with app.app_context():
        seed_resources()
        db.session.commit()
    return app
