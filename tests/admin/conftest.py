"""Admin tests: an app with one admin and one staff account."""
import pytest

from tests.support.admin import STAFF_EMAIL, add_account, log_in


@pytest.fixture
def admin_client(app):
    add_account(app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


@pytest.fixture
def staff_client(app):
    add_account(app, STAFF_EMAIL, role="staff")
    client = app.test_client()
    assert log_in(client, STAFF_EMAIL).status_code == 303
    return client
