"""Erasing one person by address, for admins: registrations, subscription, mail, bounces and requests.

The same emptying the attendee's own erasure and the retention purge use
(portal.retention.service), applied to everything that names the address.
The consent log holds no address (only a random id from the visitor's cookie),
so there is nothing of it to find by address.
"""
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from portal.admin.audit import record_action
from portal.deferred.models import DeferredRequest
from portal.deferred.service import forget_requests_from
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber, SubscriberStatus
from portal.newsletter.service import ERASED_ADDRESS, erase_subscriber, suppression_hash
from portal.registration.data_rights import erase_registration
from portal.registration.models import Registration
from portal.retention.service import blanked

ERASE_ACTION = "erase_person"


@dataclass
class Holdings:
    """What the portal holds under one address: the preview an admin confirms."""

    key: str
    registrations: list[Registration]
    subscriber: Subscriber | None
    emails: int
    reports: int
    suppressed: bool
    requests: int

    @property
    def anything(self) -> bool:
        return bool(self.registrations or self.subscriber or self.emails or self.reports or self.suppressed
                    or self.requests)


def _mail_to(key: str):
    return func.lower(OutgoingEmail.to_address) == key


def holdings(address: str) -> Holdings:
    key = address_key(address)
    subscriber = db.session.scalar(select(Subscriber).where(
        Subscriber.email_key == key, Subscriber.status != SubscriberStatus.ERASED.value))
    return Holdings(
        key=key,
        registrations=list(db.session.scalars(
            select(Registration).where(Registration.email_key == key).order_by(Registration.id))),
        subscriber=subscriber,
        emails=db.session.scalar(select(func.count(OutgoingEmail.id)).where(_mail_to(key))),
        reports=db.session.scalar(select(func.count(DeliveryEvent.id)).where(DeliveryEvent.address_key == key)),
        suppressed=db.session.scalar(select(MailSuppression.id).where(MailSuppression.address_key == key)) is not None,
        requests=db.session.scalar(select(func.count(DeferredRequest.id)).where(DeferredRequest.email_key == key)),
    )


def erase_person(found: Holdings, actor) -> dict[str, int]:
    """Erase everything `found` lists, audited without the address (only the first characters of its hash)."""
    key = found.key
    counts = {"registrations": len(found.registrations), "subscriptions": int(found.subscriber is not None),
              "emails": found.emails, "delivery_reports": found.reports, "suppressions": int(found.suppressed),
              "requests": found.requests}
    for registration in found.registrations:
        erase_registration(registration.id)
    if found.subscriber is not None:
        erase_subscriber(found.subscriber)
    # Whatever is left: mail sent to the address for no registration or subscription, and reports about it.
    mail = _mail_to(key)
    db.session.execute(
        update(OutgoingEmail).where(mail, OutgoingEmail.status == EmailStatus.QUEUED.value)
        .values(status=EmailStatus.WITHHELD.value, last_error="the person's data was erased")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(OutgoingEmail).where(mail)
        .values({**blanked("mail_body", OutgoingEmail), **blanked("mail_record", OutgoingEmail),
                 "to_address": ERASED_ADDRESS})
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(DeliveryEvent).where(DeliveryEvent.address_key == key)
        .values(address_key=None, diagnostic=None).execution_options(synchronize_session=False)
    )
    db.session.execute(delete(MailSuppression).where(MailSuppression.address_key == key)
                       .execution_options(synchronize_session=False))
    forget_requests_from(key)
    record_action(actor, ERASE_ACTION, f"address #{suppression_hash(key)[:12]}", counts)
    return counts
