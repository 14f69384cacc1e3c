"""The calendar files of a confirmation, a change and a cancellation, as mail and calendar software read them.

Each .ics part is parsed from the message as it goes on the wire with Python's
`email` (policy=default) and with icalendar, then imported in order into khal,
a real calendar program (Debian package; `make test` installs it).
"""
import email.policy
import shutil
import subprocess

import icalendar
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.mail.message import parsed_message
from portal.mail.models import OutgoingEmail
from tests.support.registration import manage_path, new_event, register
from tests.support.mail import outbox
from tests.support.web import csrf_token_from

KHAL = "/usr/bin/khal"


@pytest.fixture
def c_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def change_then_cancel(app, slug: str) -> None:
    """Register for both days, give up the second, then cancel: three emails with calendar files."""
    client = app.test_client()
    assert register(client, slug, days="all").status_code == 303
    path = manage_path(outbox(app, "registration_confirmed")[0].text)
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    data = {"days": "1", "dietary": "", "accessibility": "", "csrf_token": token}
    assert client.post(path, data=data).status_code == 303
    token = csrf_token_from(client.get(path + "/cancel").get_data(as_text=True))
    assert client.post(path + "/cancel", data={"csrf_token": token}).status_code == 303


def calendar_parts(app) -> list[tuple[str, email.message.EmailMessage]]:
    """(email name, text/calendar part) of every queued message, in the order they were queued."""
    with app.app_context():
        rows = db.session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id))
        messages = [(row.name, parsed_message(row)) for row in rows]
    assert all(isinstance(message.policy, type(email.policy.default)) for _, message in messages)
    return [(name, part) for name, message in messages for part in message.walk()
            if part.get_content_type() == "text/calendar"]


def test_calendar_parts_name_their_charset_and_method_and_decode_as_written(c_app):
    slug = new_event(c_app)
    change_then_cancel(c_app, slug)

    parts = calendar_parts(c_app)
    assert [(name, part.get_param("method")) for name, part in parts] == [
        ("registration_confirmed", "PUBLISH"),
        ("registration_changed", "PUBLISH"),
        ("registration_changed", "CANCEL"),
        ("registration_cancelled", "CANCEL"),
    ]
    uids = set()
    for _, part in parts:
        assert part.get_content_charset() == "utf-8"
        text = part.get_content()
        assert "\ufffd" not in text and "Test Policy Summit – Day " in text  # the en dash, decoded
        calendar = icalendar.Calendar.from_ical(text)
        assert str(calendar["METHOD"]) == part.get_param("method")  # RFC 6047: the part says what the file does
        uids |= {str(entry["UID"]) for entry in calendar.walk("VEVENT")}
    # Every file speaks of the same two entries, under the sender's domain.
    assert len(uids) == 2 and all(uid.endswith("@portal.localhost") for uid in uids)


def khal(tmp_path, *args: str) -> str:
    """Run khal with a calendar of this test's own, shown in New York time.

    A time without a zone would be read as UTC (default_timezone), so only entries
    that carry their America/New_York zone show the event's own hours.
    """
    config = tmp_path / "khal.conf"
    if not config.exists():
        (tmp_path / "calendar").mkdir()
        config.write_text(
            f"[calendars]\n[[summit]]\npath = {tmp_path / 'calendar'}\ntype = calendar\n"
            "[locale]\nlocal_timezone = America/New_York\ndefault_timezone = UTC\n"
            "timeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
            "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
            f"[sqlite]\npath = {tmp_path / 'khal.db'}\n"
        )
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "TZ": "UTC"}
    result = subprocess.run([KHAL, "-c", str(config), *args], capture_output=True, text=True, env=environment,
                            timeout=120, check=True)
    return result.stdout


def shown_entries(tmp_path) -> list[str]:
    """What khal lists for the event's week: "CANCELLED " before an entry it holds as cancelled."""
    listing = khal(tmp_path, "list", "--day-format", "", "--format", "{cancelled}{start}-{end-time} {title}",
                   "2030-09-20", "7d")
    return [line for line in listing.splitlines() if line.strip()]


def test_confirm_change_and_cancel_imported_in_order_into_khal_leave_one_entry_then_none(c_app, tmp_path):
    assert shutil.which(KHAL), "khal is missing: `make test` installs it (Makefile target calendar-tools)"
    slug = new_event(c_app)
    change_then_cancel(c_app, slug)
    parts = calendar_parts(c_app)

    def import_mail(name: str) -> None:
        for number, part in enumerate(p for n, p in parts if n == name):
            ics = tmp_path / f"{name}-{number}.ics"
            ics.write_text(part.get_content(), encoding="utf-8")
            khal(tmp_path, "import", "--batch", str(ics))

    import_mail("registration_confirmed")
    assert shown_entries(tmp_path) == [
        "2030-09-23 08:30-17:30 Test Policy Summit – Day 1",
        "2030-09-24 08:30-15:00 Test Policy Summit – Day 2",
    ]

    # The change keeps the first day (same UID: updated, not doubled) and withdraws the second.
    # khal applies the CANCEL file as it applies any import, by UID: the entry stays, marked
    # cancelled, where a scheduling client (Thunderbird, Outlook) removes it.
    import_mail("registration_changed")
    shown = shown_entries(tmp_path)
    assert shown == [
        "2030-09-23 08:30-17:30 Test Policy Summit – Day 1",
        "CANCELLED 2030-09-24 08:30-15:00 Cancelled: Test Policy Summit – Day 2",
    ]
    assert [line for line in shown if not line.startswith("CANCELLED ")] == [
        "2030-09-23 08:30-17:30 Test Policy Summit – Day 1"
    ]

    import_mail("registration_cancelled")
    shown = shown_entries(tmp_path)
    assert len(shown) == 2 and all(line.startswith("CANCELLED ") for line in shown), shown
    assert [line for line in shown if not line.startswith("CANCELLED ")] == []

