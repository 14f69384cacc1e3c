"""The confirmation as an attendee receives it: over real SMTP, with a calendar file and a QR code that work."""
import re
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import zxingcpp
from PIL import Image

from portal.extensions import db
from portal.registration.demo import seed_demo_event
from tests.support.registration import manage_path, register, registrations
from tests.support.web import csrf_token_from

NEW_YORK = ZoneInfo("America/New_York")


def parts_of(received):
    return list(received.message.walk())


def calendar_of(received, method: str = "PUBLISH") -> tuple[icalendar.Calendar, bytes]:
    """The attached calendar file with the given METHOD, parsed, and its raw bytes."""
    found = []
    for part in parts_of(received):
        if part.get_content_type() == "text/calendar":
            raw = part.get_payload(decode=True)
            calendar = icalendar.Calendar.from_ical(raw)
            if str(calendar["METHOD"]) == method:
                found.append((calendar, raw))
    [result] = found
    return result


def test_confirmation_arrives_over_smtp_with_a_valid_ics_and_a_scannable_qr_code(
    smtp_env, smtp_server, make_app, celery_worker
):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        event, _ = seed_demo_event()
        db.session.commit()
        slug, first_day = event.slug, event.first_day.date
    client = app.test_client()
    assert register(client, slug, email="Ada@Example.org", days="all").status_code == 303

    [received] = smtp_server.wait_for(1)
    [registration] = registrations(app, slug)
    assert received.recipients == ["Ada@Example.org"]
    assert received.message["To"] == "Ada@Example.org"
    assert received.message["Subject"].startswith(f"You are registered: Policy Summit {first_day.year}")

    calendar, raw = calendar_of(received)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), "RFC 5545 folds lines at 75 octets"
    assert calendar["VERSION"] == "2.0" and calendar["METHOD"] == "PUBLISH" and calendar["PRODID"]
    [timezone] = calendar.walk("VTIMEZONE")
    assert timezone["TZID"] == "America/New_York"
    day1, day2 = calendar.walk("VEVENT")
    second_day = first_day + timedelta(days=1)
    expected = [
        (day1, datetime.combine(first_day, datetime.min.time().replace(hour=8, minute=30), NEW_YORK),
         datetime.combine(first_day, datetime.min.time().replace(hour=17, minute=30), NEW_YORK), 1),
        (day2, datetime.combine(second_day, datetime.min.time().replace(hour=8, minute=30), NEW_YORK),
         datetime.combine(second_day, datetime.min.time().replace(hour=15), NEW_YORK), 2),
    ]
    for vevent, start, end, position in expected:
        assert vevent["DTSTART"].params["TZID"] == "America/New_York"
        assert vevent["DTEND"].params["TZID"] == "America/New_York"
        assert vevent.decoded("DTSTART") == start and vevent.decoded("DTEND") == end
        assert vevent.decoded("DTSTART").utcoffset() == timedelta(hours=-4)  # EDT in late September
        assert vevent["UID"] == f"{registration.code}-day{position}@portal.localhost"  # the sender's domain
        assert "Capitol Convention Hall" in vevent["LOCATION"] and "900 Massachusetts Avenue NW" in vevent["LOCATION"]
        # No manage token in a calendar entry (they get shared): the lost-link page instead.
        assert "/manage/lost-link" in vevent["DESCRIPTION"] and vevent["DTSTAMP"]
        assert re.search(r"/manage/(?!lost-link)", vevent["DESCRIPTION"]) is None

    [qr_part] = [p for p in parts_of(received) if p.get_content_type() == "image/png"]
    content_id = qr_part["Content-ID"].strip("<>")
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert f'src="cid:{content_id}"' in html
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_part.get_payload(decode=True))))
    assert barcode.text == registration.code
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode  # a full QR code: many scanners cannot read Micro QR

    # A later email carries the same UIDs, so calendars update the entry instead of adding one.
    path = manage_path(received.message.get_body(preferencelist=("plain",)).get_content())
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    data = {"days": "1", "dietary": "", "accessibility": "", "csrf_token": token}
    assert client.post(path, data=data).status_code == 303
    changed = smtp_server.wait_for(2)[1]
    assert changed.message["Subject"].startswith("Your Policy Summit")
    [only_day] = calendar_of(changed)[0].walk("VEVENT")
    assert only_day["UID"] == day1["UID"]
    [withdrawn] = calendar_of(changed, "CANCEL")[0].walk("VEVENT")
    assert withdrawn["UID"] == day2["UID"] and withdrawn["STATUS"] == "CANCELLED"
