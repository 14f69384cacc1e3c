"""What sets bulk mail apart from transactional mail: Auto-Submitted or a Feedback-ID, and the postal address in the footer."""
import logging
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.mail.message import parsed_message
from portal.mail.models import Lane, OutgoingEmail
from portal.mail.tasks import deliver_emails
from portal.resources.service import seed_resources
from tests.support.digests import add_subscribers, compose_whole_edition
from tests.support.mail import queue_test_email

MONDAY = date(2026, 11, 23)
ADDRESS = "Gene & Cell Therapy Society, 1 Example Street, 1000 Brussels, Belgium"


def digest_row(portal_env, make_app, **settings) -> tuple:
    """(app, the one digest row of an edition with one reader), the portal configured with `settings`."""
    portal_env.update(settings)
    app = make_app()
    with app.app_context():
        seed_resources()
        db.session.commit()
    add_subscribers(app, 1, topics=("regulatory",))
    compose_whole_edition(app, day=MONDAY)
    with app.app_context():
        (row,) = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.name == "digest")
                                    .options(selectinload(OutgoingEmail.attachments)))
        db.session.expunge(row)
    return app, row


def test_transactional_mail_is_auto_submitted(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email().id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    (received,) = smtp_server.wait_for(1)
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert received.message["Feedback-ID"] is None


def test_a_digest_carries_a_feedback_id_and_is_not_auto_submitted(portal_env, make_app):
    app, row = digest_row(portal_env, make_app, MAIL_DEFAULT_SENDER="Policy Summit <news@Example.org>")
    assert row.lane == Lane.BULK.value
    with app.app_context():
        message = parsed_message(row)
    assert message["Feedback-ID"] == "digest:bulk:summit-portal:example.org"
    assert message["Auto-Submitted"] is None


def test_a_digest_footer_shows_the_postal_address(portal_env, make_app):
    _, row = digest_row(portal_env, make_app, ORGANIZATION_POSTAL_ADDRESS=ADDRESS)
    footer_text = row.body_text.partition("\n--\n")[2]
    assert footer_text.rstrip().endswith(ADDRESS)
    footer_html = row.body_html.partition('class="footer"')[2]
    assert "Gene &amp; Cell Therapy Society, 1 Example Street, 1000 Brussels, Belgium</p>" in footer_html


def test_a_production_portal_without_a_postal_address_logs_a_warning(portal_env, make_app, caplog):
    portal_env["ORGANIZATION_POSTAL_ADDRESS"] = ""
    with caplog.at_level(logging.WARNING):
        make_app(TESTING=False)
    assert any("ORGANIZATION_POSTAL_ADDRESS is not set" in record.getMessage() for record in caplog.records)
