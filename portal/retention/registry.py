"""Every kind of personal data the portal stores: what, why, how long, and what is left afterwards.

The privacy notices render their retention sections from this list, the daily
purge applies its periods, and a test walks the models so that no column that
could hold personal data escapes it: what the notices promise and what the
code does cannot drift apart.

A column is *identifying* when it must be emptied for its row to name nobody:
addresses, names, free text a person typed or a server quoted about them,
tokens and identifiers given to one person. Every text-like column of every
table is either listed as identifying under a kind, or in NOT_IDENTIFYING.
"""
from dataclasses import dataclass

#: The notices a kind is listed in (the site-wide notice lists every kind).
EVENT, NEWSLETTER, SITE = "event", "newsletter", "site"


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    #: What it holds, as a sentence for the notices.
    holds: str
    #: Why we may hold it (the legal basis), as a sentence.
    basis: str
    #: The config key of the period in days; None when it is kept as long as stated in `until`.
    setting: str | None
    #: What the period counts from ("after the event's last day"), or, without a setting, how long it is kept.
    until: str
    #: What remains once the period is over.
    afterwards: str
    #: Tables whose rows are this kind's data.
    tables: tuple[str, ...]
    #: "table.column" entries that identify a person (emptied by anonymisation and erasure).
    columns: tuple[str, ...]
    #: Notices besides the site-wide one that list it.
    notices: tuple[str, ...]


KINDS = (
    Kind(
        "registration", "Event registrations",
        "Your name, email address, organization, job title, attendee category, the days you chose, any dietary "
        "or accessibility needs you told us, when you registered, confirmed, changed or cancelled, and whether your "
        "fee was paid (with the organiser's note).",
        "Needed to run the event you registered for (a contract with you).",
        "RETENTION_REGISTRATION_DAYS", "after the event's last day",
        "The registration stays without your name, address, organization, job title or needs, so attendance "
        "counts by day, category and status still add up; the emails we sent about it lose their address and "
        "content.",
        ("registration", "registration_day"),
        ("registration.first_name", "registration.last_name", "registration.email", "registration.email_key",
         "registration.organization", "registration.job_title", "registration.dietary",
         "registration.accessibility", "registration.payment_note"),
        (EVENT,),
    ),
    Kind(
        "check_in", "Check-ins at the door",
        "Which days you were checked in, when, and by which staff account.",
        "Needed to run the event and to certify attendance (a contract with you).",
        "RETENTION_REGISTRATION_DAYS", "after the event's last day",
        "The check-ins stay with the anonymous registration, as attendance counts per day.",
        ("check_in",), (), (EVENT,),
    ),
    Kind(
        "certificate", "Certificates of attendance",
        "A PDF with your name and the days you attended, made from your check-ins whenever you ask for it.",
        "Asked for by you (a contract with you).",
        None, "not stored: made again each time from the registration and its check-ins",
        "Nothing: once the registration is anonymised there is no certificate to make.",
        (), (), (EVENT,),
    ),
    Kind(
        "mail_body", "Copies of the emails we send you",
        "The subject, text and attachments of each email (confirmations, links, digests), and the links in it.",
        "Needed to deliver it and to show you or our staff what was sent (legitimate interest).",
        "RETENTION_MAIL_BODY_DAYS", "after the email was written",
        "The delivery record below, without subject, text or attachments.",
        ("outgoing_email_attachment",),
        ("outgoing_email.subject", "outgoing_email.body_text", "outgoing_email.body_html",
         "outgoing_email.headers", "outgoing_email_attachment.filename", "outgoing_email_attachment.data"),
        (EVENT, NEWSLETTER),
    ),
    Kind(
        "mail_record", "Delivery records of emails",
        "The address an email went to, which kind of email it was, when it was sent, and the receiving "
        "server's answer if it failed.",
        "Needed to deliver mail reliably and to answer questions about it (legitimate interest).",
        "RETENTION_MAIL_RECORD_DAYS", "after the email was written",
        "Nothing: the record is deleted (emails still waiting to go are never deleted).",
        ("outgoing_email",),
        ("outgoing_email.to_address", "outgoing_email.last_error"),
        (EVENT, NEWSLETTER),
    ),
    Kind(
        "bounce", "Bounces and spam complaints",
        "Reports from mail servers that an email to your address could not be delivered or was marked as "
        "spam, with the server's explanation.",
        "Needed to stop mailing addresses that do not work or do not want our mail (legitimate interest).",
        "RETENTION_BOUNCE_DAYS", "after the report arrived",
        "Nothing: the report is deleted.",
        ("delivery_event",),
        ("delivery_event.address_key", "delivery_event.diagnostic"),
        (EVENT, NEWSLETTER),
    ),
    Kind(
        "suppression", "Addresses we no longer mail",
        "An address whose mail bounced for good or who complained of spam, so that newsletters skip it.",
        "Needed to respect the complaint and protect our ability to deliver mail (legitimate interest).",
        "RETENTION_SUPPRESSION_DAYS", "after the address was added",
        "Nothing: the entry is deleted and newsletters may try the address again.",
        ("mail_suppression",),
        ("mail_suppression.address_key",),
        (EVENT, NEWSLETTER),
    ),
    Kind(
        "deferred_request", "Form requests waiting to be handled",
        "The address typed into a sign-up or \"email me my link\" form and the choices made on it, until our "
        "background worker has answered it, normally within seconds.",
        "Needed to answer the request you made (a contract with you).",
        "RETENTION_DEFERRED_REQUEST_DAYS", "after the request was made, if it was never handled",
        "Nothing: the request is deleted.",
        ("deferred_request",),
        ("deferred_request.email", "deferred_request.email_key", "deferred_request.payload"),
        (EVENT, NEWSLETTER),
    ),
    Kind(
        "subscriber", "Newsletter subscriptions",
        "Your email address, the first name you gave (if any), the topics and frequency you chose, a pause if "
        "you set one, and which highlights each digest already sent you.",
        "Your consent, given by confirming the subscription.",
        None, "while you are subscribed, and after you unsubscribe until you erase it, so that a later "
        "sign-up keeps your choices",
        "After erasure, only the one-way fingerprint below.",
        ("subscriber", "subscriber_topic", "digest_delivery"),
        ("subscriber.email", "subscriber.email_key", "subscriber.first_name"),
        (NEWSLETTER,),
    ),
    Kind(
        "unconfirmed_signup", "Sign-ups never confirmed",
        "The address and choices of a newsletter sign-up whose confirmation link was never clicked.",
        "Needed to send the confirmation you asked for (a contract with you).",
        "RETENTION_UNCONFIRMED_SIGNUP_DAYS", "after the sign-up",
        "Nothing: the sign-up is deleted.",
        ("subscriber",), ("subscriber.email", "subscriber.email_key", "subscriber.first_name"),
        (NEWSLETTER,),
    ),
    Kind(
        "subscription_history", "Subscription history",
        "A dated record of each step of your subscription: sign-up, confirmation and the notice version it "
        "was given under, changes of preferences, unsubscribing. It names nobody by itself.",
        "Needed to prove your consent (legal obligation).",
        "RETENTION_SUBSCRIPTION_HISTORY_DAYS", "after you unsubscribed or erased your data",
        "Nothing: the history is deleted.",
        ("subscription_event",), (), (NEWSLETTER,),
    ),
    Kind(
        "erased_address", "Fingerprints of erased addresses",
        "A one-way fingerprint (SHA-256) of an address whose data was erased; the address cannot be read "
        "back from it.",
        "Needed to honour the erasure by never mailing the address again unless it subscribes anew "
        "(legitimate interest).",
        None, "for as long as the portal runs",
        "The fingerprint itself, and nothing else.",
        ("suppressed_address",), ("suppressed_address.address_hash",), (EVENT, NEWSLETTER),
    ),
    Kind(
        "consent_log", "Cookie choices",
        "Each choice made in the cookie banner: a random id from the choice cookie, the categories allowed "
        "and refused, the policy version, the browser's language, and whether it sent a Global Privacy "
        "Control signal.",
        "Needed to prove the consent we rely on (legal obligation).",
        "RETENTION_CONSENT_LOG_DAYS", "after the choice",
        "Nothing: the record is deleted.",
        ("consent_event",), ("consent_event.consent_id",), (),
    ),
    Kind(
        "page_view", "Page views",
        "With your consent to analytics only: the page viewed, the site you came from (its host name only), "
        "and whether the view began a visit. No cookie value, address or account.",
        "Your consent to analytics cookies.",
        "RETENTION_PAGE_VIEW_DAYS", "after the view",
        "Nothing: the record is deleted.",
        ("page_view",), (), (),
    ),
    Kind(
        "admin_account", "Staff accounts",
        "For the society's administrators and door staff: login address, password hash, second-factor "
        "secret, role, and when they last logged in.",
        "Needed to run the portal securely (legitimate interest).",
        None, "while the account exists",
        "Nothing: a deleted account leaves only its address in the audit log.",
        ("admin_user",), ("admin_user.email", "admin_user.password_hash", "admin_user.totp_secret"), (),
    ),
    Kind(
        "admin_session", "Staff login sessions",
        "One record per staff login: a random session token and when it was last used.",
        "Needed to run the portal securely (legitimate interest).",
        "RETENTION_ADMIN_SESSION_DAYS", "after the session was last used",
        "Nothing: the record is deleted.",
        ("admin_session",), ("admin_session.token",), (),
    ),
    Kind(
        "audit_event", "Audit log of staff actions",
        "What administrators and staff did and when: logins, exports, edits, cancellations, check-ins, "
        "with the staff member's address and the registration or file concerned.",
        "Needed to keep the portal accountable and secure (legitimate interest).",
        "RETENTION_AUDIT_DAYS", "after the action",
        "Nothing: the record is deleted.",
        ("audit_event",), ("audit_event.actor_email", "audit_event.target", "audit_event.detail"), (),
    ),
)

#: Text-like columns that never identify anyone, by table: public content, states, codes and counts.
NOT_IDENTIFYING = {
    "event": ("slug", "title", "summary", "venue", "address_line1", "address_line2", "city", "region",
              "postal_code", "country", "timezone", "privacy_policy_version", "payment_method", "payment_url",
              "payment_instructions"),
    "attendee_category": ("code", "label", "currency"),
    # The check-in code is printed on the badge; without the name it points at nobody.
    "registration": ("code", "privacy_policy_version", "status", "payment_status"),
    "outgoing_email": ("lane", "name", "from_address", "message_id", "status", "cause_kind"),
    "outgoing_email_attachment": ("content_type", "content_id"),
    "mail_send_window": ("limit_name",),
    # Worker node names and their queues (portal.liveness).
    "heartbeat": ("name", "queues"),
    "delivery_event": ("kind", "lane", "status_code", "source"),
    "mail_suppression": ("reason",),
    "deferred_request": ("kind",),
    "subscriber": ("status", "frequency", "signup_source", "consent_source", "privacy_policy_version",
                   "welcome_resource_ids"),
    # "Never the address or the name" (portal.newsletter.models): choices and sources only.
    "subscription_event": ("kind", "source", "privacy_policy_version", "detail"),
    "suppressed_address": ("reason",),
    "digest_edition": ("frequency", "status", "resource_ids"),
    "digest_delivery": ("resource_ids",),
    "consent_event": ("policy_version", "granted", "denied", "action", "language"),
    # Paths and referring hosts only; personal links never count a view.
    "page_view": ("path", "referrer_host"),
    "admin_user": ("role",),
    "audit_event": ("action",),
    "export_preset": ("kind", "name", "columns"),
    "topic": ("slug", "description"),
    "resource": ("slug", "title", "organization", "kind", "url", "summary", "link_error", "link_failure"),
}


def undeclared_columns(metadata) -> list[str]:
    """Text-like columns ("table.column") that are neither identifying under a kind nor in NOT_IDENTIFYING.

    Text, JSON and binary columns are the ones that can hold an address, a name or
    what someone typed; numbers, flags and timestamps cannot name anyone by themselves.
    """
    from sqlalchemy import JSON, LargeBinary, String

    declared = identifying_columns()
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if (isinstance(column.type, (String, JSON, LargeBinary)) and name not in declared
                    and column.name not in NOT_IDENTIFYING.get(table.name, ())):
                found.append(name)
    return found


def kind(key: str) -> Kind:
    return next(k for k in KINDS if k.key == key)


def kinds_for(notice: str) -> list[Kind]:
    """The kinds a notice lists: all of them on the site-wide notice."""
    return [k for k in KINDS if notice == SITE or notice in k.notices]


def identifying_columns() -> set[str]:
    return {column for k in KINDS for column in k.columns}


def period_settings() -> list[str]:
    """Each period setting once, in the order of KINDS."""
    return list(dict.fromkeys(k.setting for k in KINDS if k.setting))


def period_days(k: Kind, config) -> int | None:
    return config[k.setting] if k.setting else None


def period_text(k: Kind, config) -> str:
    """How long, in words: "365 days after the event's last day", or the standing rule."""
    days = period_days(k, config)
    if days is None:
        return k.until
    return f"{days} day{'' if days == 1 else 's'} {k.until}"
