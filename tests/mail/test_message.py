"""What goes on the wire: CRLF only, a stable Message-ID, no header injection, inlined CSS, MIME layout."""
import email
import email.policy
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.mail import Attachment
from portal.mail.message import message_bytes, parsed_message
from portal.mail.tasks import deliver_emails
from portal.mail.models import EmailStatus, OutgoingEmail
from tests.support.mail import PDF, PNG, queue_test_email, row_state


def queue_with_attachments(name="Ada"):
    return queue_test_email(
        name=name,
        context={"logo_cid": "logo"},
        attachments=[
            Attachment("agenda.pdf", "application/pdf", PDF),
            Attachment("logo.png", "image/png", PNG, content_id="logo"),
        ],
    )


def test_serialized_message_uses_crlf_line_endings_only(app):
    with app.app_context():
        # Non-ASCII text takes the quoted-printable path; attachments the base64 one.
        row = queue_with_attachments(name="Zoë")
        data = message_bytes(row)
    without_crlf = data.replace(b"\r\n", b"")
    assert b"\n" not in without_crlf
    assert b"\r" not in without_crlf
    assert data.count(b"\r\n") > 20


def test_resent_message_keeps_its_message_id(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email().id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
        # The worker that sent it died before recording 'sent': its lease ran out.
        db.session.execute(
            update(OutgoingEmail).where(OutgoingEmail.id == email_id)
            .values(status=EmailStatus.SENDING.value, lease_expires_at=utcnow().replace(year=2000))
        )
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    first, second = smtp_server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"] == row_state(app, email_id).message_id


def test_line_break_in_subject_context_stays_within_one_header(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email(name="Ada\r\nBcc: eve@example.org").id
        db.session.commit()
        deliver_emails([email_id])
    (received,) = smtp_server.wait_for(1)
    assert received.recipients == ["ada@example.org"]
    assert received.message["Bcc"] is None
    assert received.message["Subject"] == "A test message for Ada Bcc: eve@example.org"


def test_row_with_line_break_in_subject_is_failed_without_being_sent(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        # Written directly, as other code could: queue_email would never store this.
        row = OutgoingEmail(
            name="test_message", to_address="ada@example.org", from_address="summit@portal.localhost",
            subject="Hello\r\nBcc: eve@example.org", body_text="Hi\n", body_html="<p>Hi</p>",
            headers={}, message_id="<injected@portal.localhost>",
        )
        db.session.add(row)
        db.session.commit()
        assert deliver_emails([row.id])["failed"] == 1
        email_id = row.id
    state = row_state(app, email_id)
    assert state.status == EmailStatus.FAILED.value
    assert state.last_error == "refused to build: subject contains a line break, which would start a new header"
    assert smtp_server.messages == []


def _plain_row(**fields):
    row = {"name": "test_message", "lane": "transactional",
           "from_address": "Policy Summit <news@example.org>", "to_address": "ada@example.org",
           "subject": "This week", "message_id": "<1@example.org>", "headers": {}, "body_text": "Hello\n",
           "body_html": "<p>Hello</p>\n", "attachments": []}
    return SimpleNamespace(**{**row, **fields})


@pytest.mark.parametrize("fields", [
    {},
    {"subject": "Zoë's digest: " + "gene therapy " * 12},
    {"from_address": "Société de thérapie génique <news@example.org>"},
    {"to_address": "zoë@example.org"},
    {"body_text": "one\ntwo\n" + "x" * 2500 + "\n", "body_html": "x" * 2500 + "\n"},
    {"body_text": "Grüße\n", "body_html": "<p>Grüße</p>\n"},
    {"body_text": ".\n.. a line that starts with dots\n", "body_html": "<p>.</p>\n"},
    {"headers": {"List-Unsubscribe": "<https://example.org/u/" + "t" * 300 + ">",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Note": "é " * 60}},
], ids=["ascii", "long-non-ascii-subject", "non-ascii-sender-name", "smtputf8", "long-lines",
        "non-ascii-bodies", "leading-dots", "long-and-non-ascii-headers"])
def test_a_mail_client_reads_back_every_field_as_it_was_queued(app, fields):
    row = _plain_row(**fields)
    with app.app_context():
        data = message_bytes(row)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    if data.isascii():
        read = email.message_from_bytes(data, policy=email.policy.default)
    else:  # SMTPUTF8: the headers are raw UTF-8, as such a client reads them
        read = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert read.get_content_type() == "multipart/alternative"
    assert read["Subject"] == row.subject
    assert read["From"].addresses[0].addr_spec == "news@example.org"
    assert str(read["From"]) == row.from_address
    assert read["To"].addresses[0].addr_spec == row.to_address
    assert read["Message-ID"] == row.message_id
    for name, value in row.headers.items():
        assert str(read[name]) == value
    # Read back from the wire, every line ends in CRLF.
    assert read.get_body(("plain",)).get_content() == row.body_text.replace("\n", "\r\n")
    assert read.get_body(("html",)).get_content() == row.body_html.replace("\n", "\r\n")


def test_html_body_has_its_css_inlined(app):
    with app.app_context():
        row = queue_test_email()
        html = parsed_message(row).get_body(preferencelist=("html",)).get_content()
    assert "<style" not in html
    assert 'style="' in html and "color: #0b3d5c" in html
    assert "Hello Ada" in html


def test_message_is_multipart_alternative_with_text_and_html(app):
    with app.app_context():
        msg = parsed_message(queue_test_email())
    assert msg.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "Hello Ada" in msg.get_body(preferencelist=("plain",)).get_content()


def test_delivered_message_carries_attachment_and_inline_image(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_with_attachments().id
        db.session.commit()
        deliver_emails([email_id])
    message = smtp_server.wait_for(1)[0].message
    assert message.get_content_type() == "multipart/mixed"
    alternative, download = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.iter_parts()
    assert (text.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
    html, image = related.iter_parts()
    assert 'src="cid:logo"' in html.get_content()
    assert image["Content-ID"] == "<logo>"
    assert image.get_content() == PNG
    assert download.get_filename() == "agenda.pdf"
    assert download.get_content() == PDF


def test_calendar_attachment_and_address_style_content_id_are_delivered(smtp_env, smtp_server, make_app):
    app = make_app()
    calendar = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    with app.app_context():
        email_id = queue_test_email(
            context={"logo_cid": "checkin-ABC123@portal.localhost"},
            attachments=[
                Attachment("check-in.png", "image/png", PNG, "checkin-ABC123@portal.localhost"),
                Attachment("summit.ics", "text/calendar", calendar),
            ],
        ).id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    message = smtp_server.wait_for(1)[0].message
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["image/png"]["Content-ID"] == "<checkin-ABC123@portal.localhost>"
    assert parts["text/calendar"].get_filename() == "summit.ics"
    assert parts["text/calendar"].get_content().replace("\r\n", "\n") == calendar.decode().replace("\r\n", "\n")


def test_non_ascii_address_is_delivered_with_smtputf8(smtp_env, smtp_server, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email(to="zoë@example.org").id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1
    (received,) = smtp_server.wait_for(1)
    assert received.recipients == ["zoë@example.org"]
    assert received.message["To"] == "zoë@example.org"


def test_non_ascii_address_fails_permanently_when_server_lacks_smtputf8(ascii_only_smtp_env, make_app):
    app = make_app()
    with app.app_context():
        email_id = queue_test_email(to="zoë@example.org").id
        db.session.commit()
        assert deliver_emails([email_id])["failed"] == 1
    state = row_state(app, email_id)
    assert state.status == EmailStatus.FAILED.value
    assert "SMTPUTF8" in state.last_error
    assert ascii_only_smtp_env.messages == []


def test_a_long_list_unsubscribe_goes_out_on_one_plain_line(app):
    """Encoded-words are not allowed in structured headers: providers would find no address to use."""
    url = "https://summit.example.org/newsletter/unsubscribe/" + "t" * 120
    row = _plain_row(headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    with app.app_context():
        data = message_bytes(row)
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in data


def test_an_inline_image_is_related_to_the_html_it_belongs_to(app):
    with app.app_context():
        message = parsed_message(queue_with_attachments())
    [related] = [part for part in message.walk() if part.get_content_type() == "multipart/related"]
    assert related.get_param("type") == "text/html"
    assert [part.get_content_type() for part in related.iter_parts()] == ["text/html", "image/png"]
