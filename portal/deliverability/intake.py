"""Bounce intake: read the bounce mailbox (a local Maildir, or IMAP) and process each report in it.

MAIL_BOUNCE_ADDRESS's mail (DSNs, ARF complaints, auto-replies) lands in one
mailbox: BOUNCE_MAILDIR on the same host, or BOUNCE_IMAP_URL. A poll takes the
messages there one at a time: service.process_report records what it says,
the poll commits, and only then deletes the message. So a poll that dies
anywhere loses nothing: a message whose commit did not happen is still there
for the next poll, and one that was committed but not yet deleted is processed
again, which records nothing new (process_report ignores a report it already
has). Reports that match nothing we sent, and messages that could not be
processed at all, are filed in the folder `unmatched` for a person to look at:
filed first, then committed, so a crash in between costs a count, never a
second copy of the event.

The poll commits itself, message by message, because the mailbox cannot take
part in the database's transaction: the commit must come before the delete.
"""
import fcntl
import ipaddress
import logging
import mailbox
import ssl
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.database import is_postgresql
from portal.deliverability.models import DeliveryEventKind
from portal.deliverability.service import process_report
from portal.extensions import db

log = logging.getLogger(__name__)

#: The folder (Maildir++ subfolder, or IMAP folder) unmatched and unreadable reports are filed in.
UNMATCHED_FOLDER = "unmatched"
#: Seconds an IMAP connection may wait on the server before the poll gives up.
IMAP_TIMEOUT = 30
#: A poll takes no new message after this many seconds; the rest waits for the next poll.
POLL_BUDGET_SECONDS = 300
#: The PostgreSQL advisory lock that keeps polls from overlapping ("bounces" as a number).
LOCK_KEY = int.from_bytes(b"bounces", "big")
#: What the counts are called, in the order the CLI prints them.
OUTCOMES = ("hard_bounce", "soft_bounce", "complaint", "unmatched", "failed", "ignored")


class IntakeError(Exception):
    """The bounce mailbox cannot be read now; the message says why, without credentials."""


@dataclass
class PollResult:
    """What one poll did: counts per outcome, and why it stopped early, if it did."""

    counts: Counter = field(default_factory=Counter)
    error: str | None = None
    busy: bool = False

    def as_dict(self) -> dict:
        return {**{name: self.counts[name] for name in OUTCOMES}, "error": self.error, "busy": self.busy}


# ---------------------------------------------------------------- sources


class MaildirSource:
    """A local Maildir (stdlib mailbox); unmatched messages go to its Maildir++ subfolder `.unmatched`."""

    def __init__(self, path: str):
        self.where = path
        with self._errors():
            self.box = mailbox.Maildir(path, factory=None, create=False)
            self.box.keys()  # a missing or unreadable folder shows here, not mid-poll

    @contextmanager
    def _errors(self):
        try:
            yield
        except (OSError, mailbox.Error) as exc:
            raise IntakeError(f"cannot read the Maildir {self.where}: {exc}") from exc

    def keys(self) -> list[str]:
        with self._errors():
            return sorted(self.box.keys())

    def read(self, key: str) -> bytes | None:
        """The message's bytes; None when it is gone (another poller took it)."""
        with self._errors():
            try:
                return self.box.get_bytes(key)
            except KeyError:
                return None

    def delete(self, key: str) -> None:
        with self._errors():
            self.box.discard(key)

    def file_unmatched(self, key: str, raw: bytes) -> None:
        with self._errors():
            self.box.add_folder(UNMATCHED_FOLDER).add(raw)
            self.box.discard(key)

    def close(self) -> None:
        self.box.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class IMAPSource:
    """An IMAP folder (imapclient): imaps:// is TLS from the start, imap:// upgrades with STARTTLS.

    The server's certificate and name are checked either way. Only a server on this
    host (a loopback address) may be spoken to without TLS, since nothing then
    crosses a network. Messages are read with BODY.PEEK, so a failed poll leaves
    them unread for the next one.
    """

    def __init__(self, url: str, ca_file: str | None = None, timeout: float = IMAP_TIMEOUT):
        parts = urlsplit(url)
        secure = parts.scheme == "imaps"
        port = parts.port or (993 if secure else 143)
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"
        # Never the user name or password: this goes into messages and logs.
        self.where = f"{parts.scheme}://{parts.hostname}:{port}/{self.folder}"
        self._unmatched: str | None = None
        context = ssl.create_default_context(cafile=ca_file)
        with self._errors():
            self.client = IMAPClient(parts.hostname, port=port, ssl=secure, ssl_context=context, timeout=timeout)
        try:
            with self._errors():
                if not secure and not _is_loopback(parts.hostname):
                    self.client.starttls(context)
                self.client.login(unquote(parts.username), unquote(parts.password))
                self.client.select_folder(self.folder)
                # Left by a poll that died between flagging a processed message and expunging it.
                self.client.expunge()
        except BaseException:
            self.client.shutdown()
            raise

    @contextmanager
    def _errors(self):
        try:
            yield
        except (OSError, IMAPClientError) as exc:
            raise IntakeError(f"cannot read the IMAP mailbox {self.where}: {exc}") from exc

    def keys(self) -> list[int]:
        with self._errors():
            return sorted(self.client.search("ALL"))

    def read(self, uid: int) -> bytes | None:
        with self._errors():
            return self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")

    def delete(self, uid: int) -> None:
        with self._errors():
            self.client.delete_messages([uid])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge([uid])
            else:
                self.client.expunge()

    def file_unmatched(self, uid: int, raw: bytes) -> None:
        with self._errors():
            folder = self._unmatched_folder()
            if self.client.has_capability("MOVE"):
                self.client.move([uid], folder)
                return
            self.client.copy([uid], folder)
        self.delete(uid)

    def _unmatched_folder(self) -> str:
        """`unmatched` under the personal namespace (e.g. INBOX.unmatched on servers that want that), made once."""
        if self._unmatched is None:
            personal = self.client.namespace().personal if self.client.has_capability("NAMESPACE") else None
            name = (personal[0][0] if personal else "") + UNMATCHED_FOLDER
            if not self.client.folder_exists(name):
                self.client.create_folder(name)
            self._unmatched = name
        return self._unmatched

    def close(self) -> None:
        try:
            self.client.logout()
        except (OSError, IMAPClientError):
            self.client.shutdown()


def open_source(config) -> MaildirSource | IMAPSource:
    if config["BOUNCE_MAILDIR"]:
        return MaildirSource(config["BOUNCE_MAILDIR"])
    if config["BOUNCE_IMAP_URL"]:
        return IMAPSource(config["BOUNCE_IMAP_URL"], config["BOUNCE_IMAP_CA_FILE"])
    raise IntakeError("No bounce mailbox is configured: set BOUNCE_MAILDIR or BOUNCE_IMAP_URL.")


def source_configured(config) -> bool:
    return bool(config["BOUNCE_MAILDIR"] or config["BOUNCE_IMAP_URL"])


# ---------------------------------------------------------------- polling


def poll_bounce_mailbox() -> PollResult:
    """Process every message in the bounce mailbox (as of the start of the poll), one at a time."""
    result = PollResult()
    try:
        with poll_lock() as holding:
            if holding:
                _poll(result)
            else:
                result.busy = True
    except IntakeError as exc:
        result.error = str(exc)
    return result


def _poll(result: PollResult) -> None:
    source = open_source(current_app.config)
    deadline = time.monotonic() + POLL_BUDGET_SECONDS
    try:
        for key in source.keys():
            if time.monotonic() > deadline:
                break
            _take(source, key, result.counts)
    except OperationalError as exc:
        db.session.rollback()
        result.error = f"the database is not available ({type(exc.orig).__name__}); the rest waits for the next poll"
    finally:
        source.close()


def _take(source, key, counts: Counter) -> None:
    """Process one message, commit, then delete it (or file it in `unmatched`)."""
    raw = source.read(key)
    if raw is None:
        return
    filed = False
    try:
        kind = process_report(raw)
        if kind is DeliveryEventKind.UNMATCHED:
            source.file_unmatched(key, raw)
            filed = True
        db.session.commit()
    except (IntakeError, OperationalError):
        # The mailbox or the database, not this message: it stays where it is for the next poll.
        db.session.rollback()
        raise
    except Exception as exc:  # this message cannot be processed: keep it for a person, go on with the rest
        db.session.rollback()
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        # The exception's text may quote the report (addresses): only its type and place are logged.
        log.error("a message in the bounce mailbox could not be processed (%s at %s:%s); filed in %r",
                  type(exc).__name__, Path(frame.filename).name, frame.lineno, UNMATCHED_FOLDER)
        if not filed:
            source.file_unmatched(key, raw)
        counts["failed"] += 1
        return
    if kind is DeliveryEventKind.UNMATCHED:
        counts["unmatched"] += 1
        return
    source.delete(key)
    counts[kind.value if kind is not None else "ignored"] += 1


@contextmanager
def poll_lock():
    """Yields whether this poll holds the lock, which a poller that dies gives up at once.

    Two polls at once would both read the same messages; beat plus a manual
    `flask bounces poll`, or a slow poll still running at the next beat, would.
    On PostgreSQL it is an advisory lock on a connection of its own (ended with
    that connection); on the embedded default's SQLite, a file lock in the
    instance folder (ended with the file, also when the process dies).
    """
    if is_postgresql():
        try:
            connection = db.engine.connect()
        except OperationalError as exc:
            raise IntakeError(f"cannot take the poll lock: the database is not available ({type(exc.orig).__name__})") from exc
        try:
            yield connection.scalar(select(func.pg_try_advisory_lock(LOCK_KEY)))
        finally:
            # Closed, not handed back to the pool: a pooled connection would keep the lock.
            connection.invalidate()
            connection.close()
        return
    with open(Path(current_app.instance_path) / "bounce-poll.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # released when the file is closed, also when the process dies
