import requests


def test_live_server_answers_health_check(live_server):
    response = requests.get(live_server.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["database"]["ok"] is True
