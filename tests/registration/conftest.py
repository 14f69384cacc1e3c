"""Helpers for the registration tests: events, form posts, the outbox, a configurable live server."""
import re
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.mail.models import OutgoingEmail
from portal.registration.models import Event, Registration
from tests.conftest import csrf_token_from
from tests.support.smtp import free_port
from tests.support.events import build_event
from tests.support.worker import LiveServer, start_live_server

VALID_FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.org",
    "organization": "Analytical Engine Society",
    "job_title": "Director of Policy",
    "category": "member",
    "days": "all",
    "dietary": "",
    "accessibility": "",
    "privacy": "y",
}
_slugs = iter(range(1, 10_000))


def create_event(
    *,
    day_capacity: int = 100,
    capacity: int | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    first_day: date = date(2030, 9, 23),
) -> Event:
    """A two-day event open for registration (unless told otherwise). Needs an app context."""
    event = build_event(
        f"test-summit-{next(_slugs)}", day_capacity=day_capacity, capacity=capacity, first_day=first_day,
        opens_at=opens_at, closes_at=closes_at,
    )
    db.session.add(event)
    db.session.commit()
    return event


def new_event(app, **kwargs) -> str:
    """Create an event in its own app context; returns its slug."""
    with app.app_context():
        return create_event(**kwargs).slug


def register(client, slug: str, **fields):
    """Fill in and post the registration form like a browser: GET for the CSRF token, then POST."""
    page = client.get(f"/events/{slug}/register")
    assert page.status_code == 200, page.status_code
    data = {**VALID_FORM, **fields, "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    return client.post(f"/events/{slug}/register", data={k: v for k, v in data.items() if v is not None})


def registrations(app, slug: str) -> list[Registration]:
    with app.app_context():
        rows = db.session.scalars(
            select(Registration).join(Event).where(Event.slug == slug).order_by(Registration.id)
        ).all()
        db.session.expunge_all()
        return rows


def status_counts(app, slug: str) -> dict[str, int]:
    with app.app_context():
        return dict(
            db.session.execute(
                select(Registration.status, func.count())
                .join(Event)
                .where(Event.slug == slug)
                .group_by(Registration.status)
            ).all()
        )


@dataclass
class QueuedEmail:
    name: str
    to: str
    subject: str
    text: str
    html: str


def outbox(app, name: str | None = None) -> list[QueuedEmail]:
    with app.app_context():
        query = select(OutgoingEmail).order_by(OutgoingEmail.id)
        if name:
            query = query.where(OutgoingEmail.name == name)
        return [
            QueuedEmail(row.name, row.to_address, row.subject, row.body_text, row.body_html)
            for row in db.session.scalars(query)
        ]


MANAGE_LINK = re.compile(r"https?://[^/\s]+(/manage/[A-Za-z0-9_.\-]+)")


def manage_path(email_text: str) -> str:
    match = MANAGE_LINK.search(email_text)
    assert match, "no manage link in the email"
    return match.group(1)


def page_text(response) -> str:
    """The <main> of a page as one line of text, for asserting on what a visitor reads."""
    html = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    main = html[html.index("<main"): html.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest.fixture
def registration_server(portal_env, tmp_path):
    """Start gunicorn for this test: `registration_server(workers=4, threads=4, REGISTRATION_CAPACITY_LOCK=False)`.

    PORTAL_BASE_URL is set to the server's own address first, so the links in
    emails open on it; request celery_worker after calling this to share that.
    """
    servers = []

    def start(workers: int = 2, threads: int = 1, **overrides) -> LiveServer:
        port = free_port()
        portal_env["PORTAL_BASE_URL"] = f"http://127.0.0.1:{port}"
        server = start_live_server(portal_env, tmp_path, workers, threads, port=port, overrides=overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
