"""Fixtures for the deliverability tests: a portal with a bounce address, and mail it has sent."""
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from portal.database import utcnow
from portal.deliverability.models import MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.verp import verp_address
from tests.support.mail import queue_test_email

BOUNCES = "bounces@news.example.org"


@dataclass(frozen=True)
class SentMail:
    id: int
    message_id: str
    #: The return path it went out with: where its reports are sent.
    verp: str
    to: str


@pytest.fixture
def bounce_env(portal_env):
    portal_env["MAIL_BOUNCE_ADDRESS"] = BOUNCES
    return portal_env


@pytest.fixture
def bounce_app(bounce_env, make_app):
    return make_app()


def sent_mail(app, to: str = "ada@example.org") -> SentMail:
    """A transactional message to `to`, committed and marked sent, as the outbox leaves it."""
    with app.app_context():
        row = queue_test_email(to=to)
        db.session.flush()
        db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == row.id)
                           .values(status=EmailStatus.SENT.value, sent_at=utcnow()))
        db.session.commit()
        return SentMail(row.id, row.message_id, verp_address(row.id), to)


def suppression_of(app, key: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(MailSuppression.reason).where(MailSuppression.address_key == key))
