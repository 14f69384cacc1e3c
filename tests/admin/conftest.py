"""Admin tests: an app with one admin and one staff account."""
import pytest

from tests.support.admin import STAFF_EMAIL, logged_in_client


@pytest.fixture
def admin_client(app):
    return logged_in_client(app)


@pytest.fixture
def staff_client(app):
    return logged_in_client(app, STAFF_EMAIL, role="staff")
