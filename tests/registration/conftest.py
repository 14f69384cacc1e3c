"""The registration tests' fixtures; their helpers live in tests/support/registration.py."""
import pytest


@pytest.fixture
def registration_server(portal_server):
    """gunicorn for the registration tests (see portal_server in tests/conftest.py)."""
    return portal_server
