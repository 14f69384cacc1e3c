"""Finding attendees: one filter object drives the list page and every export.

The export of "what I see" must be exactly what the list shows, so both take
the same `AttendeeFilter` and the same `attendee_query`.
"""
from dataclasses import asdict, dataclass

from sqlalchemy import and_, exists, func, or_, select

from portal.extensions import db
from portal.registration.models import AttendeeCategory, CheckIn, Event, Registration, registration_day

PAGE_SIZE = 50

#: Sort keys offered on the list: key -> columns (id last, so every order is total and stable).
SORTS = {
    "newest": (Registration.created_at.desc(), Registration.id.desc()),
    "oldest": (Registration.created_at.asc(), Registration.id.asc()),
    "last_name": (Registration.last_name.asc(), Registration.first_name.asc(), Registration.id.asc()),
    "organization": (Registration.organization.asc(), Registration.last_name.asc(), Registration.id.asc()),
}
STATUSES = ("confirmed", "waitlisted", "cancelled")
#: "unpaid" means a fee is owed; "no_fee" is a category without a fee that nobody marked paid or waived.
PAYMENTS = ("paid", "unpaid", "waived", "no_fee")


@dataclass(frozen=True)
class AttendeeFilter:
    search: str = ""
    status: str = ""
    category_id: int | None = None
    day_id: int | None = None
    #: "yes", "no" or "" (either); with day_id, on that day, else on any day.
    checked_in: str = ""
    #: One of PAYMENTS, or "" (any).
    payment: str = ""
    sort: str = "newest"

    def describe(self) -> dict:
        """For the audit log: only what was actually set."""
        return {key: value for key, value in asdict(self).items() if value not in ("", None)}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def attendee_query(event: Event, chosen: AttendeeFilter):
    """SELECT of Registration rows for the event matching the filter, in the chosen order."""
    query = select(Registration).where(Registration.event_id == event.id)
    if chosen.search:
        pattern = f"%{_escape_like(chosen.search.strip().lower())}%"
        query = query.where(
            or_(
                func.lower(Registration.first_name + " " + Registration.last_name).like(pattern, escape="\\"),
                Registration.email_key.like(pattern, escape="\\"),
                func.lower(Registration.organization).like(pattern, escape="\\"),
                Registration.code == chosen.search.strip().upper(),
            )
        )
    if chosen.status in STATUSES:
        query = query.where(Registration.status == chosen.status)
    if chosen.category_id:
        query = query.where(Registration.category_id == chosen.category_id)
    if chosen.day_id:
        query = query.where(
            exists().where(
                and_(registration_day.c.registration_id == Registration.id, registration_day.c.event_day_id == chosen.day_id)
            )
        )
    if chosen.checked_in in ("yes", "no"):
        arrived = exists().where(CheckIn.registration_id == Registration.id)
        if chosen.day_id:
            arrived = exists().where(and_(CheckIn.registration_id == Registration.id, CheckIn.event_day_id == chosen.day_id))
        query = query.where(arrived if chosen.checked_in == "yes" else ~arrived)
    if chosen.payment in PAYMENTS:
        query = query.where(_payment_condition(chosen.payment))
    return query.order_by(*SORTS.get(chosen.sort, SORTS["newest"]))


def _payment_condition(payment: str):
    if payment in ("paid", "waived"):
        return Registration.payment_status == payment
    free = Registration.category_id.in_(select(AttendeeCategory.id).where(AttendeeCategory.fee_cents == 0))
    return and_(Registration.payment_status == "unpaid", free if payment == "no_fee" else ~free)


@dataclass
class AttendeePage:
    rows: list[Registration]
    total: int
    page: int
    pages: int
    #: registration id -> event day ids checked in on.
    checked_in: dict[int, set[int]]


def attendee_page(event: Event, chosen: AttendeeFilter, page: int = 1) -> AttendeePage:
    query = attendee_query(event, chosen)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    rows = list(db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    checked_in: dict[int, set[int]] = {row.id: set() for row in rows}
    if rows:
        for registration_id, day_id in db.session.execute(
            select(CheckIn.registration_id, CheckIn.event_day_id).where(CheckIn.registration_id.in_(checked_in))
        ):
            checked_in[registration_id].add(day_id)
    return AttendeePage(rows, total, page, pages, checked_in)
