"""Return paths: with MAIL_BOUNCE_ADDRESS, every envelope sender is a signed VERP address naming its outbox row."""
import re

import pytest

from portal.config import ConfigError
from portal.extensions import db
from portal.mail.tasks import deliver_emails
from portal.mail.verp import PURPOSE, read_verp_address, verp_address
from portal.tokens import sign_short
from tests.support.mail import queue_test_email

BOUNCES = "bounces@news.example.org"
VERP = re.compile(r"bounces\+(\d+)-[a-z2-7]{16}@news\.example\.org")


@pytest.fixture
def bounce_app(portal_env, make_app):
    portal_env["MAIL_BOUNCE_ADDRESS"] = BOUNCES
    return make_app()


def test_envelope_sender_is_the_verp_address_of_the_row(smtp_env, smtp_server, portal_env, make_app):
    portal_env["MAIL_BOUNCE_ADDRESS"] = BOUNCES
    portal_env["MAIL_DEFAULT_SENDER"] = "Policy Summit <news@example.org>"
    app = make_app()
    with app.app_context():
        email_id = queue_test_email().id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
        (mail,) = smtp_server.wait_for(1)
        assert VERP.fullmatch(mail.sender), mail.sender
        assert len(mail.sender.partition("@")[0]) <= 64
        assert read_verp_address(mail.sender) == email_id
    assert mail.message["From"] == "Policy Summit <news@example.org>"


def test_read_verp_address_gives_back_the_row_id(bounce_app):
    with bounce_app.app_context():
        address = verp_address(12345)
        assert read_verp_address(address) == 12345
        # As a DSN may quote it: in angle brackets, its case changed by a relay.
        assert read_verp_address(f"<{address.upper()}>") == 12345


@pytest.mark.parametrize("tamper", [
    lambda address: address.replace("bounces+12345-", "bounces+12346-"),
    lambda address: address.replace("-", "-a", 1)[:-len("@news.example.org") - 1] + "@news.example.org",
    lambda address: address.replace("news.example.org", "example.net"),
    lambda address: f"bounces+{sign_short(PURPOSE + '-other', '12345')}@news.example.org",
    lambda address: "bounces+12345@news.example.org",
    lambda address: BOUNCES,
], ids=["other-id", "other-signature", "other-domain", "other-purpose", "unsigned", "bare"])
def test_a_tampered_verp_address_is_refused(bounce_app, tamper):
    with bounce_app.app_context():
        address = verp_address(12345)
        assert read_verp_address(tamper(address)) is None


def test_a_bounce_address_verp_cannot_extend_stops_start_up(portal_env, make_app):
    portal_env["MAIL_BOUNCE_ADDRESS"] = "bounces+x@news.example.org"
    with pytest.raises(ConfigError, match="MAIL_BOUNCE_ADDRESS"):
        make_app()
