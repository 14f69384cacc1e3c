"""Events described in a small TOML or JSON file, for `flask create-event` / `update-event`.

Reading a file never touches the database: it returns an EventSpec, or raises
EventFileError listing every bad field with what is wrong with it, so an
organiser fixes the whole file in one go. See deploy/summit.example.toml.
"""
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CATEGORY_CODE = re.compile(r"[a-z][a-z0-9_]*")
CURRENCY = re.compile(r"[A-Z]{3}")
PAYMENT_METHOD_NAMES = ("invoice", "at_door", "online")


class EventFileError(Exception):
    """The file cannot describe an event; `problems` says where and why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DaySpec:
    date: date
    starts_at: time
    ends_at: time
    capacity: int


@dataclass(frozen=True)
class CategorySpec:
    code: str
    label: str
    fee_cents: int
    currency: str


@dataclass(frozen=True)
class EventSpec:
    slug: str
    title: str
    summary: str
    venue: str
    address_line1: str
    address_line2: str | None
    city: str
    region: str
    postal_code: str
    country: str
    timezone: str
    #: Naive UTC, like the Event columns.
    registration_opens_at: datetime
    registration_closes_at: datetime
    capacity: int | None
    privacy_policy_version: str
    days: tuple[DaySpec, ...]
    categories: tuple[CategorySpec, ...]
    #: From the optional [payment] table: "invoice", "at_door" or "online" (None: not declared).
    payment_method: str | None = None
    payment_url: str | None = None
    payment_instructions: str = ""


def read_event_file(path: str | Path) -> EventSpec:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EventFileError([f"{path}: cannot read the file ({exc.strerror})"]) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EventFileError([f"{path.name}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}"]) from None
    if not isinstance(data, dict):
        raise EventFileError([f"{path.name}: the file must describe one event (a table of fields)"])
    return parse_event(data)


def parse_event_text(text: str) -> EventSpec:
    """An event file's TOML pasted into a form (the admin event page); same checks as a file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EventFileError([f"not valid TOML: {exc}"]) from None
    return parse_event(data)


def event_as_toml(event) -> str:
    """The event as the file `update-event` reads, in the event's own wall-clock times."""
    def text(value: str) -> str:
        # A JSON string is a valid TOML basic string: the same escapes.
        return json.dumps(value, ensure_ascii=False)

    def local(moment: datetime) -> str:
        return event.local_time(moment).replace(tzinfo=None).isoformat(timespec="seconds")

    lines = [
        f"slug = {text(event.slug)}",
        f"title = {text(event.title)}",
        f"summary = {text(event.summary)}",
        f"timezone = {text(event.timezone)}",
        f"privacy_policy_version = {text(event.privacy_policy_version)}",
    ]
    if event.capacity is not None:
        lines.append(f"capacity = {event.capacity}")
    lines += ["", "[venue]", f"name = {text(event.venue)}", f"address_line1 = {text(event.address_line1)}"]
    if event.address_line2:
        lines.append(f"address_line2 = {text(event.address_line2)}")
    lines += [f"city = {text(event.city)}", f"region = {text(event.region)}",
              f"postal_code = {text(event.postal_code)}", f"country = {text(event.country)}",
              "", "[registration]", f"opens_at = {local(event.registration_opens_at)}",
              f"closes_at = {local(event.registration_closes_at)}"]
    for day in event.days:
        lines += ["", "[[days]]", f"date = {day.date.isoformat()}", f"starts_at = {day.starts_at.isoformat()}",
                  f"ends_at = {day.ends_at.isoformat()}", f"capacity = {day.capacity}"]
    for category in event.categories:
        fee = Decimal(category.fee_cents) / 100
        lines += ["", "[[categories]]", f"code = {text(category.code)}", f"label = {text(category.label)}",
                  f"fee = {fee:.2f}", f"currency = {text(category.currency)}"]
    if event.payment_method:
        lines += ["", "[payment]", f"method = {text(event.payment_method)}"]
        if event.payment_url:
            lines.append(f"url = {text(event.payment_url)}")
        if event.payment_instructions:
            lines.append(f"instructions = {text(event.payment_instructions)}")
    return "\n".join(lines) + "\n"


def parse_event(data: dict) -> EventSpec:
    """Check every field and convert it; raise EventFileError with all problems at once."""
    check = _Checker(data)
    slug = check.text("slug", 80, pattern=SLUG, pattern_hint="lowercase letters, digits and single hyphens")
    timezone = check.text("timezone", 64, default="America/New_York")
    zone = None
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            check.problem("timezone", f"unknown time zone {timezone!r} (use an IANA name like America/New_York)")
    venue = check.table("venue")
    registration = check.table("registration")
    opens = check.local_datetime("registration.opens_at", registration.get("opens_at"))
    closes = check.local_datetime("registration.closes_at", registration.get("closes_at"))
    if opens and closes and closes <= opens:
        check.problem("registration.closes_at", "must be after registration.opens_at")
    days = tuple(check.day(index, item) for index, item in enumerate(check.array("days"), start=1))
    dates = [day.date for day in days if day]
    if dates and dates != sorted(set(dates)):
        check.problem("days", "dates must be in order and each day only once")
    categories = tuple(check.category(index, item) for index, item in enumerate(check.array("categories"), start=1))
    codes = [category.code for category in categories if category]
    if len(codes) != len(set(codes)):
        check.problem("categories", "each category code may appear only once")
    payment = _payment_fields(check)
    spec_fields = dict(
        **payment,
        slug=slug,
        title=check.text("title", 200),
        summary=check.text("summary", 5000, default=""),
        venue=check.text("venue.name", 200, source=venue, key="name"),
        address_line1=check.text("venue.address_line1", 200, source=venue, key="address_line1"),
        address_line2=check.text("venue.address_line2", 200, source=venue, key="address_line2", default=None),
        city=check.text("venue.city", 100, source=venue, key="city"),
        region=check.text("venue.region", 100, source=venue, key="region"),
        postal_code=check.text("venue.postal_code", 20, source=venue, key="postal_code"),
        country=check.text("venue.country", 100, source=venue, key="country"),
        timezone=timezone,
        capacity=check.count("capacity", data.get("capacity"), optional=True),
        privacy_policy_version=check.text("privacy_policy_version", 32),
    )
    if check.problems:
        raise EventFileError(check.problems)
    to_utc = lambda moment: moment.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)  # noqa: E731
    return EventSpec(
        **spec_fields,
        registration_opens_at=to_utc(opens),
        registration_closes_at=to_utc(closes),
        days=days,
        categories=categories,
    )


def _payment_fields(check: "_Checker") -> dict:
    """The optional [payment] table: how fees are paid, as the form and emails tell attendees."""
    if "payment" not in check.data:
        return {}
    payment = check.table("payment")
    method = check.text("payment.method", 16, source=payment, key="method")
    if method is not None and method not in PAYMENT_METHOD_NAMES:
        check.problem("payment.method", f"{method!r} is not one of {', '.join(PAYMENT_METHOD_NAMES)}")
    url = check.text("payment.url", 500, source=payment, key="url", default=None)
    if method == "online" and url is None:
        check.problem("payment.url", "missing (the payment page's https:// address, for method \"online\")")
    elif url is not None and method != "online":
        check.problem("payment.url", "only for method \"online\"")
    elif url is not None and not re.fullmatch(r"https://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", url):
        check.problem("payment.url", f"{url!r} is not an https:// address")
    instructions = check.text("payment.instructions", 2000, source=payment, key="instructions", default="")
    return dict(payment_method=method, payment_url=url, payment_instructions=instructions or "")


class _Checker:
    """Collects problems while reading fields, so one run reports all of them."""

    def __init__(self, data: dict):
        self.data = data
        self.problems: list[str] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(f"{field}: {message}")

    def table(self, name: str) -> dict:
        value = self.data.get(name)
        if not isinstance(value, dict):
            self.problem(name, "missing (a table of fields)")
            return {}
        return value

    def array(self, name: str) -> list:
        value = self.data.get(name)
        if not isinstance(value, list) or not value:
            self.problem(name, "missing (a list with at least one entry)")
            return []
        return value

    def text(self, field, limit, *, source=None, key=None, default=..., pattern=None, pattern_hint=""):
        source = self.data if source is None else source
        value = source.get(key or field)
        if value is None or value == "":
            if default is ...:
                self.problem(field, "missing")
            return default
        if not isinstance(value, str):
            self.problem(field, "must be text")
            return None
        value = value.strip()
        if len(value) > limit:
            self.problem(field, f"too long ({len(value)} characters, at most {limit})")
        elif re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value):
            self.problem(field, "contains control characters")
        elif pattern is not None and not pattern.fullmatch(value):
            self.problem(field, f"{value!r} is not valid: use {pattern_hint}")
        return value

    def count(self, field, value, optional=False) -> int | None:
        if value is None and optional:
            return None
        if type(value) is not int or value < 0:
            self.problem(field, "must be a whole number, 0 or more")
            return None
        return value

    def local_datetime(self, field, value) -> datetime | None:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                self.problem(field, f"{value!r} is not a date and time like 2027-09-22T23:59")
                return None
        if not isinstance(value, datetime):
            self.problem(field, "missing (a date and time like 2027-09-22T23:59, in the event's time zone)")
            return None
        if value.tzinfo is not None:
            self.problem(field, "write it without a UTC offset: it is read in the event's time zone")
            return None
        return value

    def day(self, index: int, item) -> DaySpec | None:
        field = f"days[{index}]"
        if not isinstance(item, dict):
            self.problem(field, "must be a table with date, starts_at, ends_at and capacity")
            return None
        day = _parse(self, f"{field}.date", item.get("date"), date, date.fromisoformat, "a date like 2027-09-23")
        starts = _parse(self, f"{field}.starts_at", item.get("starts_at"), time, time.fromisoformat, "a time like 08:30")
        ends = _parse(self, f"{field}.ends_at", item.get("ends_at"), time, time.fromisoformat, "a time like 17:30")
        capacity = self.count(f"{field}.capacity", item.get("capacity"))
        if starts and ends and ends <= starts:
            self.problem(f"{field}.ends_at", "must be after starts_at")
        if None in (day, starts, ends, capacity) or (ends <= starts):
            return None
        return DaySpec(day, starts, ends, capacity)

    def category(self, index: int, item) -> CategorySpec | None:
        field = f"categories[{index}]"
        if not isinstance(item, dict):
            self.problem(field, "must be a table with code, label and fee")
            return None
        code = self.text(f"{field}.code", 32, source=item, key="code", pattern=CATEGORY_CODE,
                         pattern_hint="lowercase letters, digits and underscores, starting with a letter")
        label = self.text(f"{field}.label", 100, source=item, key="label")
        currency = self.text(f"{field}.currency", 3, source=item, key="currency", default="USD",
                             pattern=CURRENCY, pattern_hint="a three-letter ISO 4217 code like USD")
        fee_cents = None
        fee = item.get("fee")
        try:
            amount = Decimal(str(fee)) if isinstance(fee, (int, float, str)) and not isinstance(fee, bool) else None
        except InvalidOperation:
            amount = None
        if amount is None or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            self.problem(f"{field}.fee", "must be an amount like 395 or 395.00 (0 for no fee)")
        else:
            fee_cents = int(amount * 100)
        if None in (code, label, fee_cents) or not CATEGORY_CODE.fullmatch(code or ""):
            return None
        return CategorySpec(code, label, fee_cents, currency or "USD")


def _parse(checker: _Checker, field, value, kind, from_text, example):
    if isinstance(value, str):
        try:
            return from_text(value)
        except ValueError:
            checker.problem(field, f"{value!r} is not {example}")
            return None
    if isinstance(value, kind) and not (kind is date and isinstance(value, datetime)):
        return value
    checker.problem(field, f"missing ({example})")
    return None
