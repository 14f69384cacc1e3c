"""Events from a TOML or JSON file: every bad field named, one transaction, capacity changes that promote."""
import json
from pathlib import Path

import pytest

from portal.extensions import db
from portal.registration import service
from portal.registration.event_file import EventFileError, read_event_file
from tests.support.mail import outbox
from tests.support.registration import registrations

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "summit.example.toml"


def _write(tmp_path, text: str, name: str = "event.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _cli(app, *args, stdin=None):
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def test_the_shipped_example_describes_the_september_summit_in_washington():
    spec = read_event_file(EXAMPLE)
    assert [(day.date.month, day.date.day) for day in spec.days] == [(9, 23), (9, 24)]
    assert (spec.city, spec.region) == ("Washington", "DC")
    assert spec.registration_closes_at > spec.registration_opens_at


def test_every_bad_field_is_reported_with_its_place_and_reason(tmp_path):
    broken = EXAMPLE.read_text().replace('slug = "policy-summit-2027"', 'slug = "Policy Summit!"')
    broken = broken.replace("capacity = 300", "capacity = -3", 1).replace("fee = 95", 'fee = "free"')
    broken = broken.replace("ends_at = 15:00:00", "ends_at = 07:00:00")
    broken = broken.replace('timezone = "America/New_York"', 'timezone = "Mars/Olympus"')
    with pytest.raises(EventFileError) as excinfo:
        read_event_file(_write(tmp_path, broken))
    fields = [problem.split(":")[0] for problem in excinfo.value.problems]
    assert fields == ["slug", "timezone", "days[1].capacity", "days[2].ends_at", "categories[3].fee"]


def test_json_files_are_read_too(tmp_path):
    data = {
        "slug": "policy-workshop", "title": "Policy Workshop", "privacy_policy_version": "2027-01",
        "venue": {"name": "Hall", "address_line1": "1 Main St", "city": "Washington", "region": "DC",
                  "postal_code": "20001", "country": "United States"},
        "registration": {"opens_at": "2027-01-01T09:00", "closes_at": "2027-05-31T23:59"},
        "days": [{"date": "2027-06-01", "starts_at": "09:00", "ends_at": "12:00", "capacity": 40}],
        "categories": [{"code": "member", "label": "Member", "fee": "25.50"}],
    }
    spec = read_event_file(_write(tmp_path, json.dumps(data), "event.json"))
    assert spec.categories[0].fee_cents == 2550 and spec.capacity is None


def test_create_event_writes_the_whole_event_and_refuses_a_second_time(app):
    result = _cli(app, "create-event", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    with app.app_context():
        event = service.get_event("policy-summit-2027")
        assert [day.capacity for day in event.days] == [300, 300] and len(event.categories) == 6
    again = _cli(app, "create-event", str(EXAMPLE))
    assert again.exit_code == 1 and "exists already" in again.output


def test_a_bad_file_writes_nothing(app, tmp_path):
    result = _cli(app, "create-event", str(_write(tmp_path, EXAMPLE.read_text().replace("fee = 395", "fee = -1"))))
    assert result.exit_code == 1
    assert "categories[1].fee" in result.output and "nothing was written" in result.output
    with app.app_context(), pytest.raises(Exception):
        service.get_event("policy-summit-2027")


def test_raising_a_capacity_in_update_event_promotes_waiting_registrants(app, make_registration, tmp_path):
    small = EXAMPLE.read_text().replace("capacity = 300", "capacity = 1").replace("opens_at = 2027-03-01T09:00:00", "opens_at = 2026-01-01T09:00:00")
    assert _cli(app, "create-event", str(_write(tmp_path, small))).exit_code == 0
    make_registration("policy-summit-2027", email="holder@example.org")
    make_registration("policy-summit-2027", email="waiting@example.org")
    assert [r.status for r in registrations(app, "policy-summit-2027")] == ["confirmed", "waitlisted"]

    bigger = small.replace("capacity = 1", "capacity = 2")
    result = _cli(app, "update-event", str(_write(tmp_path, bigger, "bigger.toml")))
    assert result.exit_code == 0, result.output
    assert "1 waiting registrant(s) promoted" in result.output
    assert [r.status for r in registrations(app, "policy-summit-2027")] == ["confirmed", "confirmed"]
    assert [e.to for e in outbox(app, "registration_promoted")] == ["waiting@example.org"]


def test_update_event_refuses_to_remove_a_category_in_use(app, make_registration, tmp_path):
    open_now = EXAMPLE.read_text().replace("opens_at = 2027-03-01T09:00:00", "opens_at = 2026-01-01T09:00:00")
    assert _cli(app, "create-event", str(_write(tmp_path, open_now))).exit_code == 0
    make_registration("policy-summit-2027", email="member@example.org", category="member")
    without_members = open_now.replace('[[categories]]\ncode = "member"\nlabel = "Society member"\nfee = 395\n\n', "")
    result = _cli(app, "update-event", str(_write(tmp_path, without_members, "fewer.toml")))
    assert result.exit_code == 1 and "'member' is used by registrations" in result.output
    with app.app_context():
        assert len(service.get_event("policy-summit-2027").categories) == 6


def test_create_admin_reads_the_password_from_stdin_and_hashes_it(app):
    from portal.admin.service import find_admin

    result = _cli(app, "create-admin", "ops@example.org", "--password-stdin", stdin="a long passphrase\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = find_admin("OPS@example.org")
        assert admin.password_hash.startswith("$argon2id$") and admin.check_password("a long passphrase")
    assert _cli(app, "create-admin", "ops@example.org", "--password-stdin", stdin="a long passphrase\n").exit_code == 1


def test_create_admin_refuses_a_short_password(app):
    result = _cli(app, "create-admin", "ops@example.org", "--password-stdin", stdin="short\n")
    assert result.exit_code == 1 and "at least 12 characters" in result.output


def test_seed_catalog_loads_resources_only(app):
    from portal.admin.models import AdminUser
    from portal.registration.models import Event
    from portal.resources.models import Resource

    assert _cli(app, "seed-catalog").exit_code == 0
    with app.app_context():
        assert db.session.query(Resource).count() == 44
        assert db.session.query(Event).count() == 0 and db.session.query(AdminUser).count() == 0
