"""Registration helpers for tests: events, form posts, reading registrations back."""
import re
from datetime import date, datetime

from sqlalchemy import func, select

from portal.extensions import db
from portal.registration.models import Event, Registration
from tests.support.deferred import decide_requests
from tests.support.events import build_event
from tests.support.web import csrf_token_from

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
    # The check-answers page's button: a POST with it registers at once.
    "confirm": "yes",
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


def register(client, slug: str, decide: bool = True, **fields):
    """Fill in and post the registration form like a browser: GET for the CSRF token, then POST.

    Then, unless `decide` is False, the worker's part: the POST only names the
    email it causes, and a task renders it after the response (portal.deferred),
    run here as a worker would; `response.decided` lists what each waiting
    request's handler did.
    """
    page = client.get(f"/events/{slug}/register")
    assert page.status_code == 200, page.status_code
    data = {**VALID_FORM, **fields, "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    response = client.post(f"/events/{slug}/register", data={k: v for k, v in data.items() if v is not None})
    response.decided = decide_requests(client.application) if decide else []
    return response


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


MANAGE_LINK = re.compile(r"https?://[^/\s]+(/manage/[A-Za-z0-9_.\-]+)")


def manage_path(email_text: str) -> str:
    match = MANAGE_LINK.search(email_text)
    assert match, "no manage link in the email"
    return match.group(1)


def add_registration(app, slug: str, **fields) -> Registration:
    """Register through the service (no HTTP) and commit; returns the registration, detached."""
    from portal.registration import service
    from portal.registration.forms import day_positions

    form = {**VALID_FORM, **fields}
    with app.app_context():
        event = service.get_event(slug)
        service.register_attendee(
            event,
            service.AttendeeDetails(
                first_name=form["first_name"], last_name=form["last_name"], email=form["email"],
                organization=form["organization"], job_title=form["job_title"], category_code=form["category"],
                day_positions=day_positions(form["days"], event), dietary=form["dietary"], accessibility=form["accessibility"],
            ),
        )
        db.session.commit()
        registration = service.active_registration(event.id, form["email"])
        db.session.expunge(registration)
    decide_requests(app)  # the email the registration caused, as a worker would send it
    return registration
