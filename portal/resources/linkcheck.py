"""The link checker: does every catalog address still answer?

HEAD first (cheap), GET when a server refuses HEAD; redirects are followed, at
most MAX_REDIRECTS of them; a short timeout; a User-Agent that says who is
asking and where to read about it. A few addresses are checked at once, in
threads (the work is waiting on the network).

A link counts as broken only on definite evidence, since a broken one leaves the
digests: an HTTP status of 400 or above, an address refused or not followed
(not public, not http(s), too many redirects) at once; no answer at all (a name
that does not resolve, a connection refused or timed out) only after
FAILURES_TO_BREAK checks in a row in runs where other addresses answered, because
one failure is as likely the checker's own network as the site. When most
addresses of a run get no answer (OFFLINE_SHARE), the checker is the one cut
off: the run changes no link, logs a warning and is recorded as offline, which
the admin resources page says. Digests leave out what Resource.link_broken
says, so an edition started while the network is down still carries its
highlights.

Only public addresses are ever contacted (portal.resources.addresses): the name
of every address, the first and each one a redirect leads to, is resolved, all
its addresses must be public, and the connection goes to the address that was
checked, not to whatever a second lookup would return (urllib3's documented
"custom SNI hostname": the pool connects to the IP address, while the Host
header, SNI and certificate check use the name).
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from flask import current_app
from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.links import absolute_url
from portal.resources.addresses import NonPublicAddress, allowed_networks, public_addresses
from portal.resources.models import LinkCheckRun, Resource

log = logging.getLogger(__name__)

#: Status codes meaning "this server does not do HEAD": ask again with GET.
HEAD_REFUSED = {405, 501}
REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
#: Checks in a row without any answer, while other addresses answered, that make a link broken.
FAILURES_TO_BREAK = 2
#: The share of a run's addresses without any answer from which the checker counts itself offline.
OFFLINE_SHARE = 0.8


@dataclass(frozen=True)
class LinkOutcome:
    status: int | None
    error: str | None
    #: No answer at all (name, connection, timeout): not evidence against the link by itself.
    unreachable: bool = False

    @property
    def broken(self) -> bool:
        return self.status is None or self.status >= 400


def check_url(url: str, timeout: float, user_agent: str, allowed: tuple = ()) -> LinkOutcome:
    """The outcome for `url`; `allowed` networks count as public (RESOURCE_LINK_ALLOW_PRIVATE, tests only)."""
    try:
        outcome = _follow(url, "HEAD", timeout, user_agent, allowed)
        if outcome.status in HEAD_REFUSED or (outcome.status is None and outcome.error != "timed out"):
            outcome = _follow(url, "GET", timeout, user_agent, allowed)
    except NonPublicAddress as exc:
        return LinkOutcome(None, str(exc)[:300])
    return outcome


def _follow(url: str, method: str, timeout: float, user_agent: str, allowed: tuple) -> LinkOutcome:
    for _ in range(MAX_REDIRECTS + 1):
        outcome, location = _request(url, method, timeout, user_agent, allowed)
        if location is None:
            return outcome
        url = urljoin(url, location)
    return LinkOutcome(None, f"more than {MAX_REDIRECTS} redirects")


def _request(url: str, method: str, timeout: float, user_agent: str, allowed: tuple) -> tuple[LinkOutcome, str | None]:
    """One request to a checked address: its outcome, and where it redirects to (None when it does not)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return LinkOutcome(None, f"not an http(s) address: {url}"[:300]), None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = public_addresses(parts.hostname, port, allowed)[0]
    except NonPublicAddress:
        raise
    except OSError as exc:
        return LinkOutcome(None, (str(exc) or type(exc).__name__)[:300], unreachable=True), None
    except (UnicodeError, ValueError) as exc:
        return LinkOutcome(None, (str(exc) or type(exc).__name__)[:300]), None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    headers = {"Host": host + (f":{parts.port}" if parts.port else ""), "User-Agent": user_agent, "Accept": "*/*"}
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(str(address), port, server_hostname=parts.hostname,
                                           assert_hostname=parts.hostname, **_pool_options(timeout))
    else:
        pool = urllib3.HTTPConnectionPool(str(address), port, **_pool_options(timeout))
    try:
        with pool:
            response = pool.request(method, target, headers=headers, redirect=False, assert_same_host=False,
                                    preload_content=False)
            response.close()  # the status is all that counts: no body is read
    except urllib3.exceptions.TimeoutError:
        return LinkOutcome(None, "timed out", unreachable=True), None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return LinkOutcome(None, (str(exc) or type(exc).__name__)[:300], unreachable=True), None
    if response.status in REDIRECTS and response.headers.get("Location"):
        return LinkOutcome(response.status, None), response.headers["Location"]
    if response.status >= 400:
        return LinkOutcome(response.status, f"HTTP {response.status} {response.reason}"[:300]), None
    return LinkOutcome(response.status, None), None


def _pool_options(timeout: float) -> dict:
    # No retries and no redirects inside urllib3: every hop is checked here first.
    return {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}


def check_catalog_links() -> dict:
    """Check every live entry's address and record what is definite (see the module); returns counts.

    The caller commits.
    """
    config = current_app.config
    resources = list(db.session.scalars(
        select(Resource).where(Resource.retired_at.is_(None), Resource.url.is_not(None)).order_by(Resource.id)
    ))
    user_agent = f"SummitPortal-LinkChecker/1.0 (+{absolute_url('pages.resources')})"
    timeout = config["RESOURCE_LINK_TIMEOUT_SECONDS"]
    allowed = allowed_networks()
    with ThreadPoolExecutor(max_workers=config["RESOURCE_LINK_CHECKS_AT_ONCE"]) as pool:
        outcomes = list(pool.map(lambda url: check_url(url, timeout, user_agent, allowed), [r.url for r in resources]))
    checked_at = utcnow()
    unreachable = sum(outcome.unreachable for outcome in outcomes)
    offline = bool(resources) and unreachable >= OFFLINE_SHARE * len(resources)
    if offline:
        log.warning("Link check: %d of %d addresses got no answer (e.g. %s); the network looks unreachable, "
                    "so every link keeps its previous state.", unreachable, len(resources),
                    next(outcome.error for outcome in outcomes if outcome.unreachable))
    else:
        for resource, outcome in zip(resources, outcomes):
            _record(resource, outcome, checked_at)
    db.session.add(LinkCheckRun(finished_at=checked_at, checked=len(resources), unreachable=unreachable,
                                offline=offline))
    db.session.flush()
    return {"checked": len(resources), "broken": sum(resource.link_broken for resource in resources),
            "unreachable": unreachable, "offline": offline}


def _record(resource: Resource, outcome: LinkOutcome, checked_at: datetime) -> None:
    if outcome.unreachable:
        resource.link_failures += 1
        resource.link_failure = outcome.error
        if resource.link_failures < FAILURES_TO_BREAK:
            return
    else:
        resource.link_failures = 0
        resource.link_failure = None
    resource.link_checked_at = checked_at
    resource.link_status = outcome.status
    resource.link_error = outcome.error


def last_check_runs() -> tuple[LinkCheckRun | None, LinkCheckRun | None]:
    """The latest run of the checker, and the latest that reached the network (the same one when it did)."""
    latest = db.session.scalar(select(LinkCheckRun).order_by(LinkCheckRun.id.desc()).limit(1))
    if latest is None or not latest.offline:
        return latest, latest
    online = db.session.scalar(
        select(LinkCheckRun).where(LinkCheckRun.offline.is_(False)).order_by(LinkCheckRun.id.desc()).limit(1))
    return latest, online
