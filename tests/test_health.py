"""/healthz reports 200 only when both the database and the broker can be used."""
from tests.support.smtp import free_port


def test_healthz_is_200_with_json_when_database_and_broker_are_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": {"ok": True, "detail": "ok"},
        "broker": {"ok": True, "detail": "ok"},
        # No worker or beat runs here: reported, but the web process still serves.
        "background": "degraded",
        "workers": {"transactional": {"state": "missing", "age_seconds": None},
                    "bulk": {"state": "missing", "age_seconds": None}},
        "beat": {"state": "missing", "age_seconds": None},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_broker_is_down(portal_env, make_app):
    portal_env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = make_app().test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["broker"] == {"ok": False, "detail": "unavailable"}
    assert response.json["database"]["ok"] is True


def test_healthz_is_503_when_the_database_is_unreachable(portal_env, make_app):
    portal_env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/portal"  # nothing listens
    response = make_app().test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"] == {"ok": False, "detail": "unavailable"}
    assert response.json["broker"]["ok"] is True
