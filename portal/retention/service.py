"""The retention purge: applies every period in the registry, one small batch per transaction.

Each rule is the registry kind it enforces, the rows its period has reached
(a WHERE clause from the cutoff) and what happens to them. The dry run counts
with the same clause the purge acts on, so the two cannot disagree.

Running twice at once is safe: on PostgreSQL a batch locks the rows it picks
and skips rows another run has locked; on SQLite write transactions take turns
(BEGIN IMMEDIATE). Each statement repeats the rule's clause, so a row already
handled is never counted twice, and a second run finds nothing left.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import JSON, String, and_, case, cast, delete, exists, func, literal, or_, select, update

from portal.admin.audit import record_action
from portal.admin.models import AdminSession, AuditEvent
from portal.consent.models import ConsentEvent, PageView
from portal.database import is_postgresql, one_of
from portal.deferred.models import DeferredRequest
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.extensions import db
from portal.mail.models import EmailStatus, OutgoingEmail, OutgoingEmailAttachment
from portal.newsletter.models import Subscriber, SubscriberStatus, SubscriptionEvent
from portal.registration.models import EventDay, Registration
from portal.retention.registry import kind as registry_kind

#: Written over an anonymised registration's mail; not deliverable anywhere (RFC 2606).
ANONYMISED_ADDRESS = "anonymised@invalid"
#: The audit action of a real run.
PURGE_ACTION = "purge"
_FINISHED = (EmailStatus.SENT.value, EmailStatus.FAILED.value, EmailStatus.WITHHELD.value)


@dataclass(frozen=True)
class Rule:
    kind: str
    #: What happens to the rows, for the dry run's output: "anonymised", "emptied", "deleted".
    verb: str
    id_column: object
    #: The rows the period has reached, given the cutoff.
    due: Callable[[datetime], list]
    #: Act on these ids (still due); returns how many rows changed.
    apply: Callable[[list[int], list], int]


def _delete(model) -> Callable[[list[int], list], int]:
    def apply(ids, due):
        return db.session.execute(
            delete(model).where(one_of(model.id, ids), *due).execution_options(synchronize_session=False)
        ).rowcount

    return apply


def _registration_due(cutoff: datetime) -> list:
    ended = select(EventDay.event_id).group_by(EventDay.event_id).having(func.max(EventDay.date) < cutoff.date())
    # An anonymised registration has no address left; every live one has one.
    return [Registration.event_id.in_(ended), Registration.email != ""]


def blanked(kind_key: str, model) -> dict:
    """Values that empty every column of `model` the registry lists as identifying under the kind.

    The purge and erasure both write these, so a column added to the registry is
    emptied by both, and neither can forget one.
    """
    table = model.__table__
    values = {}
    for name in registry_kind(kind_key).columns:
        table_name, _, column = name.partition(".")
        if table_name == table.name:
            values[column] = {} if isinstance(table.c[column].type, JSON) else ""
    return values


def anonymise_registrations(ids: list[int], reason: str, due: tuple = ()) -> int:
    """Empty the registrations' identifying fields and the mail sent about them; returns how many changed.

    Queued mail to them is withheld first (`reason` says why). Bounce reports for
    that mail lose the address and the server's words, which may quote it.
    """
    changed = db.session.execute(
        update(Registration)
        .where(one_of(Registration.id, ids), *due)
        .values({
            **blanked("registration", Registration),
            # Unique per row, so the one-active-registration-per-address index still holds; no "@", so it
            # can never equal a real address key.
            "email_key": literal("anonymised:") + cast(Registration.id, String),
            "token_version": Registration.token_version + 1,
        })
        .execution_options(synchronize_session=False)
    ).rowcount
    mail = and_(OutgoingEmail.cause_kind == "registration", one_of(OutgoingEmail.cause_id, ids))
    db.session.execute(
        update(OutgoingEmail).where(mail, OutgoingEmail.status == EmailStatus.QUEUED.value)
        .values(status=EmailStatus.WITHHELD.value, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(DeliveryEvent).where(DeliveryEvent.email_id.in_(select(OutgoingEmail.id).where(mail)))
        .values(address_key=None, diagnostic=None)
        .execution_options(synchronize_session=False)
    )
    # A row being sent right now is emptied too: the worker only writes its status back. A server's
    # reply may quote the address, so any recorded error becomes the reason.
    _empty_mail(mail, to_address=ANONYMISED_ADDRESS,
                last_error=case((OutgoingEmail.last_error.is_(None), None), else_=literal(reason)))
    return changed


def _empty_mail(where, **also) -> int:
    db.session.execute(
        delete(OutgoingEmailAttachment)
        .where(OutgoingEmailAttachment.email_id.in_(select(OutgoingEmail.id).where(where)))
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(
        update(OutgoingEmail).where(where)
        .values({**blanked("mail_body", OutgoingEmail), **also})
        .execution_options(synchronize_session=False)
    ).rowcount


def _mail_body_due(cutoff: datetime) -> list:
    return [OutgoingEmail.created_at < cutoff, OutgoingEmail.status.in_(_FINISHED),
            or_(OutgoingEmail.body_text != "", OutgoingEmail.body_html != "")]


def _mail_record_due(cutoff: datetime) -> list:
    return [OutgoingEmail.created_at < cutoff, OutgoingEmail.status.in_(_FINISHED)]


def _unconfirmed_due(cutoff: datetime) -> list:
    # The latest sign-up counts: someone who asked again yesterday keeps their pending row.
    recent = exists().where(SubscriptionEvent.subscriber_id == Subscriber.id, SubscriptionEvent.created_at >= cutoff)
    return [Subscriber.status == SubscriberStatus.PENDING.value, Subscriber.confirmed_at.is_(None),
            Subscriber.created_at < cutoff, ~recent]


def _history_due(cutoff: datetime) -> list:
    ended = select(Subscriber.id).where(or_(
        and_(Subscriber.status == SubscriberStatus.UNSUBSCRIBED.value, Subscriber.unsubscribed_at < cutoff),
        and_(Subscriber.status == SubscriberStatus.ERASED.value, Subscriber.erased_at < cutoff),
    ))
    return [SubscriptionEvent.subscriber_id.in_(ended)]


def _older(column) -> Callable[[datetime], list]:
    return lambda cutoff: [column < cutoff]


RULES = (
    Rule("registration", "anonymised", Registration.id, _registration_due,
         lambda ids, due: anonymise_registrations(ids, "the registration's retention period ended", tuple(due))),
    Rule("mail_body", "emptied", OutgoingEmail.id, _mail_body_due,
         lambda ids, due: _empty_mail(and_(one_of(OutgoingEmail.id, ids), *due))),
    Rule("mail_record", "deleted", OutgoingEmail.id, _mail_record_due, _delete(OutgoingEmail)),
    Rule("bounce", "deleted", DeliveryEvent.id, _older(DeliveryEvent.created_at), _delete(DeliveryEvent)),
    Rule("suppression", "deleted", MailSuppression.id, _older(MailSuppression.created_at), _delete(MailSuppression)),
    Rule("deferred_request", "deleted", DeferredRequest.id, _older(DeferredRequest.created_at),
         _delete(DeferredRequest)),
    Rule("unconfirmed_signup", "deleted", Subscriber.id, _unconfirmed_due, _delete(Subscriber)),
    Rule("subscription_history", "deleted", SubscriptionEvent.id, _history_due, _delete(SubscriptionEvent)),
    # A bulk DELETE: the only way rows leave the consent log (the ORM refuses).
    Rule("consent_log", "deleted", ConsentEvent.id, _older(ConsentEvent.created_at), _delete(ConsentEvent)),
    Rule("page_view", "deleted", PageView.id, _older(PageView.created_at), _delete(PageView)),
    Rule("admin_session", "deleted", AdminSession.id, _older(AdminSession.last_seen_at), _delete(AdminSession)),
    Rule("audit_event", "deleted", AuditEvent.id, _older(AuditEvent.created_at), _delete(AuditEvent)),
)


def rule(kind_key: str) -> Rule:
    return next(r for r in RULES if r.kind == kind_key)


def cutoff(kind_key: str, now: datetime) -> datetime:
    return now - timedelta(days=current_app.config[registry_kind(kind_key).setting])


def due_counts(now: datetime) -> dict[str, int]:
    """Per kind, the rows a purge at `now` would change: the dry run."""
    counts = {}
    for r in RULES:
        due = r.due(cutoff(r.kind, now))
        counts[r.kind] = db.session.scalar(select(func.count(r.id_column)).where(*due))
    return counts


def purge_batches(now: datetime) -> Iterator[tuple[str, int]]:
    """Apply every rule, yielding (kind, rows changed) after each flushed batch: commit before the next."""
    size = current_app.config["RETENTION_PURGE_BATCH"]
    for r in RULES:
        due = r.due(cutoff(r.kind, now))
        while True:
            query = select(r.id_column).where(*due).order_by(r.id_column).limit(size)
            if is_postgresql():
                query = query.with_for_update(skip_locked=True)
            ids = list(db.session.scalars(query))
            if not ids:
                break
            yield r.kind, r.apply(ids, due)


def record_run(counts: dict[str, int]) -> None:
    """One audit row per real run, with what each kind lost."""
    record_action(None, PURGE_ACTION, "retention", dict(counts))
