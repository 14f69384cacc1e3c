"""The shipped resource catalog (catalog.json beside this module), its seed, and the page queries.

The catalog travels with the code, so a clone has everything it needs;
PORTAL_CATALOG_FILE may point at another file of the same shape. Seeding is
an upsert by slug, so it can run on every deploy.
"""
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flask import url_for
from sqlalchemy import func, or_, select

from portal.database import utcnow
from portal.extensions import db
from portal.links import absolute_url
from portal.resources.models import Resource, Topic

FDA_GUIDANCE = "fda-guidance"
RESOURCE_FIELDS = ("title", "organization", "kind", "year", "url", "summary")


@dataclass(frozen=True)
class Section:
    """A heading on /resources and the kinds of entry listed under it."""

    key: str
    heading: str
    kinds: tuple[str, ...]


#: Page order of the catalog. A kind missing here still shows, under OTHER.
SECTIONS = (
    Section("research", "Research programs and funders", ("program", "foundation", "funder")),
    Section("clinical-trials", "Clinical trials", ("database",)),
    Section("fda-guidance", "FDA guidances", (FDA_GUIDANCE,)),
    Section("nih-oversight", "NIH oversight", ("oversight-policy",)),
    Section("journals", "Journals", ("journal",)),
    Section("societies", "Sister societies", ("society",)),
)
OTHER = Section("other", "Other resources", ())

#: Names for the "kind" filter; an unlisted kind is shown as its slug read as words.
KIND_LABELS = {
    "program": "Research programs",
    "foundation": "Foundations",
    "funder": "Public funders",
    "database": "Trial registries",
    FDA_GUIDANCE: "FDA guidances",
    "oversight-policy": "NIH oversight",
    "journal": "Journals",
    "society": "Societies",
}


# --- Seeding -----------------------------------------------------------------

SHIPPED_CATALOG = Path(__file__).with_name("catalog.json")


def catalog_path() -> Path:
    return Path(os.environ.get("PORTAL_CATALOG_FILE") or SHIPPED_CATALOG)


def load_catalog(path: Path | None = None) -> dict:
    path = path or catalog_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Resource catalog not found at {path}; unset PORTAL_CATALOG_FILE to use the shipped catalog."
        ) from None
    return json.loads(text)


def seed_resources() -> dict:
    """Create or update every topic and resource from the catalog; the caller commits.

    Returns how many resources were created and how many changed. Entries that
    disappeared from the file are kept: an admin may still link to them.
    """
    catalog = load_catalog()
    topics = _upsert_topics(catalog["topics"])
    existing = {r.slug: r for r in db.session.scalars(select(Resource))}
    created = updated = 0
    for position, entry in enumerate(catalog["resources"]):
        wanted = {name: entry.get(name) for name in RESOURCE_FIELDS}
        wanted["position"] = position
        wanted_topics = [_topic(topics, slug, entry["slug"]) for slug in entry.get("topics", [])]
        resource = existing.get(entry["slug"])
        if resource is None:
            # "added" in the file, else today; kept from then on, whatever later seeds say.
            added_on = date.fromisoformat(entry["added"]) if entry.get("added") else utcnow().date()
            db.session.add(Resource(slug=entry["slug"], topics=wanted_topics, added_on=added_on, **wanted))
            created += 1
            continue
        changed = False
        for name, value in wanted.items():
            if getattr(resource, name) != value:
                setattr(resource, name, value)
                changed = True
        if {t.slug for t in resource.topics} != {t.slug for t in wanted_topics}:
            resource.topics = wanted_topics
            changed = True
        if changed:
            resource.updated_at = utcnow()
            updated += 1
    db.session.flush()
    return {"created": created, "updated": updated}


def _upsert_topics(described: dict[str, str]) -> dict[str, Topic]:
    topics = {t.slug: t for t in db.session.scalars(select(Topic))}
    for position, (slug, description) in enumerate(described.items()):
        topic = topics.get(slug)
        if topic is None:
            topic = topics[slug] = Topic(slug=slug)
            db.session.add(topic)
        # Assigning an unchanged value leaves the row clean, so a re-run writes nothing.
        topic.description = description
        topic.position = position
    return topics


def _topic(topics: dict[str, Topic], slug: str, resource_slug: str) -> Topic:
    if slug not in topics:
        raise ValueError(f"Resource {resource_slug!r} names topic {slug!r}, which resources.json does not describe.")
    return topics[slug]


# --- Queries -----------------------------------------------------------------

def section_of(kind: str) -> Section:
    for section in SECTIONS:
        if kind in section.kinds:
            return section
    return OTHER


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind) or kind.replace("-", " ").capitalize()


def _display_key(resource: Resource) -> tuple:
    section = section_of(resource.kind)
    rank = SECTIONS.index(section) if section in SECTIONS else len(SECTIONS)
    if resource.kind == FDA_GUIDANCE:
        # Guidances read as a timeline; an undated one goes after the dated ones.
        return (rank, resource.year is None, resource.year or 0, resource.position)
    return (rank, False, 0, resource.position)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_resources(topic: str | None = None, kind: str | None = None, search: str = "") -> list[Resource]:
    """Live resources in page order: by section, FDA guidances by year of issue, the rest in catalog order.

    `search` matches words anywhere in the title, the organization or the summary, in any case.
    Retired entries are left out.
    """
    query = select(Resource).where(Resource.retired_at.is_(None))
    for word in search.split():
        pattern = f"%{_escape_like(word.lower())}%"
        query = query.where(or_(*(func.lower(column).like(pattern, escape="\\")
                                  for column in (Resource.title, Resource.organization, Resource.summary))))
    if topic:
        query = query.where(Resource.topics.any(Topic.slug == topic))
    if kind:
        query = query.where(Resource.kind == kind)
    return sorted(db.session.scalars(query), key=_display_key)


def list_topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))


def list_kinds() -> list[str]:
    """Kinds that have at least one resource, in the order their sections appear."""
    kinds = set(db.session.scalars(select(Resource.kind).where(Resource.retired_at.is_(None)).distinct()))
    known = [kind for section in SECTIONS for kind in section.kinds if kind in kinds]
    return known + sorted(kinds.difference(known))


@dataclass
class Group:
    section: Section
    resources: list[Resource] = field(default_factory=list)


def group_resources(resources: list[Resource]) -> list[Group]:
    """Split a list from `list_resources` into its sections, keeping the order."""
    groups: list[Group] = []
    for resource in resources:
        section = section_of(resource.kind)
        if not groups or groups[-1].section != section:
            groups.append(Group(section))
        groups[-1].resources.append(resource)
    return groups


def resource_href(resource: Resource, external: bool = False) -> str:
    """Where a mention of the resource should point: its own address, or its entry on /resources.

    `external=True` gives an absolute link (emails, feeds) that works outside a request too.
    """
    if resource.url:
        return resource.url
    if external:
        return absolute_url("pages.resources", _anchor=resource.slug)
    return url_for("pages.resources", _anchor=resource.slug)


# --- Filters -----------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The catalog filters after checking what a visitor sent.

    `topic` and `kind` are None when not chosen or not recognised; the
    `unknown_*` flags say a value was sent but is not one the catalog has.
    """

    topic: Topic | None = None
    kind: str | None = None
    unknown_topic: bool = False
    unknown_kind: bool = False
    #: Words to look for, as typed (trimmed, at most SEARCH_MAX_LENGTH characters).
    search: str = ""

    @property
    def active(self) -> bool:
        return self.topic is not None or self.kind is not None or bool(self.search)


SEARCH_MAX_LENGTH = 100
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def choose_filters(topic: str | None, kind: str | None, search: str | None = None) -> Filters:
    """Match the raw query-string values against real topics and kinds; anything else is ignored."""
    search = " ".join(_NOT_TEXT.sub(" ", search or "").split())[:SEARCH_MAX_LENGTH]
    topic = (topic or "").strip()
    kind = (kind or "").strip()
    chosen_topic = None
    if topic:
        chosen_topic = next((t for t in list_topics() if t.slug == topic), None)
    chosen_kind = kind if kind and kind in list_kinds() else None
    return Filters(
        topic=chosen_topic,
        kind=chosen_kind,
        unknown_topic=bool(topic) and chosen_topic is None,
        unknown_kind=bool(kind) and chosen_kind is None,
        search=search,
    )


def section_counts() -> list[tuple[Section, int]]:
    """How many resources each section holds, for the home page teaser."""
    return [(group.section, len(group.resources)) for group in group_resources(list_resources())]
