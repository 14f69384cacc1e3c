"""Bounced subscribers in the admin's newsletter figures: the dashboard count and the subscriber export."""
import csv
import io

from portal.database import utcnow
from portal.extensions import db
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber
from tests.support.admin import csrf_of
from tests.support.web import page_text


def _subscribers(app, **statuses) -> None:
    with app.app_context():
        for name, status in statuses.items():
            email = f"{name}@example.org"
            db.session.add(Subscriber(email=email, email_key=address_key(email), status=status, confirmed_at=utcnow()))
        db.session.commit()


def test_the_dashboard_counts_bounced_subscribers(app, admin_client):
    _subscribers(app, ada="confirmed", bob="bounced", bea="bounced")
    text = page_text(admin_client.get("/admin/"))
    assert "Confirmed 1" in text and "Bounced 2" in text


def test_the_subscriber_export_names_the_bounced_status(app, admin_client):
    _subscribers(app, ada="confirmed", bob="bounced")
    token = csrf_of(admin_client, "/admin/exports")
    response = admin_client.post("/admin/exports/subscribers", data={"csrf_token": token, "file_format": "csv"},
                                 buffered=True)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["Email"]: row["Status"] for row in rows} == {"ada@example.org": "confirmed", "bob@example.org": "bounced"}
