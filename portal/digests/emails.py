"""The digest email: rendered once per distinct content, personalised by substitution.

Thousands of subscribers share the same few combinations of highlights, so
the templates are rendered (and their CSS inlined) once per combination for
an edition, with marks where the personal parts go: the greeting name and the
subscriber's own signed links. Each message is then the shared text with the
marks replaced, the name HTML-escaped in the HTML part. That takes a digest
from milliseconds of CPU to microseconds, and the result is exactly what
rendering it alone would give.
"""
import re
from dataclasses import dataclass

from flask import current_app
from markupsafe import escape

from portal.links import absolute_url
from portal.mail import Cause, EmailContent, email
from portal.mail.models import Lane
from portal.mail.outbox import PreparedEmail, queue_many
from portal.mail.render import RenderedEmail, ascii_html, render_email
from portal.newsletter.emails import list_headers, preferences_url, unsubscribe_url, withhold_unless_subscribed
from portal.newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_subscriber_token

DIGEST = "digest"

# Marks for the personal parts: plain ASCII that neither escaping nor CSS inlining changes.
_NAME = "DIGESTMARKNAME7c1e"
_PREFERENCES = "DIGESTMARKPREFS7c1e"
_UNSUBSCRIBE = "DIGESTMARKUNSUB7c1e"
_TOKEN = "DIGESTMARKTOKEN7c1e"


def _context(edition, highlights, event, wants_events: bool, first_name: str, preferences: str, unsubscribe: str):
    return {
        "edition_title": edition.title,
        "frequency": edition.frequency,
        "highlights": highlights,
        "event": event if wants_events else None,
        "first_name": first_name,
        "preferences_url": preferences,
        "unsubscribe_url": unsubscribe,
        "web_view_url": (absolute_url("digests.edition", edition_id=edition.id) if edition.id
                         else absolute_url("digests.archive")),
        "archive_url": absolute_url("digests.archive"),
        "manage_url": absolute_url("newsletter.manage"),
    }


@email(DIGEST, withhold_if=withhold_unless_subscribed)
def send_digest(subscriber, edition, highlights, event):
    """One digest queued on its own (the batch path below is the same email, rendered once per variant)."""
    return EmailContent(
        _context(edition, highlights, event, subscriber.wants_events, subscriber.first_name,
                 preferences_url(subscriber), unsubscribe_url(subscriber)),
        headers=list_headers(subscriber),
        cause=Cause("subscriber", subscriber.id),
    )


# Rendered variants kept per app (under this key of app.extensions) across batches.
_SHARED_VARIANTS = "portal.digest_variants"
SHARED_VARIANTS_MAX = 512


_MARK = re.compile(f"({_NAME}|{_PREFERENCES}|{_UNSUBSCRIBE})")


@dataclass(frozen=True)
class _Variant:
    """A rendered variant cut at its marks: every odd piece is a mark to fill in."""

    subject: str
    text: list[str]
    html: list[str]

    @classmethod
    def of(cls, rendered: RenderedEmail) -> "_Variant":
        return cls(rendered.subject, _MARK.split(rendered.text), _MARK.split(rendered.html))


def _filled(pieces: list[str], values: dict[str, str]) -> str:
    # One join, and a reader's values are never searched for marks themselves.
    filled = pieces.copy()
    for index in range(1, len(filled), 2):
        filled[index] = values[filled[index]]
    return "".join(filled)


class DigestRenderer:
    """Renders the digests of one edition batch; reuse it for every subscriber of the batch."""

    def __init__(self, edition, event):
        self.edition = edition
        self.event = event
        self._variants: dict[tuple, _Variant] = {}
        # The links' addresses differ only by token: built once, filled in per reader.
        self._preferences_url = absolute_url("newsletter.preferences", token=_TOKEN)
        self._unsubscribe_url = absolute_url("newsletter.unsubscribe", token=_TOKEN)

    def _links(self, subscriber) -> tuple[str, str]:
        return (self._preferences_url.replace(_TOKEN, make_subscriber_token(PREFERENCES, subscriber)),
                self._unsubscribe_url.replace(_TOKEN, make_subscriber_token(UNSUBSCRIBE, subscriber)))

    def _variant(self, highlights, wants_events: bool, named: bool) -> "_Variant":
        # Within a batch the ids name the content; hashing the whole snapshots for
        # every reader is left to the first lookup of each combination.
        key = (tuple(h.id for h in highlights), wants_events, named)
        variant = self._variants.get(key)
        if variant is None:
            variant = self._variants[key] = self._shared_variant(tuple(highlights), wants_events, named)
        return variant

    def _shared_variant(self, highlights: tuple, wants_events: bool, named: bool) -> "_Variant":
        # The batches of an edition share their variants. The key holds every value the
        # templates show (highlights and event are frozen snapshots, compared by value),
        # so a resource edited or a seat taken since makes a new key, never a stale
        # text. Kept per app: the rest of a render is its configuration and templates.
        edition = self.edition
        key = (edition.id, edition.title, edition.frequency, self.event, highlights, wants_events, named)
        shared = current_app.extensions.setdefault(_SHARED_VARIANTS, {})
        variant = shared.get(key)
        if variant is None:
            context = _context(edition, highlights, self.event, wants_events, _NAME if named else "",
                               _PREFERENCES, _UNSUBSCRIBE)
            variant = _Variant.of(render_email(DIGEST, context))
            if len(shared) >= SHARED_VARIANTS_MAX:
                shared.clear()  # a bound, not an LRU: an edition needs far fewer
            shared[key] = variant
        return variant

    def render_for(self, subscriber, highlights) -> RenderedEmail:
        return self._personalise(subscriber, highlights, *self._links(subscriber))

    def _personalise(self, subscriber, highlights, preferences: str, unsubscribe: str) -> RenderedEmail:
        shared = self._variant(highlights, subscriber.wants_events, bool(subscriber.first_name))
        personal = {_PREFERENCES: preferences, _UNSUBSCRIBE: unsubscribe}
        return RenderedEmail(
            subject=shared.subject,
            text=_filled(shared.text, {**personal, _NAME: subscriber.first_name}),
            html=_filled(shared.html, {**personal, _NAME: ascii_html(str(escape(subscriber.first_name)))}),
        )

    def message(self, subscriber, highlights) -> PreparedEmail:
        preferences, unsubscribe = self._links(subscriber)
        return PreparedEmail(
            name=DIGEST,
            to=subscriber.email,
            rendered=self._personalise(subscriber, highlights, preferences, unsubscribe),
            headers=list_headers(subscriber, unsubscribe),
            cause=Cause("subscriber", subscriber.id),
        )


def queue_digests(messages: list[PreparedEmail]) -> list[int]:
    return queue_many(messages, lane=Lane.BULK)
