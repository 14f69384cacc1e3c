"""The email a registration POST causes: named in the request, rendered by a task after the response."""
import pytest
from sqlalchemy import select

from portal.deferred.models import DeferredRequest
from portal.extensions import db
from portal.registration import service
from tests.support.deferred import decide_requests
from tests.support.mail import outbox
from tests.support.registration import add_registration, new_event, register, registrations


@pytest.fixture
def reg_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def _post_only(app, slug: str, **fields):
    """The registration POST without the worker's part."""
    response = register(app.test_client(), slug, decide=False, **fields)
    assert response.status_code == 303, response.status_code
    return response


def _waiting_emails(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (row.email, row.payload["email"])
            for row in db.session.scalars(select(DeferredRequest).order_by(DeferredRequest.id))
        ]


def test_a_new_and_a_registered_address_leave_the_same_work_for_after_the_response(reg_app):
    slug = new_event(reg_app)
    add_registration(reg_app, slug, email="ada@example.org")
    before = len(outbox(reg_app))

    _post_only(reg_app, slug, email="grace@example.org")
    _post_only(reg_app, slug, email="Ada@Example.org")

    assert len(outbox(reg_app)) == before  # nothing is rendered in the request
    assert _waiting_emails(reg_app) == [
        ("grace@example.org", service.CONFIRMATION_EMAIL),
        ("ada@example.org", service.ALREADY_REGISTERED_EMAIL),
    ]
    assert decide_requests(reg_app) == ["sent", "sent"]
    assert [(e.name, e.to) for e in outbox(reg_app)[before:]] == [
        ("registration_confirmed", "grace@example.org"),
        ("registration_already_registered", "ada@example.org"),
    ]
    assert decide_requests(reg_app) == []  # each request is decided once


def test_a_registration_cancelled_before_its_confirmation_is_rendered_gets_only_the_cancellation(reg_app):
    slug = new_event(reg_app)
    _post_only(reg_app, slug, email="ada@example.org")
    with reg_app.app_context():
        service.cancel_registration(registrations(reg_app, slug)[0].id)
        db.session.commit()

    assert decide_requests(reg_app) == ["cancelled"]
    assert [e.name for e in outbox(reg_app)] == ["registration_cancelled"]


def test_a_waiting_registrant_promoted_before_the_waiting_list_email_is_rendered_gets_only_the_promotion(reg_app):
    slug = new_event(reg_app, day_capacity=1)
    holder = add_registration(reg_app, slug, email="holder@example.org")
    _post_only(reg_app, slug, email="waiting@example.org")
    assert _waiting_emails(reg_app) == [("waiting@example.org", service.WAITLISTED_EMAIL)]
    with reg_app.app_context():
        service.cancel_registration(holder.id)
        db.session.commit()

    assert decide_requests(reg_app) == ["superseded"]
    assert [(e.name, e.to) for e in outbox(reg_app)] == [
        ("registration_confirmed", "holder@example.org"),
        ("registration_cancelled", "holder@example.org"),
        ("registration_promoted", "waiting@example.org"),
    ]


def test_the_waiting_list_email_names_the_days_that_were_full_when_the_visitor_registered(reg_app):
    slug = new_event(reg_app, day_capacity=1)
    add_registration(reg_app, slug, email="holder@example.org", days="2")
    _post_only(reg_app, slug, email="waiting@example.org", days="all")

    assert decide_requests(reg_app) == ["sent"]
    [waitlisted] = outbox(reg_app, "registration_waitlisted")
    assert "Day 2 is full" in waitlisted.text and "position 1" in waitlisted.text
