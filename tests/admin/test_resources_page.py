"""The resources page: the catalog with its link checks, and entries added, edited, featured and retired."""
import re

from sqlalchemy import func, select, update

from portal.admin.models import AuditEvent
from portal.database import utcnow
from portal.extensions import db
from portal.resources.models import Resource
from tests.support.admin import csrf_of
from tests.support.web import page_text

NEW_ENTRY = {
    "slug": "cell-therapy-primer",
    "title": "A primer on cell therapy manufacturing",
    "organization": "Example Society",
    "kind": "journal",
    "year": "2025",
    "url": "https://example.org/primer",
    "summary": "Plain words on how cell therapies are made.\r\nWritten for newcomers.",
    "topics": ["regulatory", "policy"],
    "featured": "y",
}


def _first_resource(app) -> tuple[int, str, str]:
    with app.app_context():
        resource = db.session.scalar(select(Resource).order_by(Resource.position).limit(1))
        return resource.id, resource.slug, resource.title


def _resource(app, **where) -> Resource | None:
    with app.app_context():
        query = select(Resource)
        for name, value in where.items():
            query = query.where(getattr(Resource, name) == value)
        found = db.session.scalar(query)
        if found is not None:
            found.topic_slugs = [topic.slug for topic in found.topics]
        db.session.expunge_all()
        return found


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Resource))


def _audit(app) -> list[tuple[str, str, dict]]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent.action, AuditEvent.target, AuditEvent.detail)
                                  .where(AuditEvent.action.like("resource%")).order_by(AuditEvent.id))
        return [tuple(row) for row in rows]


def _row(page, resource_id: int) -> str:
    """The text of the list's row for one entry."""
    html = page.get_data(as_text=True)
    link = f'href="/admin/resources/{resource_id}/edit"'
    start = html.rindex("<tr", 0, html.index(link))
    row = html[start: html.index("</tr>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def _press(client, resource_id: int, action: str, show: str = "all"):
    token = csrf_of(client, "/admin/resources")
    return client.post(f"/admin/resources/{resource_id}", data={"csrf_token": token, "action": action, "show": show},
                       follow_redirects=True)


def _add(client, **changes):
    token = csrf_of(client, "/admin/resources/new")
    return client.post("/admin/resources/new", data={"csrf_token": token, **NEW_ENTRY, **changes})


def test_staff_get_403_on_every_resources_page_and_button(seeded, staff_client):
    resource_id, _, _ = _first_resource(seeded)
    for path in ("/admin/resources", "/admin/resources/new", f"/admin/resources/{resource_id}/edit"):
        assert staff_client.get(path).status_code == 403, path
    token = csrf_of(staff_client, "/admin/")
    for path, data in (("/admin/resources/new", NEW_ENTRY), (f"/admin/resources/{resource_id}/edit", NEW_ENTRY),
                       (f"/admin/resources/{resource_id}", {"action": "retire"})):
        assert staff_client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert _resource(seeded, slug=NEW_ENTRY["slug"]) is None
    assert _resource(seeded, id=resource_id).retired_at is None


def test_an_added_entry_is_saved_audited_and_shown_on_the_public_page(seeded, admin_client):
    response = _add(admin_client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/resources")
    added = _resource(seeded, slug=NEW_ENTRY["slug"])
    assert (added.title, added.year, added.url, added.featured) == (NEW_ENTRY["title"], 2025, NEW_ENTRY["url"], True)
    assert added.summary == "Plain words on how cell therapies are made. Written for newcomers."
    assert added.topic_slugs == ["regulatory", "policy"]
    assert _audit(seeded) == [("resource_add", NEW_ENTRY["slug"], {"title": NEW_ENTRY["title"]})]
    assert NEW_ENTRY["title"] in page_text(admin_client.get("/admin/resources"))
    assert NEW_ENTRY["title"] in page_text(seeded.test_client().get("/resources"))


def test_a_bad_url_and_a_missing_title_are_errors_at_their_fields_and_nothing_is_written(seeded, admin_client):
    before = _count(seeded)
    response = _add(admin_client, title="  ", url="example.org/primer")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    title_error = re.search(r'id="title-error">(.*?)</p>', html).group(1)
    url_error = re.search(r'id="url-error">(.*?)</p>', html).group(1)
    assert "Title is missing." in title_error
    assert "URL must be a full http(s):// address." in url_error
    assert 'id="slug-error"' not in html and 'id="summary-error"' not in html
    assert _count(seeded) == before
    assert _resource(seeded, slug=NEW_ENTRY["slug"]) is None
    assert _audit(seeded) == []


def test_a_slug_already_in_the_catalog_cannot_be_added_again(seeded, admin_client):
    resource_id, slug, title = _first_resource(seeded)
    response = _add(admin_client, slug=slug)
    assert response.status_code == 400
    assert "Another entry has this slug already" in page_text(response)
    assert _resource(seeded, id=resource_id).title == title
    assert _audit(seeded) == []


def test_editing_keeps_the_slug_and_audits_the_changed_fields(seeded, admin_client):
    resource_id, slug, _ = _first_resource(seeded)
    path = f"/admin/resources/{resource_id}/edit"
    form = admin_client.get(path).get_data(as_text=True)
    assert f'id="slug" name="slug" readonly type="text" value="{slug}"' in form
    current = _resource(seeded, id=resource_id)
    data = {"csrf_token": csrf_of(admin_client, path), "slug": "a-new-slug", "title": "A clearer title",
            "organization": current.organization or "", "kind": current.kind,
            "year": "" if current.year is None else str(current.year), "url": current.url or "",
            "summary": current.summary, "topics": current.topic_slugs}
    assert admin_client.post(path, data=data).status_code == 303
    edited = _resource(seeded, id=resource_id)
    assert (edited.slug, edited.title) == (slug, "A clearer title")
    assert _resource(seeded, slug="a-new-slug") is None
    assert _audit(seeded) == [("resource_edit", slug, {"fields": ["title"]})]


def test_featuring_and_unfeaturing_change_the_row_and_are_audited(seeded, admin_client):
    resource_id, slug, title = _first_resource(seeded)
    featured = _press(admin_client, resource_id, "feature")
    assert f"“{title}” is featured." in page_text(featured)
    assert "Yes Live" in _row(featured, resource_id) and "Unfeature" in _row(featured, resource_id)
    assert _resource(seeded, id=resource_id).featured is True
    plain = _press(admin_client, resource_id, "unfeature")
    assert "No Live" in _row(plain, resource_id) and "Feature" in _row(plain, resource_id)
    assert _resource(seeded, id=resource_id).featured is False
    assert [(action, target) for action, target, _ in _audit(seeded)] == [
        ("resource_feature", slug), ("resource_unfeature", slug)]


def test_retiring_takes_an_entry_off_the_public_page_and_restoring_brings_it_back(seeded, admin_client):
    resource_id, slug, title = _first_resource(seeded)
    public = seeded.test_client()
    retired = _press(admin_client, resource_id, "retire")
    assert "Retired" in _row(retired, resource_id) and "Restore" in _row(retired, resource_id)
    assert _resource(seeded, id=resource_id).retired_at is not None
    assert title not in page_text(public.get("/resources"))
    listed = admin_client.get("/admin/resources?show=retired")
    assert "1 entry" in page_text(listed) and title in page_text(listed)
    restored = _press(admin_client, resource_id, "restore", show="retired")
    assert "No entries here." in page_text(restored)
    assert "Live" in _row(admin_client.get("/admin/resources"), resource_id)
    assert _resource(seeded, id=resource_id).retired_at is None
    assert title in page_text(public.get("/resources"))
    assert [(action, target) for action, target, _ in _audit(seeded)] == [
        ("resource_retire", slug), ("resource_restore", slug)]


def test_a_broken_link_is_flagged_on_the_list_and_found_by_the_filter(seeded, admin_client):
    with seeded.app_context():
        first, second, third = db.session.scalars(
            select(Resource.id).where(Resource.url.is_not(None)).order_by(Resource.position).limit(3)).all()
        checked = utcnow()
        db.session.execute(update(Resource).where(Resource.id == first)
                           .values(link_checked_at=checked, link_status=404))
        db.session.execute(update(Resource).where(Resource.id == second)
                           .values(link_checked_at=checked, link_status=None, link_error="timed out"))
        db.session.execute(update(Resource).where(Resource.id == third)
                           .values(link_checked_at=checked, link_status=200))
        db.session.commit()
    page = admin_client.get("/admin/resources")
    assert "Broken link" in _row(page, first) and "HTTP 404" in _row(page, first)
    assert "Broken link" in _row(page, second) and "no answer (timed out)" in _row(page, second)
    assert "Broken link" not in _row(page, third) and "HTTP 200" in _row(page, third)
    assert "Broken links (2)" in page_text(page)
    broken = admin_client.get("/admin/resources?show=broken")
    assert "2 entries" in page_text(broken)
    assert f"/admin/resources/{third}/edit" not in broken.get_data(as_text=True)


def test_an_unknown_entry_is_404(seeded, admin_client):
    token = csrf_of(admin_client, "/admin/resources")
    assert admin_client.get("/admin/resources/999999/edit").status_code == 404
    pressed = admin_client.post("/admin/resources/999999", data={"csrf_token": token, "action": "retire"})
    assert pressed.status_code == 404


def test_a_tampered_button_is_refused_with_400(seeded, admin_client):
    resource_id, _, _ = _first_resource(seeded)
    token = csrf_of(admin_client, "/admin/resources")
    assert admin_client.post(f"/admin/resources/{resource_id}",
                             data={"csrf_token": token, "action": "delete"}).status_code == 400
    assert _audit(seeded) == []


def test_an_address_that_is_not_public_is_an_error_at_its_field_and_nothing_is_written(seeded, admin_client):
    before = _count(seeded)
    for url in ("http://127.0.0.1:5432/", "http://localhost:6379/", "http://[::ffff:10.0.0.1]/",
                "http://169.254.169.254/latest/meta-data/"):
        response = _add(admin_client, url=url)
        assert response.status_code == 400, url
        url_error = re.search(r'id="url-error">(.*?)</p>', response.get_data(as_text=True)).group(1)
        assert "URL must be an address on the public internet, not a local or private one." in url_error, url
    assert _count(seeded) == before and _audit(seeded) == []
