"""The link checker: does every catalog address still answer?

HEAD first (cheap), GET when a server refuses HEAD; redirects are followed; a
short timeout; a User-Agent that says who is asking and where to read about
it. A few addresses are checked at once, in threads (the work is waiting on
the network). Each outcome is written to the resource; one at 400 or above,
or without any answer, counts as broken: digests leave it out and the admin
resource page flags it.
"""
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.links import absolute_url
from portal.resources.models import Resource

#: Status codes meaning "this server does not do HEAD": ask again with GET.
HEAD_REFUSED = {405, 501}


@dataclass(frozen=True)
class LinkOutcome:
    status: int | None
    error: str | None

    @property
    def broken(self) -> bool:
        return self.status is None or self.status >= 400


def check_url(url: str, timeout: float, user_agent: str) -> LinkOutcome:
    outcome = _request(url, "HEAD", timeout, user_agent)
    if outcome.status in HEAD_REFUSED or (outcome.status is None and "timed out" not in (outcome.error or "")):
        outcome = _request(url, "GET", timeout, user_agent)
    return outcome


def _request(url: str, method: str, timeout: float, user_agent: str) -> LinkOutcome:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": user_agent, "Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return LinkOutcome(response.status, None)
    except urllib.error.HTTPError as exc:
        return LinkOutcome(exc.code, f"HTTP {exc.code} {exc.reason}"[:300])
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return LinkOutcome(None, ("timed out" if isinstance(reason, TimeoutError) else str(reason) or type(exc).__name__)[:300])


def check_catalog_links() -> dict:
    """Check every live entry's address and record the outcomes; returns counts. The caller commits."""
    config = current_app.config
    resources = list(db.session.scalars(
        select(Resource).where(Resource.retired_at.is_(None), Resource.url.is_not(None)).order_by(Resource.id)
    ))
    user_agent = f"SummitPortal-LinkChecker/1.0 (+{absolute_url('pages.resources')})"
    timeout = config["RESOURCE_LINK_TIMEOUT_SECONDS"]
    with ThreadPoolExecutor(max_workers=config["RESOURCE_LINK_CHECKS_AT_ONCE"]) as pool:
        outcomes = list(pool.map(lambda url: check_url(url, timeout, user_agent), [r.url for r in resources]))
    checked_at = utcnow()
    for resource, outcome in zip(resources, outcomes):
        resource.link_checked_at = checked_at
        resource.link_status = outcome.status
        resource.link_error = outcome.error
    db.session.flush()
    return {"checked": len(resources), "broken": sum(outcome.broken for outcome in outcomes)}
