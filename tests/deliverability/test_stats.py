"""Figures for the admin page: per day and per digest edition, sent mail against bounces and complaints."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.database import utcnow
from portal.deliverability import service
from portal.deliverability.service import Figures
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.mail.tasks import deliver_bulk_emails
from portal.mail.verp import verp_address
from portal.resources.service import seed_resources
from tests.deliverability.conftest import sent_mail
from tests.support.digests import add_subscribers, compose_whole_edition, edition_counts
from tests.support.reports import arf_report, postfix_dsn


def _process(app, raw: bytes) -> None:
    with app.app_context():
        service.process_report(raw)
        db.session.commit()


def test_daily_figures_count_mail_sent_and_reports_received_each_day(bounce_app):
    mails = [sent_mail(bounce_app, f"reader{n}@example.org") for n in range(4)]
    _process(bounce_app, postfix_dsn(mails[0].verp, mails[0].to))
    _process(bounce_app, postfix_dsn(mails[1].verp, mails[1].to, status="4.2.2", diagnostic="452 4.2.2 Mailbox full"))
    _process(bounce_app, arf_report(mails[2].verp, mails[2].to, mails[2].message_id))
    with bounce_app.app_context():
        today, yesterday, _ = service.daily_stats(days=3)
    assert (today.day, today.sent, today.hard, today.soft, today.complaints) == (utcnow().date(), 4, 1, 1, 1)
    assert (today.hard_rate, today.complaint_rate, today.reaches_complaint_line) == (0.25, 0.25, True)
    assert (yesterday.day, yesterday.sent, yesterday.complaint_rate) == (utcnow().date() - timedelta(days=1), 0, 0.0)


@pytest.mark.parametrize("complaints, reached", [(2, False), (3, True)])
def test_the_complaint_line_is_three_in_a_thousand(complaints, reached):
    assert Figures(sent=1000, hard=0, soft=0, complaints=complaints).reaches_complaint_line is reached


def test_edition_figures_count_the_bounces_of_its_digests(bounce_app):
    with bounce_app.app_context():
        seed_resources()
        db.session.commit()
    add_subscribers(bounce_app, 2, topics=("regulatory",))
    edition_id = compose_whole_edition(bounce_app, day=date(2026, 11, 23))
    with bounce_app.app_context():
        digests = list(db.session.execute(select(OutgoingEmail.id, OutgoingEmail.to_address)
                                          .where(OutgoingEmail.name == "digest").order_by(OutgoingEmail.id)))
        assert deliver_bulk_emails([email_id for email_id, _ in digests])["sent"] == 2
        bounced_id, bounced_to = digests[0]
        verp = verp_address(bounced_id)
    assert edition_counts(bounce_app, edition_id)["sent"] == 2
    _process(bounce_app, postfix_dsn(verp, bounced_to))
    with bounce_app.app_context():
        (figures,) = service.edition_stats()
    assert (figures.edition.id, figures.sent, figures.hard, figures.soft, figures.complaints) == (edition_id, 2, 1, 0, 0)
    assert figures.hard_rate == 0.5
