"""Request bodies over MAX_CONTENT_LENGTH get 413, declared or chunked, and nothing is written."""
import http.client
from urllib.parse import urlsplit

from tests.support.deferred import decide_requests
from tests.support.web import csrf_token_from


def _chunked_post(url: str, path: str, body: bytes, cookie: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Cookie", cookie)
        connection.endheaders()
        for start in range(0, len(body), 65536):
            piece = body[start:start + 65536]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    finally:
        connection.close()


def _session(url: str) -> tuple[str, str]:
    import urllib.request

    with urllib.request.urlopen(url + "/newsletter/manage", timeout=30) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        return cookie, csrf_token_from(response.read().decode())


def test_a_chunked_body_over_the_limit_gets_413_and_writes_nothing(make_app, portal_server):
    app = make_app()
    server = portal_server()
    cookie, csrf = _session(server.url)
    padding = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    body = b"csrf_token=" + csrf.encode() + b"&padding=" + padding + b"&email=ada%40example.org"
    assert _chunked_post(server.url, "/newsletter/manage", body, cookie) == 413
    assert decide_requests(app) == []


def test_a_chunked_body_within_the_limit_is_read_whole(make_app, portal_server):
    app = make_app()
    server = portal_server()
    cookie, csrf = _session(server.url)
    body = b"csrf_token=" + csrf.encode() + b"&padding=" + b"x" * 200_000 + b"&email=ada%40example.org"
    assert _chunked_post(server.url, "/newsletter/manage", body, cookie) == 303
    assert decide_requests(app) == ["unknown"]


def test_a_declared_body_over_the_limit_gets_413(client, app):
    response = client.post("/newsletter/manage", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
