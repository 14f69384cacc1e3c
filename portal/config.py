"""Configuration read from the environment.

Every variable is documented in `.env.example`. An unset variable means the
embedded default: SQLite in `instance/`, a filesystem Celery broker and a
development mailbox, so `make run` needs no server at all.
"""
import os
import re
from pathlib import Path

DEV_SECRET_KEY = "dev-only-secret-key-change-me"


class ConfigError(SystemExit):
    """The configuration cannot run safely; the message says why in one line.

    A SystemExit, so `flask`, `celery` and gunicorn stop with that one line
    instead of a traceback.
    """


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _count(name: str, value: str | None) -> int:
    if value is None or value.strip() == "":
        return 0
    if not value.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number of proxy hops (0 when nothing is in front), not {value!r}.")
    return int(value)


def _whole_number(name: str, value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    if not value.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number, not {value!r}.")
    return int(value)


def _days(name: str, value: str | None, default: int) -> int:
    """A retention period in whole days, at least one."""
    days = _whole_number(name, value, default)
    if days < 1:
        raise ConfigError(f"{name} must be at least 1 (days), not {value!r}.")
    return days


def _seconds(name: str, value: str | None, default: float) -> float:
    """A positive number of seconds (fractions allowed)."""
    if value is None or value.strip() == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}.")
    return seconds


def _heartbeat_settings(env) -> dict:
    """HEARTBEAT_SECONDS < HEARTBEAT_LATE_SECONDS < HEARTBEAT_MISSING_SECONDS, or a live process would look late."""
    every = _seconds("HEARTBEAT_SECONDS", env.get("HEARTBEAT_SECONDS"), 15)
    late = _seconds("HEARTBEAT_LATE_SECONDS", env.get("HEARTBEAT_LATE_SECONDS"), 60)
    missing = _seconds("HEARTBEAT_MISSING_SECONDS", env.get("HEARTBEAT_MISSING_SECONDS"), 300)
    if not every < late < missing:
        raise ConfigError(f"Heartbeats need HEARTBEAT_SECONDS ({every:g}) < HEARTBEAT_LATE_SECONDS ({late:g}) < "
                          f"HEARTBEAT_MISSING_SECONDS ({missing:g}); a late one should be a few missed beats.")
    return {"HEARTBEAT_SECONDS": every, "HEARTBEAT_LATE_SECONDS": late, "HEARTBEAT_MISSING_SECONDS": missing}


def _rate_limit(name: str, value: str | None, default: str) -> str:
    """A Flask-Limiter limit string like "10 per minute;60 per hour", checked at start-up."""
    from limits import parse_many

    value = (value or "").strip() or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a rate limit like '10 per minute;60 per hour'.") from None
    return value


def _bulk_rate(value: str | None) -> str:
    """MAIL_BULK_RATE: empty (no limit) or limits like "14/second;50000/day", checked at start-up."""
    from limits import parse_many

    value = (value or "").strip()
    if not value:
        return ""
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"MAIL_BULK_RATE={value!r} is not a sending rate like '14/second' or "
                          "'14/second;50000/day'.") from None
    return value


#: Local parts a VERP address can be made from: the tag after "+" (a row id, "-" and 16
#: signature characters) must still fit RFC 5321's 64 characters.
_BOUNCE_ADDRESS = re.compile(r"[A-Za-z0-9._-]{1,24}@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")


def _bounce_address(value: str | None) -> str:
    """MAIL_BOUNCE_ADDRESS: empty, or a bare ASCII address whose local part VERP can extend."""
    value = (value or "").strip()
    if value and not _BOUNCE_ADDRESS.fullmatch(value):
        raise ConfigError(f"MAIL_BOUNCE_ADDRESS={value!r} is not a bare address like 'bounces@news.example.org' "
                          "(ASCII, no '+', at most 24 characters before the @).")
    return value


#: Where the bounce mailbox may be read from: IMAP over TLS, or IMAP on the same host.
BOUNCE_IMAP_SCHEMES = ("imaps", "imap")


def redact_url(url: str) -> str:
    """The URL with any password replaced, for error messages and logs."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unreadable URL>"
    if password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def _bounce_source(maildir: str | None, imap_url: str | None) -> dict:
    """BOUNCE_MAILDIR (an absolute path) or BOUNCE_IMAP_URL (imaps://user:password@host[:port][/folder]), not both."""
    from urllib.parse import urlsplit

    maildir, imap_url = (maildir or "").strip(), (imap_url or "").strip()
    if maildir and imap_url:
        raise ConfigError("Set BOUNCE_MAILDIR or BOUNCE_IMAP_URL, not both: the bounce mailbox is read from one place.")
    if maildir and not os.path.isabs(maildir):
        raise ConfigError(f"BOUNCE_MAILDIR={maildir!r} must be an absolute path to a Maildir (the folder holding cur/ "
                          "and new/).")
    if imap_url:
        shown = redact_url(imap_url)
        example = "like 'imaps://bounces:PASSWORD@mail.example.org/INBOX' (percent-encode special characters)"
        try:
            parts = urlsplit(imap_url)
            parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise ConfigError(f"BOUNCE_IMAP_URL={shown} is not a URL {example}.") from None
        if parts.scheme not in BOUNCE_IMAP_SCHEMES or not parts.hostname or not parts.username or not parts.password:
            raise ConfigError(f"BOUNCE_IMAP_URL={shown} must be a URL {example}: imaps:// or imap://, with a user "
                              "name, a password and a host.")
        if parts.query or parts.fragment:
            raise ConfigError(f"BOUNCE_IMAP_URL={shown} takes no query or fragment; the path names the folder.")
    return {"BOUNCE_MAILDIR": maildir, "BOUNCE_IMAP_URL": imap_url}


_DNS_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*")


def _dkim(key: str | None, selector: str | None, domain: str | None) -> dict:
    """DKIM_PRIVATE_KEY, DKIM_SELECTOR, DKIM_DOMAIN: all empty, or all set with a key dkimpy can sign with."""
    settings = {"DKIM_PRIVATE_KEY": (key or "").strip(), "DKIM_SELECTOR": (selector or "").strip(),
                "DKIM_DOMAIN": (domain or "").strip().lower()}
    missing = [name for name, value in settings.items() if not value]
    if len(missing) == len(settings):
        return settings
    if missing:
        raise ConfigError(f"DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN go together; {', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not set.")
    for name in ("DKIM_SELECTOR", "DKIM_DOMAIN"):
        if not _DNS_NAME.fullmatch(settings[name]):
            raise ConfigError(f"{name}={settings[name]!r} is not a DNS name like 'mail2026' or 'example.org'.")
    import dkim

    path = settings["DKIM_PRIVATE_KEY"]
    try:
        with open(path, "rb") as key_file:
            pem = key_file.read()
    except OSError as exc:
        raise ConfigError(f"DKIM_PRIVATE_KEY={path!r} cannot be read: {exc.strerror}.") from None
    try:
        # A trial signature: the cheapest proof that dkimpy takes this key.
        dkim.sign(b"From: check@example.org\r\n\r\n", settings["DKIM_SELECTOR"].encode(),
                  settings["DKIM_DOMAIN"].encode(), pem)
    except (dkim.DKIMException, ValueError) as exc:
        raise ConfigError(f"DKIM_PRIVATE_KEY={path!r} is not a private key dkimpy can sign with ({exc}).") from None
    return settings


def _cron(name: str, value: str | None, default: str) -> str:
    """Five cron fields ("minute hour day-of-month month day-of-week"), checked at start-up."""
    from celery.schedules import crontab

    value = " ".join((value or "").split()) or default
    fields = value.split()
    try:
        if len(fields) != 5:
            raise ValueError("five fields")
        crontab(*fields[:2], day_of_week=fields[4], day_of_month=fields[2], month_of_year=fields[3])
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a cron schedule like '0 13 * * mon' (UTC).") from None
    return value


def load_config(instance_path: str, environ: dict | None = None) -> dict:
    """Build the Flask config dict from the environment (or the given mapping)."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'portal.sqlite'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    redis_url = env.get("REDIS_URL") or ""
    mail_server = env.get("MAIL_SERVER") or ""

    return {
        # Local development (`make run` sets it): the development SECRET_KEY, the demo seed
        # and the /dev/mail mailbox are allowed only then, and only on a loopback address.
        "DEVELOPMENT": _bool(env.get("PORTAL_DEVELOPMENT")),
        "SECRET_KEY": env.get("SECRET_KEY") or DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        # Embedded defaults: a broker folder and a Maildir under instance/.
        "BROKER_FOLDER": str(instance / "broker"),
        "DEV_MAILBOX": str(instance / "mailbox"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": int(env.get("MAIL_PORT") or 25),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER")
        or "Policy Summit <summit@portal.localhost>",
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT") or 30),
        # Envelope sender (return path) for every message, as a VERP address naming it
        # (portal.mail.verp): delivery reports then reach this mailbox, not the one in From.
        "MAIL_BOUNCE_ADDRESS": _bounce_address(env.get("MAIL_BOUNCE_ADDRESS")),
        # DKIM signing of every message (portal.mail.message): a PEM private key file, the
        # selector its public key is published under, and the signing domain. All or none.
        **_dkim(env.get("DKIM_PRIVATE_KEY"), env.get("DKIM_SELECTOR"), env.get("DKIM_DOMAIN")),
        # Bounce policy (portal.deliverability): this many soft bounces (mailbox full, host
        # down) of one address within BOUNCE_SOFT_WINDOW_DAYS suppress it for bulk mail, as
        # one hard bounce does at once. Older soft bounces no longer count.
        "BOUNCE_SOFT_LIMIT": _whole_number("BOUNCE_SOFT_LIMIT", env.get("BOUNCE_SOFT_LIMIT"), 3) or 1,
        "BOUNCE_SOFT_WINDOW_DAYS": _whole_number("BOUNCE_SOFT_WINDOW_DAYS", env.get("BOUNCE_SOFT_WINDOW_DAYS"), 14) or 1,
        # The bounce mailbox (portal.deliverability.intake) that MAIL_BOUNCE_ADDRESS's mail lands in:
        # a local Maildir, or an IMAP URL; beat reads it every BOUNCE_POLL_SECONDS when one is set.
        **_bounce_source(env.get("BOUNCE_MAILDIR"), env.get("BOUNCE_IMAP_URL")),
        "BOUNCE_POLL_SECONDS": _whole_number("BOUNCE_POLL_SECONDS", env.get("BOUNCE_POLL_SECONDS"), 60) or 60,
        # Test-only: a CA file the IMAP connection trusts instead of the system's. Deliberately
        # not read from the environment (a private CA belongs in the system's store).
        "BOUNCE_IMAP_CA_FILE": None,
        # How fast bulk mail (digests, mailings) may leave, across every worker: e.g.
        # "14/second" or "14/second;50000/day", what the relay allows. Unset: as fast as
        # the bulk lane's workers go. Transactional mail is never held by it.
        "MAIL_BULK_RATE": _bulk_rate(env.get("MAIL_BULK_RATE")),
        # A bulk delivery task gives its worker process back after this many seconds.
        "MAIL_BULK_TASK_SECONDS": float(env.get("MAIL_BULK_TASK_SECONDS") or 3),
        # The outbox decides where mail goes (SMTP or the dev mailbox), also under TESTING.
        "MAIL_SUPPRESS_SEND": False,
        # Unset: links follow the host and port the request came to (see portal.links).
        "PORTAL_BASE_URL": (env.get("PORTAL_BASE_URL") or "").strip().rstrip("/"),
        # Host names requests may use, besides PORTAL_BASE_URL's own (comma-separated).
        "EXTRA_TRUSTED_HOSTS": [h.strip() for h in (env.get("TRUSTED_HOSTS") or "").split(",") if h.strip()],
        # Proxy hops in front of the portal whose X-Forwarded-* headers are believed (ProxyFix).
        "TRUSTED_PROXIES": _count("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES")),
        "OUTBOX_SWEEP_SECONDS": float(env.get("OUTBOX_SWEEP_SECONDS") or 30),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("OUTBOX_MAX_ATTEMPTS") or 10),
        "OUTBOX_RETRY_BASE_SECONDS": float(env.get("OUTBOX_RETRY_BASE_SECONDS") or 30),
        "OUTBOX_RETRY_CAP_SECONDS": float(env.get("OUTBOX_RETRY_CAP_SECONDS") or 3600),
        "OUTBOX_LEASE_SECONDS": float(env.get("OUTBOX_LEASE_SECONDS") or 300),
        # Liveness (portal.liveness): every worker and beat records a heartbeat this often; /healthz calls one
        # older than HEARTBEAT_LATE_SECONDS late, and one older than HEARTBEAT_MISSING_SECONDS (or none) missing.
        **_heartbeat_settings(env),
        # The admin dashboard warns that mail is not leaving when a lane's oldest waiting message is older than
        # this: transactional mail goes at once; a large mailing at MAIL_BULK_RATE legitimately takes hours.
        "OUTBOX_LATE_MINUTES": _whole_number("OUTBOX_LATE_MINUTES", env.get("OUTBOX_LATE_MINUTES"), 15) or 1,
        "OUTBOX_BULK_LATE_MINUTES": _whole_number("OUTBOX_BULK_LATE_MINUTES", env.get("OUTBOX_BULK_LATE_MINUTES"),
                                                  240) or 1,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), default=True),
        # If Redis is unreachable, count in memory for a while rather than fail the request.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "portal-ratelimit",
        # Retry-After (and X-RateLimit-*) on limited responses, the 429 page included.
        "RATELIMIT_HEADERS_ENABLED": True,
        # Policy Summit registration (portal/registration). Per-IP limits on the public forms.
        "REGISTRATION_RATE_LIMIT": _rate_limit(
            "REGISTRATION_RATE_LIMIT", env.get("REGISTRATION_RATE_LIMIT"), "10 per minute;60 per hour"
        ),
        "REGISTRATION_LOST_LINK_RATE_LIMIT": _rate_limit(
            "REGISTRATION_LOST_LINK_RATE_LIMIT", env.get("REGISTRATION_LOST_LINK_RATE_LIMIT"), "5 per minute;20 per hour"
        ),
        # Per registration and 24 hours: "your link" emails, and "you are already registered"
        # emails, each. Beyond it the forms answer the same and send nothing.
        "REGISTRATION_VISITOR_EMAILS_PER_DAY": _whole_number(
            "REGISTRATION_VISITOR_EMAILS_PER_DAY", env.get("REGISTRATION_VISITOR_EMAILS_PER_DAY"), 3
        ),
        # Off by default. When scripts register with made-up addresses to take seats, turn it
        # on: a new registration holds its seat (or place in line) for this many hours until
        # the registrant confirms the emailed link; unconfirmed holds are then released.
        "REGISTRATION_CONFIRM_EMAIL": _bool(env.get("REGISTRATION_CONFIRM_EMAIL")),
        "REGISTRATION_HOLD_HOURS": _whole_number("REGISTRATION_HOLD_HOURS", env.get("REGISTRATION_HOLD_HOURS"), 24),
        # How long a request waits for the event's capacity lock before the visitor
        # gets the "busy, try again" page (PostgreSQL lock_timeout).
        "REGISTRATION_LOCK_TIMEOUT_MS": 3000,
        # Manage links in emails stay valid this long; every email carries a fresh one.
        "REGISTRATION_MANAGE_LINK_MAX_AGE": 60 * 24 * 3600,
        # Test-only switch: False skips the capacity lock so a test can prove the race
        # is real. Deliberately not read from the environment.
        "REGISTRATION_CAPACITY_LOCK": True,
        # Newsletter (portal/newsletter). Per-IP limits on the signup and "email me my link" forms.
        "NEWSLETTER_SIGNUP_RATE_LIMIT": _rate_limit(
            "NEWSLETTER_SIGNUP_RATE_LIMIT", env.get("NEWSLETTER_SIGNUP_RATE_LIMIT"), "5 per minute;30 per hour"
        ),
        "NEWSLETTER_MANAGE_LINK_RATE_LIMIT": _rate_limit(
            "NEWSLETTER_MANAGE_LINK_RATE_LIMIT", env.get("NEWSLETTER_MANAGE_LINK_RATE_LIMIT"), "5 per minute;20 per hour"
        ),
        # Per address and 24 hours, whoever asks: confirmation (or "already subscribed")
        # emails, and "your link" emails. Counted in the database, so they hold without Redis.
        "NEWSLETTER_CONFIRMATIONS_PER_DAY": _whole_number(
            "NEWSLETTER_CONFIRMATIONS_PER_DAY", env.get("NEWSLETTER_CONFIRMATIONS_PER_DAY"), 3
        ),
        "NEWSLETTER_MANAGE_LINKS_PER_DAY": _whole_number(
            "NEWSLETTER_MANAGE_LINKS_PER_DAY", env.get("NEWSLETTER_MANAGE_LINKS_PER_DAY"), 3
        ),
        # The version of the newsletter privacy notice a confirmation is recorded under.
        "NEWSLETTER_PRIVACY_VERSION": (env.get("NEWSLETTER_PRIVACY_VERSION") or "2026-11").strip()[:32],
        # Optional mailbox for List-Unsubscribe's mailto: form (e.g. unsubscribe@example.org).
        "NEWSLETTER_UNSUBSCRIBE_MAILTO": (env.get("NEWSLETTER_UNSUBSCRIBE_MAILTO") or "").strip(),
        # Confirmation links expire after 7 days; preference and unsubscribe links after a year
        # (every newsletter email carries fresh ones).
        "NEWSLETTER_CONFIRM_LINK_MAX_AGE": 7 * 24 * 3600,
        "NEWSLETTER_LINK_MAX_AGE": 365 * 24 * 3600,
        # The daily link check of the resource catalog: seconds per request, and requests at once.
        "RESOURCE_LINK_TIMEOUT_SECONDS": float(env.get("RESOURCE_LINK_TIMEOUT_SECONDS") or 10),
        "RESOURCE_LINK_CHECKS_AT_ONCE": _whole_number("RESOURCE_LINK_CHECKS_AT_ONCE",
                                                      env.get("RESOURCE_LINK_CHECKS_AT_ONCE"), 4) or 1,
        # Test-only: networks (e.g. ["127.0.0.1/32"]) the link checker and the catalog may treat
        # as public, so tests can point links at servers of their own. Deliberately not read
        # from the environment: in production only public addresses are ever contacted.
        "RESOURCE_LINK_ALLOW_PRIVATE": (),
        # Digests (portal/digests): when beat starts each edition (cron fields, UTC), how many
        # highlights one digest carries at most, and subscribers per compose batch.
        "DIGEST_WEEKLY_CRON": _cron("DIGEST_WEEKLY_CRON", env.get("DIGEST_WEEKLY_CRON"), "0 13 * * mon"),
        "DIGEST_MONTHLY_CRON": _cron("DIGEST_MONTHLY_CRON", env.get("DIGEST_MONTHLY_CRON"), "0 13 1 * *"),
        "DIGEST_HIGHLIGHTS": _whole_number("DIGEST_HIGHLIGHTS", env.get("DIGEST_HIGHLIGHTS"), 5) or 1,
        "DIGEST_BATCH_SIZE": _whole_number("DIGEST_BATCH_SIZE", env.get("DIGEST_BATCH_SIZE"), 500) or 1,
        # Check every catalog address just before an edition is composed (besides the daily check).
        "DIGEST_CHECK_LINKS_FIRST": _bool(env.get("DIGEST_CHECK_LINKS_FIRST"), default=True),
        # How often beat refreshes editions in progress, and after how many quiet seconds a
        # composing edition counts as stalled and is resumed from its checkpoint.
        "DIGEST_ADVANCE_SECONDS": float(env.get("DIGEST_ADVANCE_SECONDS") or 60),
        "DIGEST_STALL_SECONDS": float(env.get("DIGEST_STALL_SECONDS") or 120),
        # The society's postal address, shown in the footer of every bulk email (CAN-SPAM); one line.
        "ORGANIZATION_POSTAL_ADDRESS": " ".join((env.get("ORGANIZATION_POSTAL_ADDRESS") or "").split()),
        # The data controller the privacy notices name, and where people write about their data
        # (unset: the address in MAIL_DEFAULT_SENDER).
        "ORGANIZATION_NAME": " ".join((env.get("ORGANIZATION_NAME") or "Gene & Cell Therapy Society").split()),
        "PRIVACY_CONTACT_EMAIL": (env.get("PRIVACY_CONTACT_EMAIL") or "").strip(),
        # How long each kind of personal data is kept (portal.retention); the daily purge applies them.
        "RETENTION_REGISTRATION_DAYS": _days(
            "RETENTION_REGISTRATION_DAYS", env.get("RETENTION_REGISTRATION_DAYS"), 365
        ),
        "RETENTION_MAIL_BODY_DAYS": _days("RETENTION_MAIL_BODY_DAYS", env.get("RETENTION_MAIL_BODY_DAYS"), 90),
        "RETENTION_MAIL_RECORD_DAYS": _days("RETENTION_MAIL_RECORD_DAYS", env.get("RETENTION_MAIL_RECORD_DAYS"), 365),
        "RETENTION_BOUNCE_DAYS": _days("RETENTION_BOUNCE_DAYS", env.get("RETENTION_BOUNCE_DAYS"), 365),
        "RETENTION_SUPPRESSION_DAYS": _days("RETENTION_SUPPRESSION_DAYS", env.get("RETENTION_SUPPRESSION_DAYS"), 730),
        "RETENTION_DEFERRED_REQUEST_DAYS": _days(
            "RETENTION_DEFERRED_REQUEST_DAYS", env.get("RETENTION_DEFERRED_REQUEST_DAYS"), 7
        ),
        "RETENTION_UNCONFIRMED_SIGNUP_DAYS": _days(
            "RETENTION_UNCONFIRMED_SIGNUP_DAYS", env.get("RETENTION_UNCONFIRMED_SIGNUP_DAYS"), 30
        ),
        "RETENTION_SUBSCRIPTION_HISTORY_DAYS": _days(
            "RETENTION_SUBSCRIPTION_HISTORY_DAYS", env.get("RETENTION_SUBSCRIPTION_HISTORY_DAYS"), 1095
        ),
        "RETENTION_CONSENT_LOG_DAYS": _days("RETENTION_CONSENT_LOG_DAYS", env.get("RETENTION_CONSENT_LOG_DAYS"), 730),
        "RETENTION_PAGE_VIEW_DAYS": _days("RETENTION_PAGE_VIEW_DAYS", env.get("RETENTION_PAGE_VIEW_DAYS"), 395),
        "RETENTION_ADMIN_SESSION_DAYS": _days(
            "RETENTION_ADMIN_SESSION_DAYS", env.get("RETENTION_ADMIN_SESSION_DAYS"), 30
        ),
        "RETENTION_AUDIT_DAYS": _days("RETENTION_AUDIT_DAYS", env.get("RETENTION_AUDIT_DAYS"), 730),
        # When beat runs the daily purge (cron fields, UTC): at night, when hardly anyone registers.
        "RETENTION_PURGE_CRON": _cron("RETENTION_PURGE_CRON", env.get("RETENTION_PURGE_CRON"), "30 3 * * *"),
        # Rows the purge changes per transaction, so that no lock is held for long.
        "RETENTION_PURGE_BATCH": _whole_number("RETENTION_PURGE_BATCH", env.get("RETENTION_PURGE_BATCH"), 500) or 1,
        # Folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf for attendance certificates.
        "CERTIFICATE_FONT_DIR": (env.get("CERTIFICATE_FONT_DIR") or "/usr/share/fonts/truetype/dejavu").strip(),
        # Cookie consent (portal/consent): raising the version asks every visitor again.
        "CONSENT_POLICY_VERSION": (env.get("CONSENT_POLICY_VERSION") or "2026-11").strip()[:32],
        "ANALYTICS_RATE_LIMIT": _rate_limit(
            "ANALYTICS_RATE_LIMIT", env.get("ANALYTICS_RATE_LIMIT"), "120 per minute"
        ),
        # Admin pages (portal/admin). Login attempts per IP and per account address.
        "ADMIN_LOGIN_RATE_LIMIT": _rate_limit(
            "ADMIN_LOGIN_RATE_LIMIT", env.get("ADMIN_LOGIN_RATE_LIMIT"), "5 per 15 minutes"
        ),
        # An admin session unused this long ends; a new login is needed.
        "ADMIN_IDLE_MINUTES": _whole_number("ADMIN_IDLE_MINUTES", env.get("ADMIN_IDLE_MINUTES"), 30),
        # Every admin and staff account must use an authenticator app code after the password.
        "ADMIN_REQUIRE_2FA": _bool(env.get("ADMIN_REQUIRE_2FA")),
        "WTF_CSRF_TIME_LIMIT": 3600 * 4,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def trusted_hosts(config: dict) -> list[str] | None:
    """The Host headers to accept: PORTAL_BASE_URL's host plus TRUSTED_HOSTS; None (any) when unset.

    Without it a forged Host header would steer redirects (and any link built from the
    request) to another site. A portal on a loopback address answers to every loopback name.
    """
    from urllib.parse import urlsplit

    base_host = urlsplit(config["PORTAL_BASE_URL"]).hostname if config["PORTAL_BASE_URL"] else None
    if base_host is None:
        return None
    hosts = [base_host, *config["EXTRA_TRUSTED_HOSTS"]]
    if base_host in LOOPBACK_HOSTS:
        hosts += [h for h in LOOPBACK_HOSTS if h not in hosts]
    return hosts


def uses_embedded_services(config: dict) -> bool:
    """True when running on the server-less default (SQLite, no Redis, dev mailbox)."""
    return config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and not config["REDIS_URL"]


#: A key shorter than this can be guessed offline from any signed link or cookie.
MIN_SECRET_KEY_BYTES = 32
#: Keys printed in this repository or in Flask's documentation: anyone could sign with them.
#: (.env.example leaves SECRET_KEY empty, which reads as the development key.)
KNOWN_EXAMPLE_SECRET_KEYS = frozenset({
    DEV_SECRET_KEY,
    "image-build-only",
    "dev",
    "secret",
    "changeme",
    "change-me",
    "your-secret-key",
    "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf",  # Flask's docs, "Configuration Handling"
})
HOW_TO_MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def check_production_safety(config: dict) -> None:
    """Refuse a SECRET_KEY anyone could know or guess: with it they could forge manage links and sessions.

    A development portal (`make run` sets PORTAL_DEVELOPMENT=1) may use the public
    development key, since it serves only this machine.
    """
    if config["DEVELOPMENT"]:
        return
    key = config["SECRET_KEY"]
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if key == DEV_SECRET_KEY:
        problem = "SECRET_KEY is not set"
    elif key in KNOWN_EXAMPLE_SECRET_KEYS:
        problem = "SECRET_KEY is a published example value"
    elif len(raw) < MIN_SECRET_KEY_BYTES:
        problem = f"SECRET_KEY is {len(raw)} bytes long, fewer than {MIN_SECRET_KEY_BYTES}"
    else:
        return
    raise ConfigError(
        f"Refusing to start: {problem}; set it to a long random value made with `{HOW_TO_MAKE_A_KEY}` "
        "(for local development use `make run`, which sets PORTAL_DEVELOPMENT=1)."
    )


def configure_session_cookie(config: dict) -> None:
    """Over HTTPS the session cookie is Secure and __Host- prefixed: nothing to remember to switch on.

    The prefix makes browsers refuse the cookie unless it is Secure, host-only
    and for path /, so a sibling subdomain cannot plant a session.
    """
    if config["PORTAL_BASE_URL"].startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True
        config["SESSION_COOKIE_NAME"] = "__Host-session"
        config["SESSION_COOKIE_DOMAIN"] = None
        config["SESSION_COOKIE_PATH"] = "/"
