"""Newsletter helpers: sign up through the forms, decide the queued requests, find links in mail."""
import re

from sqlalchemy import select

from portal.extensions import db
from portal.newsletter.models import Subscriber, SubscriptionEvent
from portal.newsletter.tokens import make_subscriber_token
from tests.support.deferred import decide_requests  # noqa: F401  (re-exported for the newsletter tests)
from tests.support.web import csrf_token_from

LINK = re.compile(r"https?://[^\s\"<>]+/newsletter/(confirm|preferences|unsubscribe)/[A-Za-z0-9_.\-]+")


def signup(client, email="ada@example.org", first_name="", topics=None, frequency="monthly", **extra):
    """POST the full signup page as a visitor would (CSRF token from the page)."""
    token = csrf_token_from(client.get("/newsletter/").get_data(as_text=True))
    data = {"csrf_token": token, "email": email, "first_name": first_name, "frequency": frequency, **extra}
    data["topics"] = topics if topics is not None else ["events"]
    return client.post("/newsletter/", data=data)


def footer_signup(client, email="ada@example.org", **extra):
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="footer-csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return client.post("/newsletter/footer", data={"footer-csrf_token": token, "footer-email": email, **extra})


def subscriber_state(app, email: str) -> dict | None:
    with app.app_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        if subscriber is None:
            return None
        return {
            "id": subscriber.id, "status": subscriber.status, "first_name": subscriber.first_name,
            "topics": [t.slug for t in subscriber.topics], "events": subscriber.wants_events,
            "frequency": subscriber.frequency, "paused_until": subscriber.paused_until,
            "consent_source": subscriber.consent_source, "privacy_policy_version": subscriber.privacy_policy_version,
            "confirmed_at": subscriber.confirmed_at,
        }


def history(app, subscriber_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            select(SubscriptionEvent.kind).where(SubscriptionEvent.subscriber_id == subscriber_id)
            .order_by(SubscriptionEvent.id)
        ))


def token_for(app, purpose: str, subscriber_id: int) -> str:
    with app.app_context(), app.test_request_context():
        return make_subscriber_token(purpose, db.session.get(Subscriber, subscriber_id))


def links_in(text: str) -> dict[str, str]:
    """{"confirm": url, "preferences": url, "unsubscribe": url}: the newsletter links in an email body."""
    found = {}
    for match in LINK.finditer(text):
        found.setdefault(match.group(1), match.group(0))
    return found


def confirmed_subscriber(app, client, email="ada@example.org", **fields) -> int:
    """Sign up, decide, and confirm through the emailed link's page; returns the subscriber id."""
    from tests.support.mail import outbox

    signup(client, email=email, **fields)
    decide_requests(app)
    confirm_mail = [m for m in outbox(app, "newsletter_confirm") if m.to == email][-1]
    path = local_path(links_in(confirm_mail.text)["confirm"])
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    return subscriber_state(app, email)["id"]


def local_path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]
