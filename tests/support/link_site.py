"""A local web site for link checks: /ok, /gone (404), /moved (301 to /ok), /no-head (405 to HEAD), /hang."""
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LinkSiteHandler(BaseHTTPRequestHandler):
    seen_agents: list[str] = []

    def _answer(self, with_body: bool):
        LinkSiteHandler.seen_agents.append(self.headers.get("User-Agent", ""))
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
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
    """Yields the site's base URL; /hang answers after 3 seconds."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), LinkSiteHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
