"""The development mailbox: where mail goes on the embedded default, and only there."""
import email.policy
import mailbox

import pytest

from portal.extensions import db
from portal.mail import Attachment
from portal.mail.tasks import deliver_emails
from portal.celery_app import publish_committed_tasks
from tests.support.mail import GENEROUS, PNG, queue_test_email
from tests.support.smtp import free_port
from tests.support.wait import wait_until


def dev_maildir(app) -> mailbox.Maildir:
    return mailbox.Maildir(app.config["DEV_MAILBOX"], create=True)


def deliver_one(app, **kwargs) -> None:
    with app.app_context():
        email_id = queue_test_email(**kwargs).id
        db.session.commit()
        assert deliver_emails([email_id])["sent"] == 1


def only_key(app) -> str:
    (key,) = dev_maildir(app).keys()
    return key


def test_worker_delivers_into_the_dev_maildir_on_the_embedded_default(embedded_app, celery_worker):
    with embedded_app.test_request_context():
        queue_test_email()
        db.session.commit()
        publish_committed_tasks()
    wait_until(lambda: len(dev_maildir(embedded_app)) == 1, timeout=GENEROUS, interval=0.1,
               message="one message in the dev Maildir")
    raw = dev_maildir(embedded_app).get_bytes(only_key(embedded_app))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert (message["To"], message["Subject"]) == ("ada@example.org", "A test message for Ada")


def test_dev_mail_lists_delivered_messages(embedded_app):
    deliver_one(embedded_app, to="grace@example.org", name="Grace")
    response = embedded_app.test_client().get("/dev/mail/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "grace@example.org" in page
    assert "A test message for Grace" in page
    assert f'href="/dev/mail/{only_key(embedded_app)}"' in page


def test_dev_mail_shows_a_message_with_its_parts(embedded_app):
    deliver_one(embedded_app, context={"logo_cid": "logo"},
                attachments=[Attachment("logo.png", "image/png", PNG, content_id="logo")])
    client = embedded_app.test_client()
    key = only_key(embedded_app)

    page = client.get(f"/dev/mail/{key}")
    assert page.status_code == 200
    assert "A test message for Ada" in page.get_data(as_text=True)
    assert "This is a test." in page.get_data(as_text=True)

    html = client.get(f"/dev/mail/{key}/html")
    assert html.status_code == 200
    assert "Hello Ada" in html.get_data(as_text=True)
    assert "data:image/png;base64," in html.get_data(as_text=True)  # the cid: image, made viewable
    assert "sandbox" in html.headers["Content-Security-Policy"]

    raw = client.get(f"/dev/mail/{key}/raw")
    assert raw.status_code == 200
    assert b"Message-ID: <" in raw.data


def test_dev_mail_answers_404_for_an_unknown_message(embedded_app):
    assert embedded_app.test_client().get("/dev/mail/no-such-key").status_code == 404


OFF_EMBEDDED = {
    "redis": {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
    "postgresql": {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/portal"},
}


@pytest.mark.parametrize("setting", OFF_EMBEDDED.values(), ids=OFF_EMBEDDED.keys())
def test_dev_mail_is_404_off_the_embedded_default(embedded_env, make_app, setting):
    embedded_env.update(setting)
    app = make_app()
    assert not app.config["EMBEDDED_SERVICES"]
    client = app.test_client()
    assert client.get("/dev/mail/").status_code == 404
    assert client.get("/dev/mail").status_code == 404
