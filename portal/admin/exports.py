"""CSV and XLSX exports that are safe to open in a spreadsheet.

Formula injection: a cell that starts with = + - @ (or tab, CR, LF, NUL, which
some spreadsheets skip before looking for those) would be run as a formula when
a CSV is opened. Such a CSV cell gets a leading apostrophe, as OWASP advises.
Spreadsheets opening a CSV do not hide it (LibreOffice shows it, as do Python's
csv and pandas), so an escaped "=1+2" and a value that really is "'=1+2" read
the same; the export forms say so. Nothing is ever stripped: removing the "-"
would silently turn "-5" into "5". In XLSX every cell is written as a string
cell, which no spreadsheet evaluates, so values stay exactly as they were.

Both formats read from a streaming (server-side) cursor: memory stays flat
whatever the row count.
"""
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from sqlalchemy import and_, case, exists, func, literal, select

from portal.consent.models import ConsentEvent
from portal.extensions import db
from portal.newsletter.models import Subscriber, subscriber_topic
from portal.registration.models import AttendeeCategory, CheckIn, Event, Registration, registration_day
from portal.resources.models import Topic

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
#: Rows fetched from the database at a time, and rows per chunk of CSV sent.
BATCH_ROWS = 1000
UTF8_BOM = "\ufeff"
# XML 1.0 cannot carry these; OOXML writes them as _xHHHH_, which Excel reads back as the character.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class ExportColumn:
    key: str
    header: str
    #: A SQL expression selected for each row.
    expression: object


def formula_safe(text: str) -> str:
    """The CSV cell for `text`: a leading ' when a spreadsheet would otherwise read a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def as_text(value) -> str:
    """Every exported value is text: the same in CSV and XLSX, and never reinterpreted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- Columns -------------------------------------------------------------------------------


def attendee_columns(event: Event) -> dict[str, ExportColumn]:
    """Every column an attendee export can have, in the default order; one per event day for days and arrivals."""
    columns = [
        ExportColumn("code", "Check-in code", Registration.code),
        ExportColumn("first_name", "First name", Registration.first_name),
        ExportColumn("last_name", "Last name", Registration.last_name),
        ExportColumn("email", "Email", Registration.email),
        ExportColumn("organization", "Organization", Registration.organization),
        ExportColumn("job_title", "Job title", Registration.job_title),
        ExportColumn("category", "Category", AttendeeCategory.label),
        ExportColumn("status", "Status", Registration.status),
        ExportColumn("payment", "Payment", case(
            (and_(Registration.payment_status == "unpaid", AttendeeCategory.fee_cents == 0), "no fee"),
            else_=Registration.payment_status)),
        ExportColumn("paid_on", "Paid or waived on", Registration.paid_on),
        ExportColumn("payment_note", "Payment note", Registration.payment_note),
    ]
    for day in event.days:
        columns.append(ExportColumn(
            f"day_{day.position}", f"{day.label} ({day.date.isoformat()})",
            exists().where(registration_day.c.registration_id == Registration.id,
                           registration_day.c.event_day_id == day.id),
        ))
    columns += [
        ExportColumn("dietary", "Dietary needs", Registration.dietary),
        ExportColumn("accessibility", "Accessibility needs", Registration.accessibility),
        ExportColumn("registered_at", "Registered (UTC)", Registration.created_at),
        ExportColumn("cancelled_at", "Cancelled (UTC)", Registration.cancelled_at),
    ]
    for day in event.days:
        columns.append(ExportColumn(
            f"checked_in_{day.position}", f"Checked in {day.label}",
            exists().where(CheckIn.registration_id == Registration.id, CheckIn.event_day_id == day.id),
        ))
    return {column.key: column for column in columns}


#: Ready-made presets: what a badge printer and a caterer need, and nothing more.
BUILT_IN_PRESETS = {
    "Badge printer": ["first_name", "last_name", "organization", "category", "code"],
    "Caterer": ["first_name", "last_name", "day_1", "day_2", "dietary"],
}


def attendee_export_query(event: Event, filtered, keys: list[str]):
    """The filtered attendee SELECT (portal.admin.attendees) reduced to the chosen columns, same order."""
    available = attendee_columns(event)
    chosen = [available[key] for key in keys]
    statement = (
        filtered.with_only_columns(*[column.expression.label(column.key) for column in chosen],
                                   maintain_column_froms=False)
        .select_from(Registration)
        .join(AttendeeCategory, AttendeeCategory.id == Registration.category_id)
    )
    return [column.header for column in chosen], statement


def _aggregate_text(column, separator: str):
    """string_agg on PostgreSQL, group_concat on SQLite."""
    if db.engine.dialect.name == "postgresql":
        return func.string_agg(column, literal(separator))
    return func.group_concat(column, separator)


def subscriber_export_query():
    topics = (
        select(_aggregate_text(Topic.slug, ", "))
        .join(subscriber_topic, subscriber_topic.c.topic_id == Topic.id)
        .where(subscriber_topic.c.subscriber_id == Subscriber.id)
        .scalar_subquery()
    )
    columns = [
        ("Email", Subscriber.email), ("First name", Subscriber.first_name), ("Status", Subscriber.status),
        ("Frequency", Subscriber.frequency), ("Topics", topics), ("Event news", Subscriber.wants_events),
        ("Paused until", Subscriber.paused_until), ("Signed up from", Subscriber.signup_source),
        ("Signed up (UTC)", Subscriber.created_at), ("Confirmed (UTC)", Subscriber.confirmed_at),
        ("Unsubscribed (UTC)", Subscriber.unsubscribed_at),
    ]
    # Erased subscribers have no personal data left; they are not part of the list.
    statement = select(*[expression for _, expression in columns]).where(Subscriber.erased_at.is_(None))
    return [header for header, _ in columns], statement.order_by(Subscriber.id)


def consent_log_export_query():
    columns = [
        ("Id", ConsentEvent.id), ("When (UTC)", ConsentEvent.created_at), ("Consent id", ConsentEvent.consent_id),
        ("Policy version", ConsentEvent.policy_version), ("Action", ConsentEvent.action),
        ("Granted", ConsentEvent.granted), ("Denied", ConsentEvent.denied), ("GPC", ConsentEvent.gpc),
        ("Language", ConsentEvent.language),
    ]
    statement = select(*[expression for _, expression in columns]).order_by(ConsentEvent.id)
    return [header for header, _ in columns], statement


def count_rows(statement) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))


def stream_rows(statement) -> Iterator[tuple]:
    """Rows from a server-side cursor on PostgreSQL (yield_per), BATCH_ROWS at a time."""
    result = db.session.execute(statement, execution_options={"yield_per": BATCH_ROWS})
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


# --- Writers ---------------------------------------------------------------------------------


def csv_chunks(headers: list[str], rows: Iterable[tuple], bom: bool = False) -> Iterator[bytes]:
    """RFC 4180 CSV (CRLF, quotes doubled), UTF-8, sent a batch of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(UTF8_BOM)
    writer.writerow([formula_safe(header) for header in headers])
    # The header line goes out before the query's first rows: the download
    # starts at once instead of after the sort of a large list.
    yield _drain(buffer)
    pending = 0
    for row in rows:
        writer.writerow([formula_safe(as_text(value)) for value in row])
        pending += 1
        if pending == BATCH_ROWS:
            yield _drain(buffer)
            pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    """The buffer's text so far as UTF-8, leaving it empty."""
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda match: f"_x{ord(match.group()):04X}_", text)


def write_xlsx(headers: list[str], rows: Iterable[tuple], target, title: str) -> None:
    """A write-only workbook (rows go straight to the file) in which every cell is a string cell."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append([_string_cell(sheet, header) for header in headers])
    for row in rows:
        sheet.append([_string_cell(sheet, as_text(value)) for value in row])
    workbook.save(target)


def _string_cell(sheet, text: str):
    text = _xml_safe(text)
    if not (text.startswith("=") or text in ERROR_CODES):
        return text  # openpyxl stores any other str as a string cell already
    # openpyxl would store "=..." as a formula and "#N/A" as an error; force the string type.
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell
