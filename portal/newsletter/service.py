"""Newsletter decisions: who is subscribed to what, who is told, and what is kept.

Visitors' requests arrive as deferred requests (see intake.py) and are
decided here, in a task, after the visitor already has their answer. Every
function changes the session and flushes; the caller commits. Caps on what
one address can be sent are counted in the subscription's own history
(SubscriptionEvent), so they hold across processes and without Redis.
"""
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from portal.database import select_for_update, utcnow
from portal.deferred.service import forget_requests_from
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.validation import address_key
from portal.newsletter import emails
from portal.newsletter.errors import ExpiredLink, InvalidLink, InvalidPreferences
from portal.newsletter.models import (
    Frequency,
    SignupSource,
    Subscriber,
    SubscriberStatus,
    SubscriptionEvent,
    SuppressedAddress,
)
from portal.newsletter.tokens import read_subscriber_token
from portal.resources.models import Topic
from portal.tokens import TokenExpired, TokenInvalid

EVENTS_TOPIC = "events"  # the choice beside the catalog's topics: Policy Summit and other events
LOCK_TIMEOUT_MS = 5000
# Emails that answer a signup, and count against NEWSLETTER_CONFIRMATIONS_PER_DAY.
SIGNUP_ANSWERS = ("confirmation_sent", "already_subscribed_sent")


@dataclass(frozen=True)
class Preferences:
    """What a subscriber chose: catalog topic slugs, events or not, and how often."""

    topics: tuple[str, ...]
    wants_events: bool
    frequency: str

    @classmethod
    def everything(cls, frequency: str = Frequency.MONTHLY.value) -> "Preferences":
        """A short form's signup: every topic and events; the preference page narrows it later."""
        return cls(tuple(topic.slug for topic in list_topics()), True, frequency)

    def as_detail(self) -> dict:
        return {"topics": list(self.topics), "events": self.wants_events, "frequency": self.frequency}


def list_topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))


def suppression_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_suppressed(key: str) -> bool:
    return db.session.get(SuppressedAddress, suppression_hash(key)) is not None


# --- Requests decided after the response (portal.deferred) ----------------------------

SIGNUP_REQUEST = "newsletter.signup"
MANAGE_LINK_REQUEST = "newsletter.manage_link"


def handle_signup_request(email: str, payload: dict) -> str:
    """A new or pending address gets a confirmation request, a confirmed one a reminder of its preferences."""
    key = address_key(email)
    source = payload["source"]
    # A topic removed from the catalog since the request was made is simply left out.
    known = {topic.slug for topic in list_topics()}
    topics = tuple(slug for slug in payload["topics"] if slug in known)
    preferences = Preferences(topics, bool(payload["wants_events"]), payload["frequency"])
    subscriber = _locked_subscriber(key)
    if subscriber is None:
        if source == SignupSource.REGISTRATION.value and is_suppressed(key):
            # Erased addresses come back only through the newsletter's own forms.
            return "suppressed"
        subscriber = _insert_subscriber(email, key)
        if subscriber is None:  # another worker created it a moment ago
            subscriber = _locked_subscriber(key)
    elif subscriber.is_confirmed:
        _log(subscriber, "signup", source=source, detail={"already": "confirmed"})
        return _send_capped(subscriber, "already_subscribed_sent", SIGNUP_ANSWERS, "NEWSLETTER_CONFIRMATIONS_PER_DAY",
                            emails.send_already_subscribed)
    elif source == SignupSource.REGISTRATION.value and is_suppressed(key):
        return "suppressed"
    subscriber.email = email
    subscriber.first_name = payload.get("first_name") or subscriber.first_name
    subscriber.status = SubscriberStatus.PENDING.value
    subscriber.signup_source = source
    _apply_preferences(subscriber, preferences)
    _log(subscriber, "signup", source=source, detail=preferences.as_detail())
    return _send_capped(subscriber, "confirmation_sent", SIGNUP_ANSWERS, "NEWSLETTER_CONFIRMATIONS_PER_DAY",
                        emails.send_confirmation_request)


def handle_manage_link_request(email: str, payload: dict) -> str:
    """"Email me my link": only an address that is subscribed (or was) gets one."""
    subscriber = _locked_subscriber(address_key(email))
    if subscriber is None:
        return "unknown"
    if subscriber.is_pending:
        # Nothing to manage before the double opt-in: the confirmation request is what helps.
        return _send_capped(subscriber, "confirmation_sent", SIGNUP_ANSWERS, "NEWSLETTER_CONFIRMATIONS_PER_DAY",
                            emails.send_confirmation_request)
    return _send_capped(subscriber, "manage_link_sent", ("manage_link_sent",), "NEWSLETTER_MANAGE_LINKS_PER_DAY",
                        emails.send_manage_link)


def _locked_subscriber(key: str) -> Subscriber | None:
    # The row lock serialises two requests for one address, so the caps count right.
    statement = select(Subscriber).where(Subscriber.email_key == key)
    return select_for_update(statement, LOCK_TIMEOUT_MS).scalar_one_or_none()


def _insert_subscriber(email: str, key: str) -> Subscriber | None:
    subscriber = Subscriber(email=email, email_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(subscriber)
    except IntegrityError:
        return None
    return subscriber


def _send_capped(subscriber: Subscriber, kind: str, counted: tuple[str, ...], cap_setting: str, send) -> str:
    since = utcnow() - timedelta(hours=24)
    sent = db.session.scalar(
        select(func.count()).select_from(SubscriptionEvent).where(
            SubscriptionEvent.subscriber_id == subscriber.id,
            SubscriptionEvent.kind.in_(counted),
            SubscriptionEvent.created_at > since,
        )
    )
    if sent >= current_app.config[cap_setting]:
        _log(subscriber, "capped", detail={"email": kind})
        return "capped"
    send(subscriber, to=subscriber.email)
    _log(subscriber, kind)
    return kind


# --- Links ------------------------------------------------------------------------------


def subscriber_from_token(purpose: str, token: str) -> Subscriber:
    """The subscriber a link is for; raise ExpiredLink or InvalidLink (also after erasure)."""
    try:
        claims = read_subscriber_token(purpose, token)
    except TokenExpired as exc:
        raise ExpiredLink(purpose) from exc
    except TokenInvalid as exc:
        raise InvalidLink(purpose) from exc
    subscriber = db.session.get(Subscriber, int(claims.subject)) if claims.subject.isdigit() else None
    if subscriber is None or subscriber.token_version != claims.version or subscriber.email is None:
        raise InvalidLink(purpose)
    return subscriber


# --- What a subscriber does ---------------------------------------------------------------


def confirm_subscription(subscriber: Subscriber) -> bool:
    """Complete the double opt-in; False when it was done already (the page says so)."""
    if not subscriber.is_pending:
        return False
    version = current_app.config["NEWSLETTER_PRIVACY_VERSION"]
    subscriber.status = SubscriberStatus.CONFIRMED.value
    subscriber.confirmed_at = utcnow()
    subscriber.unsubscribed_at = None
    subscriber.consent_source = subscriber.signup_source
    subscriber.privacy_policy_version = version
    # This is the new opt-in an erased address needed: it may be mailed again. It also
    # proves that an address which bounced (or complained) works and wants mail again.
    db.session.execute(delete(SuppressedAddress).where(
        SuppressedAddress.address_hash == suppression_hash(subscriber.email_key)
    ))
    _lift_mail_suppression(subscriber)
    _log(subscriber, "confirmed", source=subscriber.signup_source, version=version)
    highlights = emails.welcome_highlights(subscriber)
    if highlights:
        # Kept with the subscriber (a welcome after a re-subscription adds to it), so
        # no digest sends these again.
        shown = set(subscriber.welcome_resource_ids or ()) | {h.id for h in highlights}
        subscriber.welcome_resource_ids = sorted(shown)
    emails.send_welcome(subscriber, highlights, to=subscriber.email)
    db.session.flush()
    return True


def update_preferences(subscriber: Subscriber, preferences: Preferences, paused_until: date | None) -> list[str]:
    """Change topics, frequency and pause; returns what changed, in words."""
    before = _describe(subscriber)
    _apply_preferences(subscriber, preferences)
    subscriber.paused_until = paused_until
    after = _describe(subscriber)
    changes = [name for name in after if after[name] != before[name]]
    if changes:
        _log(subscriber, "preferences_changed", source="preferences", detail={**preferences.as_detail(),
             "paused_until": paused_until.isoformat() if paused_until else None})
    db.session.flush()
    return changes


def unsubscribe(subscriber: Subscriber, source: str) -> bool:
    """Stop all newsletter mail at once; False if it had been stopped already (harmless)."""
    if subscriber.is_unsubscribed:
        return False
    subscriber.status = SubscriberStatus.UNSUBSCRIBED.value
    subscriber.unsubscribed_at = utcnow()
    _log(subscriber, "unsubscribed", source=source)
    db.session.flush()
    return True


def resubscribe(subscriber: Subscriber) -> str:
    """From the preference page: "resubscribed", "unchanged", or for a bounced address "confirmation_sent"/"capped".

    The signed link proves the mailbox, so an unsubscribed reader needs no new
    confirmation. Only a subscriber who once confirmed can hold a preference
    link; a pending one completes the opt-in instead. A bounced address is
    known not to have taken mail since that link was sent: it gets a fresh
    confirmation request, and only confirming it starts mail again.
    """
    if subscriber.is_confirmed:
        return "unchanged"
    if subscriber.is_bounced:
        subscriber.status = SubscriberStatus.PENDING.value
        _log(subscriber, "signup", source="preferences", detail={"after": SubscriberStatus.BOUNCED.value})
        return _send_capped(subscriber, "confirmation_sent", SIGNUP_ANSWERS, "NEWSLETTER_CONFIRMATIONS_PER_DAY",
                            emails.send_confirmation_request)
    if subscriber.confirmed_at is None:
        return "resubscribed" if confirm_subscription(subscriber) else "unchanged"
    subscriber.status = SubscriberStatus.CONFIRMED.value
    subscriber.unsubscribed_at = None
    # Choosing to get the newsletter again withdraws a spam complaint made earlier.
    _lift_mail_suppression(subscriber)
    _log(subscriber, "resubscribed", source="preferences", version=current_app.config["NEWSLETTER_PRIVACY_VERSION"])
    db.session.flush()
    return "resubscribed"


def _lift_mail_suppression(subscriber: Subscriber) -> None:
    """The subscriber's own opt-in ends a bounce or complaint suppression (portal.deliverability)."""
    db.session.execute(delete(MailSuppression).where(MailSuppression.address_key == subscriber.email_key))


# --- What the bounce mailbox says (portal.deliverability decides, these record it) ------------


def mark_bounced(key: str, source: str, detail: dict) -> Subscriber | None:
    """The subscriber with this address (if any, and getting mail) becomes bounced, with a history row.

    An unsubscribed subscriber stays unsubscribed: that is their own choice,
    and they get nothing either way. Returns the subscriber marked.
    """
    subscriber = _locked_subscriber(key)
    if subscriber is None or subscriber.status not in (SubscriberStatus.CONFIRMED.value,
                                                       SubscriberStatus.PENDING.value):
        return None
    subscriber.status = SubscriberStatus.BOUNCED.value
    _log(subscriber, "bounced", source=source, detail=detail)
    db.session.flush()
    return subscriber


def record_complaint(key: str) -> Subscriber | None:
    """A spam complaint (RFC 5965 report) unsubscribes the subscriber with this address; always in their history."""
    subscriber = _locked_subscriber(key)
    if subscriber is None:
        return None
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED.value:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED.value
        subscriber.unsubscribed_at = utcnow()
    _log(subscriber, "complaint", source="arf")
    db.session.flush()
    return subscriber


def _apply_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    if preferences.frequency not in {f.value for f in Frequency}:
        raise InvalidPreferences(f"unknown frequency {preferences.frequency!r}")
    topics = list(db.session.scalars(select(Topic).where(Topic.slug.in_(preferences.topics)).order_by(Topic.position)))
    if len(topics) != len(set(preferences.topics)):
        raise InvalidPreferences("unknown topic")
    subscriber.topics = topics
    subscriber.wants_events = preferences.wants_events
    subscriber.frequency = preferences.frequency


def _describe(subscriber: Subscriber) -> dict:
    return {
        "topics": [topic.slug for topic in subscriber.topics],
        "events": subscriber.wants_events,
        "frequency": subscriber.frequency,
        "pause": subscriber.paused_until,
    }


def _log(subscriber: Subscriber, kind: str, source: str | None = None, version: str | None = None,
         detail: dict | None = None) -> None:
    if subscriber.id is None:
        db.session.flush()
    db.session.add(SubscriptionEvent(
        subscriber_id=subscriber.id, kind=kind, source=source, privacy_policy_version=version, detail=detail or {}
    ))


# --- Data rights --------------------------------------------------------------------------


def export_subscriber_data(subscriber: Subscriber) -> dict:
    """Everything the portal holds on this subscriber, as JSON-ready data."""
    history = db.session.scalars(
        select(SubscriptionEvent).where(SubscriptionEvent.subscriber_id == subscriber.id).order_by(SubscriptionEvent.id)
    )
    mail = db.session.scalars(
        select(OutgoingEmail)
        .where(OutgoingEmail.cause_kind == "subscriber", OutgoingEmail.cause_id == subscriber.id)
        .order_by(OutgoingEmail.id)
    )
    data = {
        "exported_at": _iso(utcnow()),
        "subscription": {
            "email": subscriber.email,
            "first_name": subscriber.first_name,
            "status": subscriber.status,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "consent_source": subscriber.consent_source,
            "privacy_policy_version": subscriber.privacy_policy_version,
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        },
        "preferences": {
            "topics": [topic.slug for topic in subscriber.topics],
            "events": subscriber.wants_events,
            "frequency": subscriber.frequency,
            "paused_until": subscriber.paused_until.isoformat() if subscriber.paused_until else None,
        },
        "consent_events": [
            {"at": _iso(event.created_at), "kind": event.kind, "source": event.source,
             "privacy_policy_version": event.privacy_policy_version, "detail": event.detail}
            for event in history
        ],
        "emails": [
            {"at": _iso(row.created_at), "name": row.name, "to": row.to_address, "subject": row.subject,
             "status": row.status, "sent_at": _iso(row.sent_at)}
            for row in mail
        ],
        "deliverability": _deliverability_data(subscriber.email_key),
    }
    _log(subscriber, "exported")
    db.session.flush()
    return data


def _deliverability_data(key: str) -> dict:
    """What came back about the address: bounces and complaints, and whether bulk mail skips it."""
    suppression = db.session.scalar(select(MailSuppression).where(MailSuppression.address_key == key))
    events = db.session.scalars(select(DeliveryEvent).where(DeliveryEvent.address_key == key).order_by(DeliveryEvent.id))
    return {
        "suppressed": {"reason": suppression.reason, "at": _iso(suppression.created_at)} if suppression else None,
        "events": [{"at": _iso(event.created_at), "kind": event.kind, "status": event.status_code,
                    "diagnostic": event.diagnostic} for event in events],
    }


ERASED_ADDRESS = "erased@invalid"


def erase_subscriber(subscriber: Subscriber) -> None:
    """Replace personal data, remember the address only as a hash, and stop mail still queued.

    The history stays (it names no one) as the record that consent was given
    and withdrawn. Sent mail keeps its date, kind and status but loses its
    address and content. Links sent before stop working (token_version).
    """
    key = subscriber.email_key
    if key:
        db.session.merge(SuppressedAddress(address_hash=suppression_hash(key), reason="erased"))
        forget_requests_from(key)
        # The bounce records name the address (and a diagnostic may quote it); the hash above
        # keeps it from being mailed, so they keep only their kind and date.
        db.session.execute(delete(MailSuppression).where(MailSuppression.address_key == key))
        db.session.execute(
            update(DeliveryEvent).where(DeliveryEvent.address_key == key).values(address_key=None, diagnostic=None)
            .execution_options(synchronize_session=False)
        )
    mail = (OutgoingEmail.cause_kind == "subscriber") & (OutgoingEmail.cause_id == subscriber.id)
    db.session.execute(
        update(OutgoingEmail)
        .where(mail, OutgoingEmail.status == EmailStatus.QUEUED.value)
        .values(status=EmailStatus.WITHHELD.value, last_error="the subscriber erased their data")
        .execution_options(synchronize_session=False)
    )
    # A row being sent right now is scrubbed too: the worker only ever writes its
    # status back, so what it sends (already built) is the last use of the address.
    db.session.execute(
        update(OutgoingEmail)
        .where(mail)
        .values(to_address=ERASED_ADDRESS, subject="(erased)", body_text="", body_html="", headers={})
        .execution_options(synchronize_session=False)
    )
    subscriber.email = None
    subscriber.email_key = None
    subscriber.first_name = ""
    subscriber.topics = []
    subscriber.paused_until = None
    subscriber.status = SubscriberStatus.ERASED.value
    subscriber.erased_at = utcnow()
    subscriber.token_version += 1
    _log(subscriber, "erased")
    db.session.flush()


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None
