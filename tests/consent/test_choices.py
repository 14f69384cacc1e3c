"""Consent through the server: one log row per decision, a signed cookie, and nothing optional without a yes."""
import pytest
from sqlalchemy import event, select

from portal.consent.models import ConsentEvent, PageView
from portal.consent.registry import CONSENT_COOKIE, LAST_FILTER_COOKIE, VISIT_COOKIE
from portal.extensions import db
from tests.support.web import csrf_token_from


def decide(client, action, categories=(), headers=None, next_path="/resources", **extra):
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    data = {"csrf_token": token, "action": action, "categories": list(categories), "next": next_path, **extra}
    return client.post("/consent", data=data, headers=headers or {})


def log(app) -> list[ConsentEvent]:
    with app.app_context():
        rows = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        db.session.expunge_all()
        return rows


def cookie(client, name):
    found = client.get_cookie(name)
    return found.value if found else None


def test_a_first_visit_sets_only_necessary_cookies_and_shows_the_banner(client):
    response = client.get("/")
    assert 'id="consent-banner"' in response.get_data(as_text=True)
    assert ' hidden' not in response.get_data(as_text=True).split('id="consent-banner"')[1].split(">")[0]
    set_cookies = {header.split("=")[0] for header in response.headers.getlist("Set-Cookie")}
    assert set_cookies <= {"session"}
    assert "analytics.js" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("action", "categories", "granted", "denied"),
    [
        ("accept_all", (), ["analytics", "preferences"], []),
        ("reject_all", ("analytics",), [], ["analytics", "preferences"]),
        ("custom", ("analytics",), ["analytics"], ["preferences"]),
    ],
)
def test_each_decision_appends_exactly_one_log_row_with_its_fields(app, client, action, categories, granted, denied):
    response = decide(client, action, categories, headers={"Accept-Language": "fr-CA,fr;q=0.8"})
    assert response.status_code == 303 and response.headers["Location"] == "/resources"
    [row] = log(app)
    assert (row.action, row.granted, row.denied, row.gpc, row.language) == (action, granted, denied, False, "fr-CA")
    assert row.policy_version == app.config["CONSENT_POLICY_VERSION"] and len(row.consent_id) == 36
    assert cookie(client, CONSENT_COOKIE)


def test_taking_a_category_back_is_logged_as_a_withdrawal_and_deletes_its_cookies(app, client):
    decide(client, "accept_all")
    client.set_cookie(VISIT_COOKIE, "1")
    client.set_cookie(LAST_FILTER_COOKIE, "journals|")
    response = decide(client, "custom", ["preferences"])
    deleted = [h for h in response.headers.getlist("Set-Cookie") if "Expires=Thu, 01 Jan 1970" in h]
    assert [h.split("=")[0] for h in deleted] == [VISIT_COOKIE]
    first, second = log(app)
    assert (second.action, second.granted, second.consent_id) == ("withdraw", ["preferences"], first.consent_id)


def test_gpc_is_recorded_from_the_header_and_from_the_script(app, client):
    decide(client, "reject_all", headers={"Sec-GPC": "1"})
    decide(client, "custom", ["analytics"], gpc="1")
    assert [row.gpc for row in log(app)] == [True, True]


def test_the_banner_says_a_gpc_signal_was_honoured(client):
    html = client.get("/", headers={"Sec-GPC": "1"}).get_data(as_text=True)
    assert "Global Privacy Control signal, and we honour it" in html


def test_a_tampered_consent_cookie_counts_as_no_choice(client):
    decide(client, "accept_all")
    value = cookie(client, CONSENT_COOKIE)
    client.set_cookie(CONSENT_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    html = client.get("/").get_data(as_text=True)
    assert ' hidden' not in html.split('id="consent-banner"')[1].split(">")[0]
    assert "analytics.js" not in html


def test_a_new_policy_version_asks_again(make_app):
    app = make_app()
    client = app.test_client()
    decide(client, "accept_all")
    assert "analytics.js" in client.get("/").get_data(as_text=True)
    app.config["CONSENT_POLICY_VERSION"] = "2099-01"
    html = client.get("/").get_data(as_text=True)
    assert "analytics.js" not in html
    assert ' hidden' not in html.split('id="consent-banner"')[1].split(">")[0]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "",
                                    "/\t/evil.example/x", "/\n/evil.example/x", " //evil.example/x",
                                    "\\/evil.example/x", "/\r\n/evil.example/x"])
def test_the_way_back_never_leaves_the_site(client, target):
    response = decide(client, "reject_all", next_path=target)
    assert response.headers["Location"] == "/"


def test_a_newline_in_the_way_back_is_dropped_as_a_browser_would_not_a_server_error(client):
    response = decide(client, "reject_all", next_path="/resources\r\nSet-Cookie: planted=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/resourcesSet-Cookie:%20planted=1"
    assert "planted" not in {header.split("=")[0] for header in response.headers.getlist("Set-Cookie")}


@pytest.mark.parametrize("fields", [{"action": "sell_my_data"}, {"action": "custom", "categories": ["necessary"]},
                                    {"action": "custom", "categories": ["tracking"]}])
def test_an_unknown_choice_is_refused_and_logs_nothing(app, client, fields):
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    response = client.post("/consent", data={"csrf_token": token, **fields})
    assert response.status_code == 400
    assert log(app) == []


def test_a_choice_without_its_csrf_token_is_refused(app, client):
    assert client.post("/consent", data={"action": "accept_all"}).status_code == 400
    assert log(app) == []


def test_the_script_gets_json_instead_of_a_redirect(client):
    response = decide(client, "custom", ["preferences"], headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["granted"] == ["preferences"]


@pytest.mark.services
def test_a_decision_commits_its_row_as_written_and_returns_its_connection_in_transaction_mode(app, client):
    with app.app_context():
        engine = db.engine
    statements, checked_in_autocommit = [], []
    # After the INSERT the server is already out of any transaction: the row was committed as written.
    event.listen(engine, "after_cursor_execute", lambda connection, cursor, statement, *rest: statements.append(
        (statement.split()[0], connection.connection.driver_connection.info.transaction_status.name)))
    event.listen(engine, "checkin", lambda dbapi_connection, record: checked_in_autocommit.append(
        dbapi_connection.autocommit))
    decide(client, "accept_all")
    assert statements[-1] == ("INSERT", "IDLE")
    [row] = log(app)
    assert row.action == "accept_all"
    assert checked_in_autocommit and not any(checked_in_autocommit)


def page_views(app) -> list[PageView]:
    with app.app_context():
        rows = db.session.scalars(select(PageView).order_by(PageView.id)).all()
        db.session.expunge_all()
        return rows


def test_page_views_are_counted_only_with_analytics_consent(app, client):
    beacon = {"path": "/resources?topic=journals", "referrer": "https://search.example/q?who=ada"}
    assert client.post("/consent/page-view", json=beacon).status_code == 204
    assert page_views(app) == []
    decide(client, "custom", ["analytics"])
    client.post("/consent/page-view", json=beacon)
    client.post("/consent/page-view", json={"path": "/", "referrer": None})
    first, second = page_views(app)
    assert (first.path, first.referrer_host, first.new_visit) == ("/resources", "search.example", True)
    assert (second.path, second.referrer_host, second.new_visit) == ("/", None, False)


def _personal_pages(app, make_event, make_registration) -> list[str]:
    """A manage page and a newsletter preference page, each at the address its email links to."""
    from portal.registration.tokens import make_manage_token
    from tests.support.newsletter import confirmed_subscriber, token_for

    registration = make_registration(make_event(), email="ada@example.org")
    subscriber_id = confirmed_subscriber(app, app.test_client(), email="bea@example.org")
    with app.app_context():
        manage = make_manage_token(registration.code, registration.token_version)
    return [f"/manage/{manage}", f"/newsletter/preferences/{token_for(app, 'newsletter-preferences', subscriber_id)}"]


def test_pages_reached_by_a_personal_link_never_load_the_counter(app, client, make_event, make_registration):
    decide(client, "accept_all")
    assert "analytics.js" in client.get("/resources").get_data(as_text=True)
    for path in _personal_pages(app, make_event, make_registration):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "analytics.js" not in page.get_data(as_text=True), path


def test_the_counter_stores_no_personal_link_and_no_path_the_portal_does_not_serve_publicly(
        app, client, make_event, make_registration):
    decide(client, "accept_all")
    slug = make_event()
    refused = [*_personal_pages(app, make_event, make_registration), "/manage/anything-at-all/cancel",
               "/newsletter/unsubscribe/x.y", "/verify/x.y", "/admin/set-password/x.y", "/admin/attendees",
               "/nowhere/at/all", "/static/js/analytics.js", "/consent/page-view", "/healthz", "/newsletter", ""]
    for path in refused:
        assert client.post("/consent/page-view", json={"path": path, "referrer": None}).status_code == 204, path
    assert page_views(app) == []
    for path in ("/", f"/events/{slug}/register?from=footer", "/newsletter/archive/", "/manage/lost-link"):
        client.post("/consent/page-view", json={"path": path, "referrer": None})
    assert [view.path for view in page_views(app)] == ["/", f"/events/{slug}/register", "/newsletter/archive/",
                                                      "/manage/lost-link"]


def test_a_misshapen_page_view_is_a_400_not_a_500(client):
    decide(client, "accept_all")
    assert client.post("/consent/page-view", json={"path": ["/"]}).status_code == 400


def test_the_log_is_append_only(app, client):
    decide(client, "accept_all")
    with app.app_context():
        row = db.session.scalar(select(ConsentEvent))
        row.action = "reject_all"
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(ConsentEvent)))
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()


def test_the_retention_purge_and_the_export(app, client):
    decide(client, "accept_all")
    decide(client, "reject_all")
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["consent", "export"])
    lines = exported.output.strip().splitlines()
    assert lines[0].startswith("consent_id,created_at") and len(lines) == 3
    assert ",withdraw," in lines[2]
    assert runner.invoke(args=["consent", "purge", "--older-than-days", "30"]).output.startswith("Deleted 0")
    assert len(log(app)) == 2


def test_the_cookie_policy_lists_every_registered_cookie_and_script(client):
    from portal.consent.registry import ITEMS

    html = client.get("/cookies").get_data(as_text=True)
    for item in ITEMS:
        assert f"<code>{item.name}</code>" in html


def test_the_catalog_offers_the_last_filter_only_with_preferences_consent(seeded):
    client = seeded.test_client()
    client.get("/resources?topic=journals")
    assert cookie(client, LAST_FILTER_COOKIE) is None
    decide(client, "custom", ["preferences"])
    client.get("/resources?topic=journals")
    assert cookie(client, LAST_FILTER_COOKIE) == "journals|"
    html = client.get("/resources").get_data(as_text=True)
    assert 'id="last-filter"' in html and "Journals" in html.split('id="last-filter"')[1][:200]
