"""Reading and recording consent, and counting page views for those who allowed it.

The visitor's choice lives in a signed first-party cookie (categories, policy
version, consent id, time); every change is also appended to the consent log
in the caller's transaction. A cookie that is tampered with, expired or made
for an older policy version reads as "no choice", so the visitor is asked again.
"""
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, insert, select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule, RoutingException

from portal.consent.models import ConsentEvent, PageView
from portal.consent.registry import OPTIONAL
from portal.database import is_postgresql, utcnow
from portal.extensions import db
from portal.tokens import TokenError, read_signed_value, sign_value

COOKIE_PURPOSE = "consent-cookie"
COOKIE_MAX_AGE = timedelta(days=183)  # six months, then the visitor is asked again
ACTIONS = ("accept_all", "reject_all", "custom")
#: Blueprints whose pages anyone may open (see is_public_page).
PUBLIC_BLUEPRINTS = frozenset({"pages", "registration", "newsletter", "digests", "consent"})
# The log row is never read back or changed, so nothing is tracked and no id returned.
# A Core INSERT on the table, built once (SQLite), or on PostgreSQL the same statement
# handed to the driver as written: the consent POST is the portal's busiest write, and
# for one short row SQLAlchemy's statement-cache lookup and parameter processing cost
# more CPU than the round trip.
_INSERT_EVENT = insert(ConsentEvent.__table__).inline()
_EVENT_COLUMNS = ("consent_id", "created_at", "policy_version", "granted", "denied", "action", "gpc", "language")
_INSERT_EVENT_SQL = (
    f"INSERT INTO consent_event ({', '.join(_EVENT_COLUMNS)}) "
    "VALUES (%s, %s, %s, CAST(%s AS JSON), CAST(%s AS JSON), %s, %s, %s)"
)


class InvalidChoice(ValueError):
    """An action or category the banner never offers."""


@dataclass(frozen=True)
class ConsentChoice:
    consent_id: str
    granted: frozenset
    policy_version: str
    decided_at: datetime

    def allows(self, category: str) -> bool:
        return category == "necessary" or category in self.granted


def read_choice(cookie_value: str | None, policy_version: str) -> ConsentChoice | None:
    if not cookie_value:
        return None
    try:
        data = read_signed_value(COOKIE_PURPOSE, cookie_value, COOKIE_MAX_AGE.total_seconds())
    except TokenError:
        return None
    try:
        choice = ConsentChoice(
            consent_id=str(uuid.UUID(data["id"])),
            granted=frozenset(data["granted"]) & frozenset(OPTIONAL),
            policy_version=str(data["v"]),
            decided_at=datetime.fromtimestamp(int(data["t"]), timezone.utc).replace(tzinfo=None),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return choice if choice.policy_version == policy_version else None


def record_choice(
    action: str,
    categories,
    *,
    previous: ConsentChoice | None,
    policy_version: str,
    gpc: bool,
    language: str,
) -> tuple[ConsentChoice, str]:
    """Append the decision to the log; return the choice and the signed cookie value.

    A decision that takes back a category allowed before is logged as a withdrawal.
    """
    if action not in ACTIONS:
        raise InvalidChoice(action)
    categories = set(categories)
    if not categories <= set(OPTIONAL):
        raise InvalidChoice(", ".join(sorted(categories - set(OPTIONAL))))
    granted = {"accept_all": set(OPTIONAL), "reject_all": set(), "custom": categories}[action]
    logged_action = "withdraw" if previous and previous.granted - granted else action
    now = utcnow().replace(microsecond=0)
    choice = ConsentChoice(
        consent_id=previous.consent_id if previous else str(uuid.uuid4()),
        granted=frozenset(granted),
        policy_version=policy_version,
        decided_at=now,
    )
    _log_event(dict(
        consent_id=choice.consent_id,
        created_at=now,
        policy_version=policy_version,
        granted=sorted(granted),
        denied=sorted(set(OPTIONAL) - granted),
        action=logged_action,
        gpc=gpc,
        language=language[:35],
    ))
    cookie = sign_value(
        COOKIE_PURPOSE,
        {"id": choice.consent_id, "granted": sorted(granted), "v": policy_version,
         "t": int(now.replace(tzinfo=timezone.utc).timestamp())},
    )
    return choice, cookie


def _log_event(row: dict) -> None:
    if is_postgresql():
        row = {**row, "granted": json.dumps(row["granted"]), "denied": json.dumps(row["denied"])}
        db.session.connection().exec_driver_sql(_INSERT_EVENT_SQL, tuple(row[name] for name in _EVENT_COLUMNS))
    else:
        db.session.execute(_INSERT_EVENT, row)


def is_public_page(rule: Rule | None) -> bool:
    """A page anyone may open: a GET route of a public part of the portal, with no personal token in its address.

    Pages reached by a personal link (/manage/<token>, /newsletter/preferences/<token>, ...)
    are not: their address is the key to someone's registration or subscription, and the
    dashboard that shows counted paths is open to staff. Admin pages, /dev/mail, /healthz
    and static files are not pages to count either. A blueprint missing from
    PUBLIC_BLUEPRINTS is left uncounted until someone decides it is public.
    """
    return (rule is not None and "GET" in (rule.methods or ()) and "token" not in rule.arguments
            and rule.endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS)


def public_page_path(path: str) -> str | None:
    """`path` (query and fragment dropped) if the portal's URL map knows it as a public page, else None."""
    path = path.partition("?")[0].partition("#")[0]
    if not path.startswith("/") or len(path) > 512:
        return None
    try:
        rule, _ = current_app.url_map.bind("localhost").match(path, method="GET", return_rule=True)
    except (HTTPException, RoutingException):  # unknown, not a GET page, or only a redirect to one
        return None
    return path if is_public_page(rule) else None


def count_page_view(path: str, referrer: str | None, new_visit: bool) -> bool:
    """Store a page view of a public page: its path without the query, the referrer's host only.

    Anything else (a personal link's page, an admin page, a path the portal does
    not serve) is not stored; returns whether the view was counted.
    """
    path = public_page_path(path)
    if path is None:
        return False
    referrer_host = urlsplit(referrer).hostname if referrer else None
    db.session.add(PageView(path=path, referrer_host=(referrer_host or None) and referrer_host[:255], new_visit=new_visit))
    db.session.flush()
    return True


def consent_log_rows(batch: int = 1000):
    """Every consent event, oldest first, streamed (for exports)."""
    yield from db.session.scalars(
        select(ConsentEvent).order_by(ConsentEvent.id).execution_options(yield_per=batch)
    )


def purge_consent_log(older_than: datetime) -> int:
    """The retention purge: the only way rows leave the log (a bulk DELETE, no ORM update)."""
    return db.session.execute(delete(ConsentEvent).where(ConsentEvent.created_at < older_than)).rowcount
