"""Newsletter benchmark: what a signup costs against a registration, and whether timing tells who is subscribed.

Everything runs through the same Flask app in this process, on a PostgreSQL
database of its own (filesystem broker: publishing a task writes one file,
for both sides alike), rate limits off, alternating in rounds so the
machine's load affects every side alike. No worker runs: requests only write
their rows and publish their tasks, which is what a visitor waits for.

1. Signup POST (CSRF, validation, one request row, one task) against the
   registration POST (CSRF, validation, event lock, seat count, insert, one
   request row naming its email, one task): goal >= 2x its throughput.
2. Enumeration by timing, medians of ROUNDS x PER_ROUND requests each,
   interleaved one by one: a signup for a confirmed, a pending and a new
   address; "email me my link" for a known and an unknown address;
   registration's "lost my link" for a registered and an unknown address; and
   the registration POST itself for a new and an already registered address.
   Goal: the slowest median within 10% of the fastest.
"""
import re
import statistics
import tempfile
import time
from itertools import count

from tests.bench import Row, bench_database, environ, progress

ROUNDS = 5
PER_ROUND = 120
THROUGHPUT_PER_ROUND = 150


def _csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _timed(send) -> float:
    started = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - started
    assert response.status_code == 303, response.status_code
    return elapsed


def _rate(send, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        assert send().status_code == 303
    return n / (time.perf_counter() - started)


def _setup(app):
    from portal.extensions import db
    from portal.deferred import service as deferred
    from portal.deferred.models import DeferredRequest
    from portal.newsletter import intake, service
    from portal.newsletter.models import SignupSource, Subscriber
    from portal.resources.service import seed_resources
    from portal.registration.service import AttendeeDetails, register_attendee
    from tests.support.events import build_event

    with app.app_context(), app.test_request_context():
        db.create_all()
        seed_resources()
        event = build_event("bench-summit", day_capacity=1_000_000)
        db.session.add(event)
        db.session.commit()
        slug = event.slug
        everything = service.Preferences.everything()
        for email in ("confirmed@example.org", "pending@example.org"):
            intake.request_signup(email, "", everything, SignupSource.PAGE)
        db.session.commit()
        for request_id in list(db.session.scalars(db.select(DeferredRequest.id))):
            deferred.handle_request(request_id)
        confirmed = db.session.scalar(db.select(Subscriber).where(Subscriber.email == "confirmed@example.org"))
        service.confirm_subscription(confirmed)
        register_attendee(event, AttendeeDetails("Reg", "Istered", "registered@example.org", "Org", "Job",
                                                 event.categories[0].code, (1,), "", ""))
        db.session.commit()
        db.session.info.clear()  # no worker runs: nothing is published
    return slug


def run() -> list[Row]:
    from portal import create_app
    from portal.extensions import db

    with bench_database("bench_newsletter") as url, tempfile.TemporaryDirectory() as instance:
        with environ({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": instance, "SECRET_KEY": "bench-newsletter-secret-key-of-32-bytes",
                      "REDIS_URL": "", "PORTAL_BASE_URL": "http://127.0.0.1:5000"}):
            app = create_app({"RATELIMIT_ENABLED": False})
            slug = _setup(app)
            client = app.test_client()
            signup_csrf = _csrf(client, "/newsletter/")
            register_csrf = _csrf(client, f"/events/{slug}/register")
            manage_csrf = _csrf(client, "/newsletter/manage")
            lost_csrf = _csrf(client, "/manage/lost-link")
            numbers = count()

            def signup(email=None):
                email = email or f"new{next(numbers)}@example.org"
                return lambda: client.post("/newsletter/", data={
                    "csrf_token": signup_csrf, "email": email, "first_name": "", "frequency": "monthly",
                    "topics": ["events", "regulatory"]})

            def register(email=None):
                n = next(numbers)
                return client.post(f"/events/{slug}/register", data={
                    "csrf_token": register_csrf, "first_name": "Bench", "last_name": f"N{n}",
                    "email": email or f"reg{n}@example.org", "organization": "Bench", "job_title": "Tester",
                    "category": "member", "days": "all", "privacy": "y", "confirm": "yes"})

            def magic(email):
                return lambda: client.post("/newsletter/manage", data={"csrf_token": manage_csrf, "email": email})

            def lost(email):
                return lambda: client.post("/manage/lost-link", data={"csrf_token": lost_csrf, "email": email})

            # Warm-up: every path once or more, so no first-call cost lands in a measurement.
            for _ in range(30):
                signup()()
                register()
                magic("confirmed@example.org")()
                lost("registered@example.org")()

            signup_rates, register_rates = [], []
            latency = {name: [] for name in ("signup confirmed", "signup pending", "signup new", "magic known",
                                             "magic unknown", "lost known", "lost unknown", "register new",
                                             "register existing")}
            for round_number in range(ROUNDS):
                register_rates.append(_rate(register, THROUGHPUT_PER_ROUND))
                signup_rates.append(_rate(lambda: signup()(), THROUGHPUT_PER_ROUND))
                for _ in range(PER_ROUND):
                    latency["signup confirmed"].append(_timed(signup("confirmed@example.org")))
                    latency["signup pending"].append(_timed(signup("pending@example.org")))
                    latency["signup new"].append(_timed(signup()))
                    latency["magic known"].append(_timed(magic("confirmed@example.org")))
                    latency["magic unknown"].append(_timed(magic(f"nobody{next(numbers)}@example.org")))
                    latency["lost known"].append(_timed(lost("registered@example.org")))
                    latency["lost unknown"].append(_timed(lost(f"nobody{next(numbers)}@example.org")))
                    latency["register new"].append(_timed(register))
                    latency["register existing"].append(_timed(lambda: register("registered@example.org")))
                progress(f"   round {round_number + 1}: signup {signup_rates[-1]:.0f}/s, "
                         f"registration {register_rates[-1]:.0f}/s")
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    medians = {name: statistics.median(values) * 1000 for name, values in latency.items()}
    for name, value in medians.items():
        progress(f"   median {name}: {value:.2f} ms")
    rows = [Row.at_least("newsletter", "signup POST req/s", statistics.median(signup_rates),
                         "registration POST, same app", statistics.median(register_rates), 2.0)]
    for group in (("signup confirmed", "signup pending", "signup new"), ("magic known", "magic unknown"),
                  ("lost known", "lost unknown"), ("register new", "register existing")):
        values = [medians[name] for name in group]
        spread = max(values) / min(values)
        rows.append(Row("newsletter", f"median ms, slowest of {' / '.join(group)}", max(values),
                        "fastest of them", min(values), spread, "<= 1.10", spread <= 1.10))
    return rows
