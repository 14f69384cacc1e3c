"""The admin deliverability page: rates per day and per edition against the lines, the suppression list
(search, paging), clearing an entry, and a searched address kept out of logs and page-view counts."""
import html
import re
import urllib.error
import urllib.request
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select

from portal.admin.models import AuditEvent
from portal.consent.service import count_page_view
from portal.database import utcnow
from portal.deliverability.models import DeliveryEvent, MailSuppression
from portal.digests.models import DigestDelivery, DigestEdition
from portal.extensions import db
from portal.mail.models import OutgoingEmail
from tests.support.admin import STAFF_EMAIL, add_account, csrf_of, log_in, logged_in_client
from tests.support.digests import add_subscribers
from tests.support.vnu import vnu_errors
from tests.support.wait import wait_until
from tests.support.web import page_text

PAGES = ("/admin/deliverability/", "/admin/deliverability/suppressions")


@pytest.fixture
def admin(app):
    return logged_in_client(app)


def _text(response) -> str:
    return html.unescape(page_text(response))


def _rows(response, table_id: str) -> dict[str, str]:
    """The rows of the table under the heading `table_id`, as text keyed by their first cell."""
    page = response.get_data(as_text=True)
    section = page[page.index(f'id="{table_id}"'):]
    section = section[:section.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]:
        cells = [html.unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))
                 for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = " | ".join(cells[1:])
    return rows


def _sent_mail(count: int, day: date, lane: str = "bulk") -> list[int]:
    """`count` outbox rows sent at noon (UTC) of `day`; their ids."""
    sent_at = datetime.combine(day, time(12))
    first = db.session.scalar(select(db.func.coalesce(db.func.max(OutgoingEmail.id), 0)))
    db.session.execute(insert(OutgoingEmail), [
        {"lane": lane, "name": "digest", "to_address": f"reader{n}@example.org", "from_address": "news@example.org",
         "subject": "Digest", "body_text": "Hi", "body_html": "<p>Hi</p>", "headers": {},
         "message_id": f"<{day.isoformat()}.{n}@example.org>", "status": "sent", "sent_at": sent_at}
        for n in range(count)
    ])
    return list(db.session.scalars(select(OutgoingEmail.id).where(OutgoingEmail.id > first).order_by(OutgoingEmail.id)))


def _events(kind: str, count: int, day: date, email_ids=None) -> None:
    created_at = datetime.combine(day, time(13))
    email_ids = list(email_ids or [None] * count)
    db.session.add_all(DeliveryEvent(kind=kind, email_id=email_ids[n], address_key=f"reader{n}@example.org",
                                     lane="bulk", status_code="5.1.1", source="dsn", created_at=created_at)
                       for n in range(count))


def _suppress(address: str, reason: str = "hard_bounce", status: str | None = "5.1.1",
              diagnostic: str | None = "550 5.1.1 <x>: Recipient address rejected: User unknown") -> int:
    event = DeliveryEvent(kind="complaint" if reason == "complaint" else "hard_bounce", address_key=address,
                          status_code=status, diagnostic=diagnostic, source="dsn")
    db.session.add(event)
    db.session.flush()
    entry = MailSuppression(address_key=address, reason=reason, event_id=event.id)
    db.session.add(entry)
    db.session.flush()
    return entry.id


def _suppressed(app, *addresses: str) -> list[int]:
    with app.app_context():
        ids = [_suppress(address) for address in addresses]
        db.session.commit()
        return ids


def _listed(response) -> list[str]:
    page = response.get_data(as_text=True)
    return re.findall(r'<th scope="row">([^<]+)</th>', page)


# --- Who may see it ---------------------------------------------------------------------------


def test_the_pages_need_a_login_and_the_admin_role(app, admin):
    entry, = _suppressed(app, "ada@example.org")
    paths = [*PAGES, f"/admin/deliverability/suppressions/{entry}/clear"]
    anonymous = app.test_client()
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"], path
    staff = logged_in_client(app, STAFF_EMAIL, role="staff")
    for path in paths:
        assert staff.get(path).status_code == 403, path
    token = csrf_of(staff, "/admin/")
    assert staff.post(paths[-1], data={"csrf_token": token}).status_code == 403
    for path in paths:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert db.session.scalar(select(MailSuppression.id)) == entry


def test_an_admin_without_the_required_second_factor_is_sent_to_set_it_up(make_app):
    app = make_app(ADMIN_REQUIRE_2FA=True)
    add_account(app)
    client = app.test_client()
    log_in(client)
    response = client.get(PAGES[0])
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/two-factor")


def test_the_admin_navigation_links_to_the_page(admin):
    page = admin.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/deliverability/">Deliverability</a>' in page
    for path in PAGES:
        assert '<a href="/admin/deliverability/" aria-current="page">Deliverability</a>' in admin.get(path).get_data(
            as_text=True)


# --- Rates ----------------------------------------------------------------------------------


def test_daily_rates_come_from_the_mail_sent_and_the_reports_of_that_day(app, admin):
    today = utcnow().date()
    yesterday = today - timedelta(days=1)
    with app.app_context():
        _sent_mail(400, today)
        _events("complaint", 1, today)  # 0.25 %: under the 0.3 % line
        _events("hard_bounce", 8, today)  # 2.00 %: on the 2 % line, which counts as reached
        _sent_mail(300, yesterday, lane="transactional")
        _events("complaint", 1, yesterday)  # 0.33 %: over
        _events("hard_bounce", 5, yesterday)  # 1.67 %
        _events("soft_bounce", 2, yesterday)
        _events("unmatched", 4, yesterday)  # not a rate of anything
        _events("complaint", 3, today - timedelta(days=30))  # older than the 30 days shown
        db.session.commit()
    response = admin.get(PAGES[0])
    assert response.status_code == 200
    rows = _rows(response, "per-day")
    assert len(rows) == 30 and list(rows)[:2] == [today.isoformat(), yesterday.isoformat()]
    assert rows[today.isoformat()] == ("400 | 8 | 2.00 % ▲ at or over the line | 0 | 0.00 % under the line"
                                       " | 1 | 0.25 % under the line")
    assert rows[yesterday.isoformat()] == ("300 | 5 | 1.67 % under the line | 2 | 0.67 % under the line"
                                           " | 1 | 0.33 % ▲ at or over the line")
    assert rows[(today - timedelta(days=29)).isoformat()] == "0 | 0 | — | 0 | — | 0 | —"
    text = _text(response)
    assert "complaint rate reaches 0.3 %" in text and "bounce rate of 2 % or more" in text
    assert "Days at or over the complaint line 1" in text and "Days at or over the hard bounce line 1" in text


def test_an_edition_counts_the_reports_about_its_own_digests(app, admin):
    with app.app_context():
        subscribers = add_subscribers(app, 3, topics=())
        email_ids = _sent_mail(3, utcnow().date())
        edition = DigestEdition(frequency="weekly", period_start=date(2026, 11, 23), status="done", planned=300,
                                sent=300)
        quiet = DigestEdition(frequency="monthly", period_start=date(2026, 11, 1), status="done", planned=600,
                              sent=600)
        db.session.add_all([edition, quiet])
        db.session.flush()
        db.session.add_all(DigestDelivery(edition_id=edition.id, subscriber_id=subscriber, email_id=email_id)
                           for subscriber, email_id in zip(subscribers, email_ids))
        # Two complaints about the weekly edition's digests (one reported twice), one about other mail.
        _events("complaint", 2, utcnow().date(), email_ids[:2])
        _events("complaint", 1, utcnow().date(), email_ids[:1])
        _events("soft_bounce", 1, utcnow().date(), email_ids[2:])
        _events("complaint", 1, utcnow().date())
        db.session.commit()
    rows = _rows(admin.get(PAGES[0]), "per-edition")
    assert rows == {
        "Weekly digest, week of 23 November 2026":
            "300 | 0 | 0.00 % under the line | 1 | 0.33 % under the line | 2 | 0.67 % ▲ at or over the line",
        "Monthly digest, November 2026":
            "600 | 0 | 0.00 % under the line | 0 | 0.00 % under the line | 0 | 0.00 % under the line",
    }


# --- The suppression list -------------------------------------------------------------------


def test_the_list_shows_reason_date_and_what_came_back(app, admin):
    with app.app_context():
        _suppress("ada@example.org")
        _suppress("grace@example.org", reason="complaint", status=None, diagnostic=None)
        db.session.commit()
    response = admin.get(PAGES[1])
    text = _text(response)
    assert _listed(response) == ["grace@example.org", "ada@example.org"]
    assert "ada@example.org Hard bounce" in text
    assert "5.1.1 : 550 5.1.1 <x>: Recipient address rejected: User unknown" in text
    assert "grace@example.org Spam complaint" in text
    assert utcnow().strftime("%Y-%m-%d") in text


def test_search_finds_a_whole_address_or_part_of_one_and_nothing_else(app, admin):
    _suppressed(app, "ada@example.org", "ada.lovelace@example.net", "grace@example.org", "a_b@example.com")
    search = lambda q: admin.get(PAGES[1], query_string={"q": q})  # noqa: E731
    assert _listed(search("Ada@Example.ORG ")) == ["ada@example.org"]
    assert sorted(_listed(search("ada"))) == ["ada.lovelace@example.net", "ada@example.org"]
    assert sorted(_listed(search("example.org"))) == ["ada@example.org", "grace@example.org"]
    # LIKE's wildcards are plain characters here.
    assert _listed(search("a_b")) == ["a_b@example.com"]
    assert _listed(search("%")) == []
    nothing = search("nobody@example.org")
    assert nothing.status_code == 200 and _listed(nothing) == []
    assert "No entry matches." in _text(nothing)


def test_searching_a_whole_address_shows_what_came_back_about_it(app, admin):
    _suppressed(app, "ada@example.org")
    text = _text(admin.get(PAGES[1], query_string={"q": "ada@example.org"}))
    assert "This address Bulk mail Suppressed since" in text
    assert "(hard bounce): digests and other mailings are withheld." in text
    assert "Last bounce Hard," in text and "Last complaint None recorded" in text


@pytest.mark.parametrize("q", ["a" * 321, "ada\x00@example.org", "ada\n@example.org"])
def test_a_search_that_cannot_be_an_address_is_a_400_with_the_reason(app, admin, q):
    _suppressed(app, "ada@example.org")
    response = admin.get(PAGES[1], query_string={"q": q})
    assert response.status_code == 400
    assert re.search(r'<p class="field-error" id="q-error">.+</p>', response.get_data(as_text=True))
    assert _listed(response) == ["ada@example.org"]


def test_the_list_pages_newest_first_with_older_entries_after_the_last_one_shown(app, admin):
    ids = _suppressed(app, *(f"reader{n:02}@example.org" for n in range(60)))
    first = admin.get(PAGES[1])
    assert _listed(first) == [f"reader{n:02}@example.org" for n in range(59, 9, -1)]
    older = re.search(r'href="([^"]+)" rel="next">Older entries', first.get_data(as_text=True)).group(1)
    assert html.unescape(older) == f"/admin/deliverability/suppressions?before={ids[10]}"
    second = admin.get(html.unescape(older))
    assert _listed(second) == [f"reader{n:02}@example.org" for n in range(9, -1, -1)]
    assert "Older entries" not in second.get_data(as_text=True)
    searched = admin.get(PAGES[1], query_string={"q": "reader0"})
    assert _listed(searched) == [f"reader{n:02}@example.org" for n in range(9, -1, -1)]


@pytest.mark.parametrize("before", ["abc", "-5", "0", "99999999999999999999", "٣"])
def test_a_tampered_paging_cursor_shows_the_first_page(app, admin, before):
    _suppressed(app, "ada@example.org")
    response = admin.get(PAGES[1], query_string={"before": before})
    assert response.status_code == 200 and _listed(response) == ["ada@example.org"]


# --- Clearing an entry ----------------------------------------------------------------------


def test_clearing_asks_first_then_clears_audits_and_says_so(app, admin):
    entry, kept = _suppressed(app, "ada@example.org", "grace@example.org")
    path = f"/admin/deliverability/suppressions/{entry}/clear"
    confirm = admin.get(path)
    assert "Clear the suppression of ada@example.org?" in _text(confirm)
    with app.app_context():
        assert db.session.get(MailSuppression, entry) is not None  # asking changed nothing
    token = csrf_of(admin, path)
    response = admin.post(path, data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/deliverability/suppressions")
    listed = admin.get(response.headers["Location"])
    assert "ada@example.org is off the suppression list" in _text(listed)
    assert _listed(listed) == ["grace@example.org"]
    with app.app_context():
        assert db.session.scalars(select(MailSuppression.id)).all() == [kept]
        audit = db.session.execute(select(AuditEvent.actor_email, AuditEvent.target)
                                   .where(AuditEvent.action == "suppression_clear")).all()
        assert audit == [("organiser@example.org", "ada@example.org")]


def test_clearing_without_the_csrf_token_changes_nothing(app, admin):
    entry, = _suppressed(app, "ada@example.org")
    path = f"/admin/deliverability/suppressions/{entry}/clear"
    for data in ({}, {"csrf_token": "forged"}):
        assert admin.post(path, data=data).status_code == 400
    with app.app_context():
        assert db.session.get(MailSuppression, entry) is not None
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "suppression_clear")) is None


def test_clearing_an_unknown_entry_is_a_404(app, admin):
    entry, = _suppressed(app, "ada@example.org")
    token = csrf_of(admin, PAGES[1])
    for path in (f"/admin/deliverability/suppressions/{entry + 1}/clear", "/admin/deliverability/suppressions/x/clear",
                 "/admin/deliverability/suppressions/99999999999999999999/clear"):
        assert admin.get(path).status_code == 404, path
        assert admin.post(path, data={"csrf_token": token}).status_code == 404, path
    with app.app_context():
        assert db.session.get(MailSuppression, entry) is not None


# --- The searched address stays on the page -------------------------------------------------


def test_admin_pages_are_never_counted_as_page_views(app):
    with app.test_request_context():
        assert count_page_view("/admin/deliverability/suppressions?q=ada%40example.org", None, True) is False
        assert db.session.scalar(select(db.func.count()).select_from(db.metadata.tables["page_view"])) == 0


def _fetch(url: str, referer: str, context=None) -> None:
    request = urllib.request.Request(url, headers={"Referer": referer})
    try:
        urllib.request.urlopen(request, timeout=30, context=context).close()
    except urllib.error.HTTPError:
        pass


def test_a_searched_address_stays_out_of_gunicorns_access_log(portal_server):
    server = portal_server()
    _fetch(f"{server.url}/admin/deliverability/suppressions?q=ada%40example.org",
           referer=f"{server.url}/admin/deliverability/suppressions?q=grace@example.org")
    log = wait_until(lambda: (lambda text: text if "/admin/login" in text else None)(server.output()),
                     message="access log line")
    assert "/admin/deliverability/suppressions?[query]" in log
    assert "ada" not in log and "grace" not in log


def test_a_searched_address_stays_out_of_the_proxys_access_log(https_portal, app):
    proxy = https_portal("proxy")
    _fetch(f"{proxy.url}/admin/deliverability/suppressions?q=ada%40example.org",
           referer=f"{proxy.url}/admin/deliverability/suppressions?q=grace@example.org",
           context=proxy.certificate.client_context())
    log = wait_until(lambda: (lambda text: text if "/admin/login" in text else None)(
        proxy.access_log.read_text() if proxy.access_log.exists() else ""), message="access log line")
    assert '"GET /admin/deliverability/suppressions?[query] HTTP/1.1" 302' in log
    assert "/admin/deliverability/suppressions?[query]" in log.split('" 302 ')[1]  # the Referer
    assert "ada" not in log and "grace" not in log


# --- HTML -------------------------------------------------------------------------------------


def test_the_pages_and_the_address_states_are_valid_html(app, admin, make_event, make_registration, tmp_path):
    today = utcnow().date()
    with app.app_context():
        _sent_mail(300, today)
        _events("complaint", 1, today)
        entry = _suppress("ada@example.org")
        db.session.commit()
    attendee = make_registration(make_event(), email="ada@example.org")
    documents = {
        "overview": admin.get(PAGES[0]),
        "list": admin.get(PAGES[1], query_string={"q": "ada@example.org"}),
        "refused-search": admin.get(PAGES[1], query_string={"q": "ada\x01"}),
        "clear": admin.get(f"/admin/deliverability/suppressions/{entry}/clear"),
        "attendee": admin.get(f"/admin/attendees/{attendee.id}"),
    }
    errors = vnu_errors({name: page.get_data(as_text=True) for name, page in documents.items()}, tmp_path)
    assert not any(errors.values()), {name: found for name, found in errors.items() if found}
