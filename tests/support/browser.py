"""Headless Debian Chromium driven by Playwright, with nothing allowed to leave loopback."""
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class PageWatch:
    """Records console errors and any request that would leave the machine (and blocks it)."""

    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        self.external_requests: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        page.route("**/*", self._route)

    def _on_console(self, message):
        if message.type == "error":
            self.console_errors.append(message.text)

    def _route(self, route):
        url = route.request.url
        scheme = urlsplit(url).scheme
        if scheme in {"data", "blob", "about"} or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort()


def watched_page(browser):
    """Yield a page in a fresh context of `browser`, watched by PageWatch; the context closes after."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.watch = PageWatch(page)
    yield page
    context.close()
