"""The resource catalog: curated links (or portal-only entries) tagged with topics."""
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db

resource_topic = Table(
    "resource_topic",
    db.metadata,
    Column("resource_id", ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Topic(db.Model):
    __tablename__ = "topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable key from resources.json, used in the ?topic= filter.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    #: One sentence saying what the topic covers; shown when the filter is active.
    description: Mapped[str] = mapped_column(Text)
    #: Order of the topic in resources.json, which is the order the filter offers.
    position: Mapped[int] = mapped_column(default=0)

    @property
    def label(self) -> str:
        """Short name for menus: the slug read as words ("clinical-trials" -> "Clinical trials")."""
        return self.slug.replace("-", " ").capitalize()


class Resource(db.Model):
    __tablename__ = "resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable key from resources.json; also the id anchor of the entry on /resources.
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    #: Publisher or host; None for journals and societies, whose title says it all.
    organization: Mapped[str | None] = mapped_column(String(500))
    #: What sort of thing this is, e.g. "fda-guidance", "journal", "society"; decides its section.
    kind: Mapped[str] = mapped_column(String(32), index=True)
    #: Year of issue or start; FDA guidances are listed by it.
    year: Mapped[int | None]
    #: Outside address; None means the portal's own entry (/resources#<slug>) is the link.
    url: Mapped[str | None] = mapped_column(String(2048))
    #: One or two plain sentences, written for this portal.
    summary: Mapped[str] = mapped_column(Text)
    #: Order of the entry in resources.json ("catalog order").
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Last time the seed changed a field or the topics of this entry.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Shown first in digests and highlights (set by admins).
    featured: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: When the entry joined the catalog; "newest" in digests means this. The seed sets
    #: it once (from the file's "added", else the day it first saw the entry) and keeps it.
    added_on: Mapped[date] = mapped_column(default=lambda: utcnow().date())
    #: Retired entries leave the page and digests but stay for history (what was sent).
    retired_at: Mapped[datetime | None]
    #: The link checker's last definite outcome: when, the HTTP status (None: no answer) and the
    #: error. A check without an answer is only counted below until failures are definite
    #: (portal.resources.linkcheck), so "broken" keeps meaning what these three say.
    link_checked_at: Mapped[datetime | None]
    link_status: Mapped[int | None]
    link_error: Mapped[str | None] = mapped_column(String(300))
    #: Checks in a row that got no answer at all (name, connection, timeout) while other sites
    #: answered, and what the latest ran into; 0 and None once the address answers again.
    link_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    link_failure: Mapped[str | None] = mapped_column(String(300))

    @property
    def link_broken(self) -> bool:
        """The last definite check found the address gone or not answering; digests leave it out."""
        return self.link_checked_at is not None and (self.link_status is None or self.link_status >= 400)

    @property
    def link_in_doubt(self) -> bool:
        """Not broken, but its latest checks got no answer: one more such check may leave it out."""
        return self.link_failures > 0 and not self.link_broken

    topics: Mapped[list[Topic]] = relationship(
        secondary=resource_topic, order_by=Topic.position, lazy="selectin"
    )

    @property
    def is_external(self) -> bool:
        return self.url is not None


class LinkCheckRun(db.Model):
    """One run of the link checker over the catalog, and whether it could reach the network at all."""

    __tablename__ = "link_check_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Addresses checked, and how many of them got no answer at all (no HTTP status).
    checked: Mapped[int]
    unreachable: Mapped[int]
    #: So many got no answer that the checker itself was cut off: no link's state was changed.
    offline: Mapped[bool]
