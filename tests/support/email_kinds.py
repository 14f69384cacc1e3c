"""One message of every email kind the portal has, as the exact bytes delivery would send.

Each kind is caused the way the portal causes it where that is a service call
(registering, changing, cancelling, inviting, composing a digest edition), or
by its email function with the arguments the service would pass. The kinds are
the folders of templates/email (test_message, the outbox tests' own, included):
the tests compare against `template_kinds`, so a new kind fails them until it is
added here.
"""
from datetime import date
from pathlib import Path

from sqlalchemy import select

from portal.admin.service import invite_account
from portal.database import utcnow
from portal.extensions import db
from portal.mail.message import message_bytes
from portal.mail.models import OutgoingEmail
from portal.mail.validation import address_key
from portal.newsletter import emails as newsletter_emails
from portal.newsletter.models import Subscriber
from portal.registration import emails as registration_emails
from portal.registration import service as registration_service
from portal.registration.models import Registration
from portal.resources.models import Topic
from portal.resources.service import seed_resources
from tests.support.digests import add_subscribers, compose_whole_edition
from tests.support.mail import queue_test_email
from tests.support.registration import add_registration, new_event

EMAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
MONDAY = date(2026, 11, 23)


def template_kinds() -> set[str]:
    """Every email kind: a folder of templates/email with a subject."""
    return {folder.name for folder in EMAIL_TEMPLATES.iterdir() if (folder / "subject.txt").is_file()}


def production_like_app(portal_env: dict, make_app):
    """An app configured as in production (https base URL, a sender on a real domain, a postal address), catalog loaded.

    Filters score the links and addresses too: the tests' http://127.0.0.1:5000 is not what readers get.
    """
    portal_env["PORTAL_BASE_URL"] = "https://summit.example.org"
    portal_env["MAIL_DEFAULT_SENDER"] = "Gene & Cell Therapy Summit <summit@example.org>"
    portal_env["ORGANIZATION_POSTAL_ADDRESS"] = "Gene & Cell Therapy Society, 1 Example Street, 1000 Brussels, Belgium"
    app = make_app()
    with app.app_context():
        seed_resources()
        db.session.commit()
    return app


def every_kind_wire_bytes(app) -> dict[str, bytes]:
    """{kind: message bytes} for one message of each kind; `app` has the resource catalog loaded."""
    slug = new_event(app, day_capacity=1)
    holder = add_registration(app, slug, email="ada.lovelace@example.org")
    add_registration(app, slug, email="grace.hopper@example.org", first_name="Grace", last_name="Hopper")
    add_subscribers(app, 1, topics=("regulatory", "clinical-trials"), first_name="Rosalind")
    compose_whole_edition(app, day=MONDAY)
    with app.app_context():
        registration = db.session.get(Registration, holder.id)
        registration_emails.send_already_registered(registration, None, to=registration.email)
        registration_emails.send_manage_link(registration, None, to=registration.email)
        registration_emails.send_verify_request(registration, None, to=registration.email)
        # Down to the first day: a change with a dropped day, so its withdrawal calendar too.
        registration_service.change_registration(holder.id, (1,), "Vegetarian", "")
        # Cancelling frees the seat, which promotes the waiting registrant.
        registration_service.cancel_registration(holder.id)
        subscriber = _subscriber("barbara.mcclintock@example.org", "Barbara")
        newsletter_emails.send_confirmation_request(subscriber, to=subscriber.email)
        newsletter_emails.send_already_subscribed(subscriber, to=subscriber.email)
        newsletter_emails.send_welcome(subscriber, newsletter_emails.welcome_highlights(subscriber), to=subscriber.email)
        newsletter_emails.send_manage_link(subscriber, to=subscriber.email)
        invite_account("door.keeper@example.org", "staff")
        queue_test_email()
        db.session.commit()
        wire = {}
        for row in db.session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id)):
            wire.setdefault(row.name, message_bytes(row))
        return wire


def _subscriber(email: str, first_name: str) -> Subscriber:
    topics = list(db.session.scalars(select(Topic).where(Topic.slug.in_(("regulatory", "journals")))))
    subscriber = Subscriber(
        email=email, email_key=address_key(email), status="confirmed", frequency="monthly",
        confirmed_at=utcnow(), first_name=first_name, topics=topics,
    )
    db.session.add(subscriber)
    db.session.flush()
    return subscriber
