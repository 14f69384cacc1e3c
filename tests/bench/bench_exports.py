"""Admin benchmark: the dashboard and the attendee list stay fast, and 100,000 attendees export.

- The dashboard and a searched, filtered attendee list page, timed at 1,000 attendees and
  again at 100,000: goal <= 3x (grouped, indexed queries, no per-row work).
- CSV through the real view (login, CSRF, count, audit row, streaming cursor,
  formula-safe cells) against a plain csv.writer over the same rows from the same
  statement and cursor: time goal <= 1.5x, peak RSS increase <= 30 MiB, first byte
  <= 150 ms.
- XLSX through the real view against a standalone write-only openpyxl script
  appending the same rows: time goal <= 1.3x, peak RSS increase <= 100 MiB.

Each measurement runs in a forked child, so every peak RSS is its own.
"""
import csv
import io
import multiprocessing
import os
import tempfile
import time

from tests.bench import Row, bench_database, environ, progress

ATTENDEES = int(os.environ.get("BENCH_EXPORT_ATTENDEES", 100_000))
COLUMNS = ["code", "first_name", "last_name", "email", "organization", "job_title", "category", "status",
           "day_1", "day_2", "dietary", "accessibility", "registered_at"]
MIB = 1024 * 1024
#: The admin pages are timed at this many attendees first, then at ATTENDEES.
SMALL = 1_000


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _start_rss_window() -> int:
    """Reset the kernel's peak-RSS mark (Linux clear_refs 5); returns the RSS now, in bytes."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _status_kib("VmRSS") * 1024


def _peak_rss() -> int:
    return _status_kib("VmHWM") * 1024


def _in_child(measure, *args) -> dict:
    """Run `measure` in a forked process; returns its dict plus the peak RSS it added."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()

    def target():
        try:
            before = _start_rss_window()
            result = measure(*args)
            # A measure may set its own starting point (after logging in: argon2 alone takes 64 MiB).
            result["rss_increase"] = _peak_rss() - result.pop("rss_before", before)
            child.send(result)
        except BaseException as exc:  # the parent must hear about it, not wait forever
            child.send({"error": f"{type(exc).__name__}: {exc}"})
            raise

    process = context.Process(target=target)
    process.start()
    result = parent.recv()
    process.join()
    if "error" in result:
        raise RuntimeError(f"{measure.__name__} failed: {result['error']}")
    return result


def _fill(app, event_id: int, category_id: int, day_ids: list[int], first: int, last: int) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        db.session.execute(text("""
            INSERT INTO registration (event_id, code, first_name, last_name, email, email_key, organization,
                job_title, category_id, dietary, accessibility, privacy_policy_version, privacy_accepted_at,
                status, confirmed_at, token_version, created_at, updated_at)
            SELECT :event, upper(lpad(to_hex(g), 8, '0')), 'First' || g, 'Last' || g,
                   'person' || g || '@example.org', 'person' || g || '@example.org',
                   CASE WHEN g % 50 = 0 THEN '=HYPERLINK("x")' ELSE 'Organisation ' || (g % 997) END,
                   'Policy lead', :category, CASE WHEN g % 7 = 0 THEN 'vegetarian, no nuts' ELSE '' END, '',
                   'bench', now(), 'confirmed', now(), 1, now() - (g || ' seconds')::interval, now()
            FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g"""),
            {"event": event_id, "category": category_id, "first": first, "last": last})
        db.session.execute(text("""
            INSERT INTO registration_day (registration_id, event_day_id)
            SELECT r.id, d.id FROM registration r CROSS JOIN unnest(CAST(:days AS int[])) AS d(id)
            WHERE r.event_id = :event AND r.code >= upper(lpad(to_hex(CAST(:first AS int)), 8, '0'))
              AND r.code <= upper(lpad(to_hex(CAST(:last AS int)), 8, '0'))"""),
            {"event": event_id, "days": day_ids, "first": first, "last": last})
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def _page_times(app, slug: str) -> dict[str, float]:
    """Median time of the dashboard and of a filtered, searched attendee list page (5 runs each)."""
    import statistics

    from tests.support.admin import log_in

    client = app.test_client()
    log_in(client)
    pages = {"dashboard": f"/admin/?event={slug}",
             "attendee list": f"/admin/attendees?event={slug}&q=last4&status=confirmed&sort=last_name&page=2"}
    times = {}
    for name, path in pages.items():
        client.get(path)
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            samples.append(time.perf_counter() - started)
        times[name] = statistics.median(samples)
    return times


def _through_view(app, slug: str, file_format: str) -> dict:
    from tests.support.admin import csrf_of, log_in

    client = app.test_client()
    log_in(client)
    token = csrf_of(client, "/admin/exports")
    rss_before = _start_rss_window()
    started = time.perf_counter()
    response = client.post(f"/admin/exports/attendees?event={slug}",
                           data={"csrf_token": token, "file_format": file_format, "columns": COLUMNS, "sort": "oldest"})
    chunks = iter(response.response)
    first = next(chunks)
    first_byte = time.perf_counter() - started
    size = len(first) + sum(len(chunk) for chunk in chunks)
    response.close()
    return {"seconds": time.perf_counter() - started, "first_byte": first_byte, "bytes": size,
            "rss_before": rss_before}


def _statement(app, slug):
    from portal.admin.attendees import AttendeeFilter, attendee_query
    from portal.admin.exports import attendee_export_query
    from portal.registration.service import get_event

    event = get_event(slug)
    return attendee_export_query(event, attendee_query(event, AttendeeFilter(sort="oldest")), COLUMNS)


def _plain_csv(app, slug: str) -> dict:
    from portal.admin.exports import stream_rows

    with app.app_context():
        started = time.perf_counter()
        headers, statement = _statement(app, slug)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        size = 0
        for n, row in enumerate(stream_rows(statement), 1):
            writer.writerow(row)
            if n % 1000 == 0:
                size += len(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        size += len(buffer.getvalue().encode())
        return {"seconds": time.perf_counter() - started, "bytes": size}


def _plain_xlsx(app, slug: str) -> dict:
    from openpyxl import Workbook

    from portal.admin.exports import stream_rows

    with app.app_context(), tempfile.TemporaryFile() as target:
        started = time.perf_counter()
        headers, statement = _statement(app, slug)
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Attendees")
        sheet.append(headers)
        for row in stream_rows(statement):
            sheet.append(tuple(row))
        workbook.save(target)
        return {"seconds": time.perf_counter() - started, "bytes": target.tell()}


def run() -> list[Row]:
    from portal import create_app
    from portal.extensions import db
    from tests.support.admin import add_account
    from tests.support.events import build_event

    with bench_database("bench_exports") as url, tempfile.TemporaryDirectory() as instance:
        with environ({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": instance, "SECRET_KEY": "bench-exports-secret-key-of-32-bytes",
                      "REDIS_URL": "", "PORTAL_BASE_URL": "http://127.0.0.1:5000"}):
            app = create_app({"RATELIMIT_ENABLED": False})
            with app.app_context():
                db.create_all()
                event = build_event("bench-summit", day_capacity=ATTENDEES)
                db.session.add(event)
                db.session.commit()
                slug, event_id = event.slug, event.id
                category_id, day_ids = event.categories[0].id, [day.id for day in event.days]
            add_account(app)
            progress(f"   inserting {SMALL:,} attendees")
            _fill(app, event_id, category_id, day_ids, 1, SMALL)
            small_pages = _page_times(app, slug)
            progress(f"   inserting {ATTENDEES - SMALL:,} more")
            _fill(app, event_id, category_id, day_ids, SMALL + 1, ATTENDEES)
            large_pages = _page_times(app, slug)
            for page, seconds in large_pages.items():
                progress(f"   {page}: {small_pages[page] * 1000:.0f} ms at {SMALL:,}, {seconds * 1000:.0f} ms at {ATTENDEES:,}")
            with app.app_context():
                db.session.remove()
                db.engine.dispose()  # the forked children open their own connections
            results = {}
            for name, measure, file_format in (("plain csv", _plain_csv, None), ("view csv", _through_view, "csv"),
                                               ("plain xlsx", _plain_xlsx, None), ("view xlsx", _through_view, "xlsx")):
                args = (app, slug, file_format) if file_format else (app, slug)
                results[name] = _in_child(measure, *args)
                progress(f"   {name}: {results[name]['seconds']:.2f} s, {results[name]['bytes'] / MIB:.1f} MiB, "
                         f"peak RSS +{results[name]['rss_increase'] / MIB:.1f} MiB"
                         + (f", first byte {results[name]['first_byte'] * 1000:.0f} ms" if "first_byte" in results[name] else ""))
    csv_ratio = results["view csv"]["seconds"] / results["plain csv"]["seconds"]
    xlsx_ratio = results["view xlsx"]["seconds"] / results["plain xlsx"]["seconds"]
    csv_rss = results["view csv"]["rss_increase"] / MIB
    xlsx_rss = results["view xlsx"]["rss_increase"] / MIB
    first_byte_ms = results["view csv"]["first_byte"] * 1000
    page_rows = [
        Row("admin pages", f"{page} median ms at {ATTENDEES:,}", large_pages[page] * 1000, f"same page at {SMALL:,}",
            small_pages[page] * 1000, large_pages[page] / small_pages[page], "<= 3.00",
            large_pages[page] / small_pages[page] <= 3.0)
        for page in large_pages
    ]
    return page_rows + [
        Row("exports", f"CSV {ATTENDEES:,} rows time s", results["view csv"]["seconds"], "plain csv.writer, same cursor",
            results["plain csv"]["seconds"], csv_ratio, "<= 1.50", csv_ratio <= 1.5),
        Row("exports", "CSV peak RSS increase MiB", csv_rss, "budget 30 MiB", 30, csv_rss / 30, "<= 1.00", csv_rss <= 30),
        Row("exports", "CSV first byte ms", first_byte_ms, "budget 150 ms", 150, first_byte_ms / 150, "<= 1.00",
            first_byte_ms <= 150),
        Row("exports", f"XLSX {ATTENDEES:,} rows time s", results["view xlsx"]["seconds"], "standalone write-only openpyxl",
            results["plain xlsx"]["seconds"], xlsx_ratio, "<= 1.30", xlsx_ratio <= 1.3),
        Row("exports", "XLSX peak RSS increase MiB", xlsx_rss, "budget 100 MiB", 100, xlsx_rss / 100, "<= 1.00",
            xlsx_rss <= 100),
    ]
