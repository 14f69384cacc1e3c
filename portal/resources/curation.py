"""Changing the catalog: admins add, edit, feature and retire entries; files import many at once.

Every entry goes through `parse_entry`, which returns the problems it finds
(field and reason) instead of raising on the first, so a file import reports
every bad row with its line and writes nothing unless all rows are good.
"""
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.resources.addresses import allowed_networks, url_problem
from portal.resources.models import Resource, Topic

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
FIELDS = ("slug", "title", "organization", "kind", "year", "url", "summary", "topics", "featured", "added")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class CatalogChangeRefused(Exception):
    """Nothing was written; `problems` lists each bad field as "where: what is wrong"."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ResourceEntry:
    slug: str
    title: str
    organization: str | None
    kind: str
    year: int | None
    url: str | None
    summary: str
    topics: tuple[str, ...]
    featured: bool | None = None
    added: date | None = None


def parse_entry(raw: dict, known_topics: set[str], where: str) -> tuple[ResourceEntry | None, list[str]]:
    """Check one entry (a dict of strings or JSON values); returns it, or None and its problems."""
    problems = []

    def problem(field: str, message: str) -> None:
        problems.append(f"{where}: {field}: {message}")

    def text(field: str, limit: int, required: bool = True) -> str | None:
        value = raw.get(field)
        value = "" if value is None else value
        if not isinstance(value, str):
            problem(field, "must be text")
            return None
        value = " ".join(value.split()) if field != "summary" else value.strip()
        if not value:
            if required:
                problem(field, "is missing")
            return None
        if len(value) > limit:
            problem(field, f"is longer than {limit} characters")
        if _CONTROL.search(value):
            problem(field, "contains control characters")
        return value

    slug = text("slug", 120)
    if slug and not SLUG.fullmatch(slug):
        problem("slug", "use lowercase letters, digits and single hyphens, like fda-cmc-guidance")
    title = text("title", 500)
    organization = text("organization", 500, required=False)
    kind = text("kind", 32)
    if kind and not SLUG.fullmatch(kind):
        problem("kind", "use lowercase letters, digits and hyphens, like journal or fda-guidance")
    summary = text("summary", 2000)
    url = text("url", 2048, required=False)
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problem("url", "must be a full http(s):// address")
        elif reason := url_problem(url, allowed_networks()):
            # The link checker would connect to it: refused before it is saved, not only at check time.
            problem("url", reason)
    year = raw.get("year")
    if year in (None, ""):
        year = None
    else:
        try:
            year = int(str(year).strip())
            if not 1900 <= year <= 2100:
                raise ValueError
        except ValueError:
            problem("year", "must be a year like 2024, or empty")
            year = None
    topics = raw.get("topics") or []
    if isinstance(topics, str):
        topics = [t for t in re.split(r"[;,]", topics) if t.strip()]
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        problem("topics", "must be a list of topic slugs")
        topics = []
    topics = tuple(dict.fromkeys(t.strip() for t in topics))
    unknown = [t for t in topics if t not in known_topics]
    if unknown:
        problem("topics", f"unknown topic(s) {', '.join(unknown)} (known: {', '.join(sorted(known_topics))})")
    featured = raw.get("featured")
    if isinstance(featured, str):
        featured = {"": None, "yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(
            featured.strip().lower(), "bad")
    if featured not in (None, True, False):
        problem("featured", "must be yes or no")
        featured = None
    added = raw.get("added")
    if added in (None, ""):
        added = None
    else:
        try:
            added = date.fromisoformat(str(added).strip())
        except ValueError:
            problem("added", "must be a date like 2026-11-25")
            added = None
    if problems:
        return None, problems
    return ResourceEntry(slug, title, organization, kind, year, url, summary, topics, featured, added), []


def _topics_by_slug() -> dict[str, Topic]:
    return {topic.slug: topic for topic in db.session.scalars(select(Topic))}


def save_entry(entry: ResourceEntry, topics: dict[str, Topic]) -> tuple[Resource, bool]:
    """Create or update the entry with this slug; returns it and whether it is new. The caller commits."""
    resource = db.session.scalar(select(Resource).where(Resource.slug == entry.slug))
    created = resource is None
    if created:
        position = (db.session.scalar(select(Resource.position).order_by(Resource.position.desc()).limit(1)) or 0) + 1
        resource = Resource(slug=entry.slug, position=position, added_on=entry.added or utcnow().date())
        db.session.add(resource)
    for name in ("title", "organization", "kind", "year", "url", "summary"):
        setattr(resource, name, getattr(entry, name))
    resource.topics = [topics[slug] for slug in entry.topics]
    if entry.featured is not None:
        resource.featured = entry.featured
    if entry.added is not None:
        resource.added_on = entry.added
    resource.updated_at = utcnow()
    return resource, created


def add_or_edit_resource(raw: dict) -> Resource:
    """One entry from the admin form (or a script); CatalogChangeRefused lists what is wrong."""
    topics = _topics_by_slug()
    entry, problems = parse_entry(raw, set(topics), "entry")
    if problems:
        raise CatalogChangeRefused(problems)
    resource, _ = save_entry(entry, topics)
    db.session.flush()
    return resource


def set_featured(resource_id: int, featured: bool) -> Resource:
    resource = _get(resource_id)
    resource.featured = featured
    return resource


def retire(resource_id: int) -> Resource:
    """Off the page and out of digests; kept, so past digests and the audit still make sense."""
    resource = _get(resource_id)
    resource.retired_at = resource.retired_at or utcnow()
    return resource


def restore(resource_id: int) -> Resource:
    resource = _get(resource_id)
    resource.retired_at = None
    return resource


def _get(resource_id: int) -> Resource:
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        raise CatalogChangeRefused([f"resource {resource_id}: does not exist"])
    return resource


# --- Importing files -------------------------------------------------------------------------


def read_import_file(name: str, data: bytes) -> list[tuple[int, dict]]:
    """(line, raw entry) pairs from a JSON or CSV file; CatalogChangeRefused when it cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogChangeRefused([f"{name}: not UTF-8 text"]) from None
    if name.lower().endswith(".json"):
        return _json_entries(name, text)
    return _csv_entries(name, text)


def _json_entries(name: str, text: str) -> list[tuple[int, dict]]:
    """Entries of a JSON array (or of the catalog's {"resources": [...]}) with the line each starts on."""
    decoder = json.JSONDecoder()
    match = re.search(r'"resources"\s*:\s*\[', text)
    start = match.end() if match else text.index("[") + 1 if "[" in text else None
    if start is None:
        raise CatalogChangeRefused([f"{name}: expected a list of entries"])
    entries, position = [], start
    try:
        while True:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text) or text[position] == "]":
                break
            value, end = decoder.raw_decode(text, position)
            line = text.count("\n", 0, position) + 1
            if not isinstance(value, dict):
                raise CatalogChangeRefused([f"{name} line {line}: each entry must be an object"])
            entries.append((line, value))
            position = end
    except json.JSONDecodeError as exc:
        raise CatalogChangeRefused([f"{name} line {exc.lineno}: not valid JSON ({exc.msg})"]) from None
    return entries


def _csv_entries(name: str, text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [field for field in ("slug", "title", "kind", "summary") if field not in (reader.fieldnames or [])]
    if missing:
        raise CatalogChangeRefused([f"{name} line 1: missing column(s) {', '.join(missing)}"])
    unknown = [field for field in reader.fieldnames if field not in FIELDS]
    if unknown:
        raise CatalogChangeRefused([f"{name} line 1: unknown column(s) {', '.join(unknown)}"])
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise CatalogChangeRefused([f"{name} line {reader.line_num}: {exc}"]) from None


def import_resources(name: str, data: bytes) -> dict:
    """Add or update every entry of the file, or none: a bad row refuses the whole file."""
    topics = _topics_by_slug()
    entries, problems, seen = [], [], {}
    for line, raw in read_import_file(name, data):
        entry, entry_problems = parse_entry(raw, set(topics), f"{name} line {line}")
        problems += entry_problems
        if entry is not None:
            if entry.slug in seen:
                problems.append(f"{name} line {line}: slug: {entry.slug} is already on line {seen[entry.slug]}")
            seen[entry.slug] = line
            entries.append(entry)
    if problems:
        raise CatalogChangeRefused(problems)
    if not entries:
        raise CatalogChangeRefused([f"{name}: no entries"])
    created = updated = 0
    for entry in entries:
        _, is_new = save_entry(entry, topics)
        created += is_new
        updated += not is_new
    db.session.flush()
    return {"created": created, "updated": updated}
