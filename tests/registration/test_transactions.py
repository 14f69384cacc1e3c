"""Services flush, callers commit: two service calls in one transaction stand or fall together."""
from portal.extensions import db
from portal.registration import service
from tests.support.mail import outbox
from tests.support.registration import registrations


def _full_event_with_a_waiting_registrant(make_event, make_registration):
    slug = make_event(day_capacity=1)
    make_registration(slug, email="holder@example.org")
    make_registration(slug, email="waiting@example.org")
    return slug


def test_two_service_calls_rolled_back_together_leave_no_trace(app, make_event, make_registration):
    slug = _full_event_with_a_waiting_registrant(make_event, make_registration)
    holder, waiting = registrations(app, slug)
    emails_before = len(outbox(app))
    with app.app_context():
        service.set_day_capacity(holder.event_id, 1, 5)
        service.cancel_registration(holder.id)
        db.session.rollback()
    assert [r.status for r in registrations(app, slug)] == ["confirmed", "waitlisted"]
    assert len(outbox(app)) == emails_before
    with app.app_context():
        assert service.get_event(slug).days[0].capacity == 1


def test_two_service_calls_committed_together_both_take_effect(app, make_event, make_registration):
    slug = _full_event_with_a_waiting_registrant(make_event, make_registration)
    holder, waiting = registrations(app, slug)
    with app.app_context():
        service.set_day_capacity(holder.event_id, 1, 5)
        promoted = [r.email for r in service.set_day_capacity(holder.event_id, 2, 5)]
        service.cancel_registration(holder.id)
        db.session.commit()
    assert promoted == ["waiting@example.org"]
    assert [r.status for r in registrations(app, slug)] == ["cancelled", "confirmed"]
    assert [e.to for e in outbox(app, "registration_promoted")] == ["waiting@example.org"]
    assert [e.to for e in outbox(app, "registration_cancelled")] == ["holder@example.org"]


def test_services_never_commit_on_their_own(app, make_event, make_registration):
    slug = _full_event_with_a_waiting_registrant(make_event, make_registration)
    holder, _ = registrations(app, slug)
    with app.app_context():
        service.cancel_registration(holder.id)
        assert db.session().in_transaction()
        db.session.rollback()
    assert registrations(app, slug)[0].status == "confirmed"
