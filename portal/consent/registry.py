"""Every cookie and script the portal can set or load, by consent category.

The cookie policy page is rendered from this list, and withdrawing a category
deletes exactly the cookies listed under it, so the policy and the behaviour
cannot drift apart. Nothing here comes from a third-party host.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    description: str
    #: Necessary cookies are always on; the visitor cannot switch them off.
    optional: bool


@dataclass(frozen=True)
class Item:
    name: str
    category: str
    kind: str  # "cookie" or "script"
    purpose: str
    lifetime: str


CATEGORIES = (
    Category(
        "necessary",
        "Strictly necessary",
        "Keep the site working and secure: your form session and its protection against forged "
        "submissions, and the record of the choice you make here. They cannot be switched off.",
        optional=False,
    ),
    Category(
        "preferences",
        "Preferences",
        "Remember small choices you make so the site can offer them again, such as the last topic "
        "you filtered the resource catalog by.",
        optional=True,
    ),
    Category(
        "analytics",
        "Analytics",
        "Count page views with the portal's own counter so we can see which pages help people. "
        "It records the page and the site you came from, never who you are, and sends nothing to "
        "anyone else.",
        optional=True,
    ),
)
OPTIONAL = tuple(category.key for category in CATEGORIES if category.optional)

CONSENT_COOKIE = "portal_consent"
LAST_FILTER_COOKIE = "portal_last_catalog_filter"
VISIT_COOKIE = "portal_analytics_visit"

ITEMS = (
    Item("session", "necessary", "cookie",
         "Your form session: the token that protects forms from forged submissions, and short "
         "messages shown after you submit one.", "Until you close the browser"),
    Item(CONSENT_COOKIE, "necessary", "cookie",
         "Your cookie choice: which categories you allowed, the policy version, when, and an "
         "anonymous id that lets us show the choice was recorded.", "6 months"),
    Item(LAST_FILTER_COOKIE, "preferences", "cookie",
         "The last topic or kind you filtered the resource catalog by, offered as a shortcut on "
         "your next visit.", "30 days"),
    Item(VISIT_COOKIE, "analytics", "cookie",
         "Marks that a visit is under way, so the counter can tell new visits from further pages "
         "of the same visit. It holds no identifier.", "30 minutes"),
    Item("/static/js/analytics.js", "analytics", "script",
         "The portal's own page-view counter; loaded only after you allow analytics, and never on a "
         "page you open from a personal link in an email.", "—"),
)


def category(key: str) -> Category:
    return next(c for c in CATEGORIES if c.key == key)


def cookies_of(category_key: str) -> list[str]:
    return [item.name for item in ITEMS if item.category == category_key and item.kind == "cookie"]
