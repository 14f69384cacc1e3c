"""Consent benchmark: what a choice costs the server, and what the banner costs a page.

- Consent POST (CSRF check, form, one log INSERT committed as it is written, signed
  cookie) against a bare POST on the same server that only INSERTs one row and commits
  it the ordinary way (BEGIN, INSERT, COMMIT): goal >= 0.80 of its throughput. One
  gunicorn (2 sync workers, like the registration benchmark) serves the portal with
  the bare routes added (tests/bench/consent_app.py), on PostgreSQL; wrk sends the
  same POST over keep-alive connections, in rounds that put consent between the
  baselines, which take turns going first, so load on the machine and its drift
  affect all alike. Every consent POST comes from a returning visitor (session and
  consent cookies sent), the costlier case: the previous choice is read and
  verified before the new one is logged and signed. For reference, not as a goal,
  consent is also compared with a bare INSERT that is committed as written too.
- The banner's bytes on the wire (gzip): its script, its CSS rules and its HTML, against
  a 15 KB budget.
"""
import gzip
import re
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.bench import Row, bench_database, environ, progress

ROUNDS = 7
ROUND_SECONDS = 4
CONNECTIONS = 4
BUDGET_BYTES = 15 * 1024
ROOT = Path(__file__).resolve().parents[2]
LUA_SCRIPT = Path(__file__).resolve().parent / "form_post.lua"


def _gzip_size(text: str) -> int:
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9))


def _returning_visitor(server_url: str) -> tuple[str, str, str]:
    """GET the home page, then decide once: the Cookie header, the form body, and the page."""
    with urllib.request.urlopen(server_url + "/", timeout=10) as response:
        page = response.read().decode()
        cookies = dict(header.split(";", 1)[0].split("=", 1) for header in response.headers.get_all("Set-Cookie"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "action": "custom", "categories": "analytics", "next": "/"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(
        server_url + "/consent", data=body.encode(), method="POST",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as answer:  # the 303 arrives as an "error" without redirect handling
        if answer.code != 303:
            raise
        for header in answer.headers.get_all("Set-Cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            cookies[name] = value
    return "; ".join(f"{k}={v}" for k, v in cookies.items()), body, page


def _wrk_rate(server_url: str, path: str, body: str, cookie: str) -> float:
    """Requests per second over ROUND_SECONDS; any answer but 2xx/3xx or any socket error fails the run."""
    output = subprocess.run(
        ["wrk", "-t", "1", "-c", str(CONNECTIONS), "-d", f"{ROUND_SECONDS}s", "-s", str(LUA_SCRIPT),
         server_url, "--", path, body, cookie],
        capture_output=True, text=True, check=True, timeout=ROUND_SECONDS + 60,
    ).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests on {path}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def run() -> list[Row]:
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db
    from tests.bench.bench_registration import Gunicorn
    from tests.bench.consent_app import BARE_AUTOCOMMIT_PATH, BARE_PATH, BARE_TABLE_DDL

    with bench_database("bench_consent") as url, tempfile.TemporaryDirectory() as instance:
        env = {"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": instance, "SECRET_KEY": "bench-consent-secret-key-of-32-bytes",
               "REDIS_URL": "", "RATELIMIT_ENABLED": "0", "PORTAL_BASE_URL": "http://127.0.0.1:5000"}
        with environ(env):
            app = create_app()
            with app.app_context():
                db.create_all()
                db.session.execute(text(BARE_TABLE_DDL))
                db.session.commit()
                db.session.remove()
                db.engine.dispose()
        server = Gunicorn("consent", "tests.bench.consent_app:create_bench_app()", env, Path(instance))
        try:
            server.wait_ready()
            cookie, body, page = _returning_visitor(server.url)
            routes = {"consent": ("/consent", body), "bare": (BARE_PATH, "note=x"),
                      "reference": (BARE_AUTOCOMMIT_PATH, "note=x")}
            for path, form in routes.values():  # warm-up: every worker, every route
                _wrk_rate(server.url, path, form, cookie)
            rates = {name: [] for name in routes}
            for round_number in range(ROUNDS):
                # Rates drift as the run goes on (the machine's other load, the tables
                # growing). Consent goes in the middle and the baselines take turns
                # going first, which cancels a steady drift that would otherwise always
                # count against whichever is measured later.
                order = ["bare", "consent", "reference"] if round_number % 2 == 0 else ["reference", "consent", "bare"]
                for name in order:
                    rates[name].append(_wrk_rate(server.url, *routes[name], cookie))
                progress(f"   round {round_number + 1}: " + ", ".join(f"{name} {rates[name][-1]:.0f}/s" for name in routes))
        finally:
            server.stop()
    consent_rate, bare_rate, reference_rate = (sorted(rates[name])[ROUNDS // 2] for name in routes)
    # Not a goal: the same comparison against a bare INSERT that also skips BEGIN and COMMIT.
    progress(f"   reference: consent / bare INSERT committed as written = {consent_rate / reference_rate:.2f}")

    banner_start = page.index('<section class="consent"')
    banner_html = page[banner_start:page.index("</section>", banner_start) + 10]
    css = (ROOT / "portal/static/css/site.css").read_text()
    consent_css = css[css.index("/* Cookie consent:"):]
    script = (ROOT / "portal/static/js/consent.js").read_text()
    banner_bytes = _gzip_size(banner_html) + _gzip_size(consent_css) + _gzip_size(script)
    progress(f"   banner: html {_gzip_size(banner_html)} B, css {_gzip_size(consent_css)} B, "
             f"js {_gzip_size(script)} B (gzip)")
    size_ratio = banner_bytes / BUDGET_BYTES
    return [
        Row.at_least("consent", "POST throughput req/s (gunicorn, wrk)", consent_rate,
                     "bare INSERT POST in BEGIN/COMMIT, same server", bare_rate, 0.80),
        Row("consent", "banner bytes (gzip)", banner_bytes, "budget 15 KB", BUDGET_BYTES, size_ratio, "<= 1.00",
            size_ratio <= 1.0),
    ]
