"""DKIM: with DKIM_* set, every message is signed over the bytes that go on the wire, and verifies at the other end."""
import base64
import email
import email.policy
import subprocess

import dkim
import pytest

from portal.config import ConfigError
from portal.extensions import db
from portal.mail.tasks import deliver_emails
from tests.support.mail import queue_test_email

SELECTOR, DOMAIN = "mail2026", "example.org"
UNSUBSCRIBE = {"List-Unsubscribe": "<https://summit.example.org/newsletter/unsubscribe/t0ken>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory) -> tuple[str, bytes]:
    """(private key file, the TXT record publishing its public key), made with openssl as an operator would."""
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True, timeout=60)
    public = subprocess.run(["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True, timeout=60).stdout
    return str(path), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def signing_env(smtp_env, key_pair):
    smtp_env.update(DKIM_PRIVATE_KEY=key_pair[0], DKIM_SELECTOR=SELECTOR, DKIM_DOMAIN=DOMAIN,
                    MAIL_DEFAULT_SENDER="Policy Summit <news@example.org>")
    return smtp_env


def verifies(data: bytes, key_pair) -> bool:
    """dkimpy's verification, its DNS lookup answered with the test's public key."""
    def dns(name, timeout=5):
        return key_pair[1] if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    return dkim.verify(data, dnsfunc=dns)


def deliver_one(make_app, smtp_server, **kwargs) -> bytes:
    app = make_app()
    with app.app_context():
        email_id = queue_test_email(headers=UNSUBSCRIBE, **kwargs).id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    (received,) = smtp_server.wait_for(1)
    return received.data


def signed_headers(data: bytes) -> list[str]:
    """The h= tag of the message's DKIM-Signature: the names of the headers it covers."""
    signature = email.message_from_bytes(data, policy=email.policy.default)["DKIM-Signature"]
    tags = dict(tag.strip().partition("=")[::2] for tag in "".join(signature.split()).split(";") if tag)
    return tags["h"].split(":")


def test_a_delivered_message_carries_a_dkim_signature_that_verifies(signing_env, smtp_server, make_app, key_pair):
    data = deliver_one(make_app, smtp_server)
    assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;")
    assert signed_headers(data) == ["from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                                    "list-unsubscribe", "list-unsubscribe-post", "auto-submitted"]
    assert verifies(data, key_pair)


def test_a_message_for_a_non_ascii_address_is_signed_and_verifies(signing_env, smtp_server, make_app, key_pair):
    data = deliver_one(make_app, smtp_server, to="zoë@example.org")
    assert "To: zoë@example.org\r\n".encode() in data
    assert verifies(data, key_pair)


@pytest.mark.parametrize("alter", [
    lambda data: data.replace(b"Hello Ada", b"Hello Eve", 1),
    lambda data: data.replace(b"/unsubscribe/t0ken>", b"/unsubscribe/other>", 1),
    lambda data: data.replace(b"\r\nSubject: ", b"\r\nSubject: Re: ", 1),
], ids=["body", "list-unsubscribe", "subject"])
def test_a_message_altered_after_signing_fails_verification(signing_env, smtp_server, make_app, key_pair, alter):
    data = deliver_one(make_app, smtp_server)
    altered = alter(data)
    assert altered != data
    assert verifies(data, key_pair)
    assert not verifies(altered, key_pair)


def test_dkim_settings_must_be_set_together(portal_env, make_app, key_pair):
    portal_env.update(DKIM_PRIVATE_KEY=key_pair[0], DKIM_SELECTOR=SELECTOR)
    with pytest.raises(ConfigError, match="DKIM_DOMAIN is not set"):
        make_app()


def test_an_unreadable_dkim_key_stops_start_up(portal_env, make_app, tmp_path):
    portal_env.update(DKIM_PRIVATE_KEY=str(tmp_path / "missing.pem"), DKIM_SELECTOR=SELECTOR, DKIM_DOMAIN=DOMAIN)
    with pytest.raises(ConfigError, match="cannot be read"):
        make_app()
