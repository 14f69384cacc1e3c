"""A local web site for link checks: /ok, /gone (404), /moved (301 to /ok), /no-head (405 to HEAD), /hang,
/elsewhere (302 to LinkSiteHandler.elsewhere) and /loop (302 to itself)."""
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LinkSiteHandler(BaseHTTPRequestHandler):
    seen_agents: list[str] = []
    #: Where /elsewhere redirects to (a test sets it).
    elsewhere = "/ok"

    def _answer(self, with_body: bool):
        LinkSiteHandler.seen_agents.append(self.headers.get("User-Agent", ""))
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
        elif self.path in ("/elsewhere", "/loop"):
            self.send_response(302)
            self.send_header("Location", LinkSiteHandler.elsewhere if self.path == "/elsewhere" else "/loop")
        elif self.path == "/no-head" and not with_body:
            self.send_response(405)
        elif self.path == "/no-head":
            self.send_response(200)
        elif self.path == "/hang":
            time.sleep(3)
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):  # noqa: N802
        self._answer(with_body=False)

    def do_GET(self):  # noqa: N802
        self._answer(with_body=True)

    def log_message(self, *args):
        pass


@contextmanager
def serve_link_site():
    """Yields the site's base URL; /hang answers after 3 seconds.

    The site is on loopback, which the link checker refuses: an app checking it
    needs RESOURCE_LINK_ALLOW_PRIVATE=LINK_SITE_NETWORKS.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), LinkSiteHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


#: What an app must allow to check the link site (and nothing else on loopback).
LINK_SITE_NETWORKS = ("127.0.0.1/32",)


class CountingListener:
    """A TCP listener that only counts the connections it is offered: one a test expects to get none."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0):
        self.connections = 0
        self._socket = socket.create_server((host, port))
        self._socket.settimeout(0.1)
        self.host, self.port = self._socket.getsockname()[:2]
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while self._running:
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def stop(self):
        self._running = False
        self._thread.join()
        self._socket.close()
