"""Every email a subscriber can get. Each function returns its context (see portal.mail).

Emails to a confirmed subscriber carry the list headers of RFC 2369 and
RFC 8058, so mail clients offer their own "Unsubscribe" button (one click
when the portal's links are https).
Every message is withheld at send time when its recipient erased their data
in the meantime; list mail also when they unsubscribed.
"""
from flask import current_app
from sqlalchemy import select

from portal.database import one_of
from portal.extensions import db
from portal.links import absolute_url
from portal.mail import Cause, EmailContent, email, sender_domain
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber, SubscriberStatus
from portal.newsletter.tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, make_subscriber_token
from portal.resources.highlights import Highlight, email_highlights


def preferences_url(subscriber: Subscriber) -> str:
    return absolute_url("newsletter.preferences", token=make_subscriber_token(PREFERENCES, subscriber))


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute_url("newsletter.unsubscribe", token=make_subscriber_token(UNSUBSCRIBE, subscriber))


def list_headers(subscriber: Subscriber, unsubscribe: str | None = None) -> dict[str, str]:
    """List-Unsubscribe (+ -Post for one click) and List-Id, for every mail to a subscriber.

    `unsubscribe`: the subscriber's unsubscribe URL when the caller already made one.
    RFC 8058 allows List-Unsubscribe-Post only with an https URI: over plain
    http a mailbox provider would POST the token in clear text on the reader's
    behalf, so the link is then offered for the reader to open, not one-click.
    """
    url = unsubscribe or unsubscribe_url(subscriber)
    targets = [f"<{url}>"]
    mailto = current_app.config["NEWSLETTER_UNSUBSCRIBE_MAILTO"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if url.startswith("https://"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["List-Id"] = f"Summit Portal newsletter <newsletter.{sender_domain()}>"
    return headers


def _withheld(rows, list_mail: bool) -> dict[int, str]:
    """Reasons by row id, from one query for the subscribers of the whole batch."""
    ids = {row.cause_id for row in rows if row.cause_kind == "subscriber"}
    now = {sid: (key, status) for sid, key, status in db.session.execute(
        select(Subscriber.id, Subscriber.email_key, Subscriber.status).where(one_of(Subscriber.id, ids)))}
    reasons = {}
    for row in rows:
        key, status = now.get(row.cause_id, (None, None)) if row.cause_kind == "subscriber" else (None, None)
        if key is None:
            reasons[row.id] = "the subscriber erased their data"
        elif key != address_key(row.to_address):
            reasons[row.id] = "the message was for another address"
        elif list_mail and status == SubscriberStatus.BOUNCED.value:
            reasons[row.id] = "the subscriber's address bounced"
        elif list_mail and status != SubscriberStatus.CONFIRMED.value:
            reasons[row.id] = "the subscriber unsubscribed"
    return reasons


def _recipient_gone(rows) -> dict[int, str]:
    return _withheld(rows, list_mail=False)


def withhold_unless_subscribed(rows) -> dict[int, str]:
    """For list mail: withheld when the subscriber erased their data or unsubscribed after it was queued."""
    return _withheld(rows, list_mail=True)


def _context(subscriber: Subscriber, **extra) -> dict:
    return {
        "subscriber": subscriber,
        "topic_labels": [topic.label for topic in subscriber.topics],
        "manage_url": absolute_url("newsletter.manage"),
        "signup_url": absolute_url("newsletter.signup"),
        **extra,
    }


def _content(subscriber: Subscriber, headers=None, **extra) -> EmailContent:
    return EmailContent(_context(subscriber, **extra), headers=headers or {}, cause=Cause("subscriber", subscriber.id))


def _list_content(subscriber: Subscriber, **extra) -> EmailContent:
    return _content(
        subscriber,
        headers=list_headers(subscriber),
        preferences_url=preferences_url(subscriber),
        unsubscribe_url=unsubscribe_url(subscriber),
        **extra,
    )


@email("newsletter_confirm", withhold_if=_recipient_gone)
def send_confirmation_request(subscriber: Subscriber):
    confirm_url = absolute_url("newsletter.confirm", token=make_subscriber_token(CONFIRM, subscriber))
    days = current_app.config["NEWSLETTER_CONFIRM_LINK_MAX_AGE"] // 86400
    return _content(subscriber, confirm_url=confirm_url, link_days=days)


@email("newsletter_already_subscribed", withhold_if=_recipient_gone)
def send_already_subscribed(subscriber: Subscriber):
    return _list_content(subscriber)


#: Catalog highlights the welcome email carries, from the topics just chosen.
WELCOME_HIGHLIGHTS = 3


def welcome_highlights(subscriber: Subscriber) -> list[Highlight]:
    """What the welcome email highlights: the best of the topics just chosen (none without topics)."""
    topics = [topic.slug for topic in subscriber.topics]
    return email_highlights(WELCOME_HIGHLIGHTS, topics) if topics else []


@email("newsletter_welcome", withhold_if=withhold_unless_subscribed)
def send_welcome(subscriber: Subscriber, highlights: list[Highlight]):
    return _list_content(subscriber, highlights=highlights)


@email("newsletter_manage_link", withhold_if=_recipient_gone)
def send_manage_link(subscriber: Subscriber):
    return _list_content(subscriber)
