"""Consent benchmark: what a choice costs the server, and what the banner costs a page.

- Consent POST (CSRF check, form, one log INSERT, signed cookie, commit) against a bare
  POST on the same app that only INSERTs one row and commits: goal >= 0.80 of its
  throughput. Both run through the same Flask stack in this process, on PostgreSQL,
  alternating in rounds so load on the machine affects both alike.
- The banner's bytes on the wire (gzip): its script, its CSS rules and its HTML, against
  a 15 KB budget.
"""
import gzip
import re
import tempfile
import time
from pathlib import Path

from tests.bench import Row, bench_database, environ, progress

ROUNDS = 5
REQUESTS_PER_ROUND = 400
BUDGET_BYTES = 15 * 1024
ROOT = Path(__file__).resolve().parents[2]


def _gzip_size(text: str) -> int:
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9))


def _bare_insert_view():
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text("INSERT INTO bench_bare_post (note) VALUES ('x')"))
    db.session.commit()
    return "", 204


def _time(client, send, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        response = send(client)
        assert response.status_code in (204, 303), response.status_code
    return count / (time.perf_counter() - started)


def run() -> list[Row]:
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import csrf, db

    with bench_database("bench_consent") as url, tempfile.TemporaryDirectory() as instance:
        with environ({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": instance, "SECRET_KEY": "bench-consent",
                      "REDIS_URL": "", "PORTAL_BASE_URL": "http://127.0.0.1:5000"}):
            app = create_app({"RATELIMIT_ENABLED": False})
            app.add_url_rule("/bench/bare-post", "bench_bare_post", csrf.exempt(_bare_insert_view), methods=["POST"])
            with app.app_context():
                db.create_all()
                db.session.execute(text("CREATE TABLE bench_bare_post (id bigserial PRIMARY KEY, note text)"))
                db.session.commit()
            client = app.test_client()
            page = client.get("/").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            form = {"csrf_token": token, "action": "custom", "categories": "analytics", "next": "/"}

            def consent_post(c):
                return c.post("/consent", data=form)

            def bare_post(c):
                return c.post("/bench/bare-post", data={"note": "x"})

            _time(client, consent_post, 100)
            _time(client, bare_post, 100)
            consent_rates, bare_rates = [], []
            for round_number in range(ROUNDS):
                bare_rates.append(_time(client, bare_post, REQUESTS_PER_ROUND))
                consent_rates.append(_time(client, consent_post, REQUESTS_PER_ROUND))
                progress(f"   round {round_number + 1}: consent {consent_rates[-1]:.0f}/s, bare {bare_rates[-1]:.0f}/s")
            consent_rate = sorted(consent_rates)[ROUNDS // 2]
            bare_rate = sorted(bare_rates)[ROUNDS // 2]

            banner_html = page[page.index('<section class="consent"'):page.index("</section>", page.index('<section class="consent"')) + 10]
            css = (ROOT / "portal/static/css/site.css").read_text()
            consent_css = css[css.index("/* Cookie consent:"):]
            script = (ROOT / "portal/static/js/consent.js").read_text()
            banner_bytes = _gzip_size(banner_html) + _gzip_size(consent_css) + _gzip_size(script)
            progress(f"   banner: html {_gzip_size(banner_html)} B, css {_gzip_size(consent_css)} B, "
                     f"js {_gzip_size(script)} B (gzip)")
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    size_ratio = banner_bytes / BUDGET_BYTES
    return [
        Row.at_least("consent", "POST throughput req/s", consent_rate, "bare one-row INSERT POST, same app",
                     bare_rate, 0.80),
        Row("consent", "banner bytes (gzip)", banner_bytes, "budget 15 KB", BUDGET_BYTES, size_ratio, "<= 1.00",
            size_ratio <= 1.0),
    ]
