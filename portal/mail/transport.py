"""Where messages go: the SMTP relay (MAIL_SERVER), or the development Maildir when there is none.

Flask-Mail holds the SMTP settings (MAIL_*); the session is opened from them
with smtplib (a timeout, and TLS that checks the relay's certificate), and
sendmail sends each message, as the bytes message_bytes made (and DKIM
signed), over that one kept-open connection. Every failure is turned into one of three errors that tell the
caller what to do with the message: retry it, fail it, or put the whole batch
back because the server cannot be reached.
"""
import mailbox
import smtplib
import ssl
from contextlib import contextmanager
from email.utils import parseaddr
from pathlib import Path

from flask import current_app


class DeliveryError(Exception):
    """Sending one message did not succeed; the subclass says whether to try again."""


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: a 4xx reply or trouble with the connection."""


class ServerUnavailableError(TemporaryDeliveryError):
    """No usable connection to the server, so the rest of the batch would fail the same way."""


class PermanentDeliveryError(DeliveryError):
    """The server refused this message for good (5xx); retrying would not help."""


class RecipientRefusedError(PermanentDeliveryError):
    """The server refused the recipient for good (5xx at RCPT): the address, not the message, is the trouble.

    A 5xx at MAIL FROM or DATA stays a plain PermanentDeliveryError: it is
    about the sender or the content and says nothing about the address.
    """


class SMTPTransport:
    """One SMTP connection reused for a batch; reconnects once if the server hung up meanwhile."""

    def __init__(self, config):
        self.timeout = config["MAIL_TIMEOUT"]
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        """A session with the relay from Flask-Mail's settings (MAIL_SERVER, MAIL_PORT, MAIL_USE_*, MAIL_USERNAME...).

        Opened here rather than by Flask-Mail's own connect: that one has no timeout (a
        relay that accepts TCP but never greets would hang the worker) and starts TLS
        without checking the relay's certificate, so anyone on the path could pose as
        the relay and take the password. Here TLS verifies the certificate and name.
        """
        state = current_app.extensions["mail"]
        where = f"{state.server}:{state.port}"
        context = ssl.create_default_context()
        try:
            if state.use_ssl:
                conn = smtplib.SMTP_SSL(state.server, state.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(state.server, state.port, timeout=self.timeout)
            try:
                if state.use_tls:
                    conn.starttls(context=context)
                if state.username and state.password:
                    conn.login(state.username, state.password)
            except BaseException:
                conn.close()
                raise
            return conn
        except smtplib.SMTPResponseException as exc:
            # Failing at greeting, STARTTLS or login is about the server or our
            # settings, never about one message: retry rather than fail the row.
            raise ServerUnavailableError(f"{where} refused the session: {_reply_text(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailableError(f"cannot connect to {where}: {exc}") from exc

    def send(self, data: bytes, sender: str, recipient: str) -> None:
        """Send the message bytes as they are: sendmail, not send_message, which would serialise anew.

        Raw UTF-8 in the message (headers written for SMTPUTF8) or in an address
        needs the server's SMTPUTF8 (RFC 6531), asked for with 8BITMIME as
        send_message would; a server without it cannot take the message at all.
        """
        envelope_from, envelope_to = parseaddr(sender)[1], parseaddr(recipient)[1]
        international = not (data.isascii() and (envelope_from + envelope_to).isascii())
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                if international:
                    self.conn.ehlo_or_helo_if_needed()
                    if not self.conn.has_extn("smtputf8"):
                        raise PermanentDeliveryError(
                            "server cannot take this message: it needs SMTPUTF8, which the server does not offer")
                self.conn.sendmail(envelope_from, [envelope_to], data, mail_options=options)
            except smtplib.SMTPServerDisconnected as exc:
                # Usually an idle connection the server closed; a fresh one may work. A
                # message the server had taken before hanging up may so go twice, which
                # at-least-once allows and its fixed Message-ID makes show once.
                self._drop()
                if attempt == 1:
                    continue
                raise ServerUnavailableError(f"server disconnected: {exc}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                error = _classify(code, reply)
                if type(error) is PermanentDeliveryError:
                    error = RecipientRefusedError(str(error))
                raise error from exc
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421:
                    self._drop()
                raise _classify(exc.smtp_code, exc.smtp_error) from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise PermanentDeliveryError(f"server cannot take this message: {exc}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                # A timeout may leave the server mid-reply, so this connection
                # cannot be trusted for another message.
                self._drop()
                raise ServerUnavailableError(f"connection error: {exc}") from exc
            return

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()


class DevMailboxTransport:
    """The embedded default: a Maildir under instance/, shown at /dev/mail."""

    def __init__(self, config):
        self.box = mailbox.Maildir(Path(config["DEV_MAILBOX"]), create=True)

    def send(self, data: bytes, sender: str, recipient: str) -> None:
        # The very bytes SMTP would carry.
        self.box.add(data)

    def close(self) -> None:
        pass


@contextmanager
def open_transport():
    config = current_app.config
    transport = SMTPTransport(config) if config["MAIL_SERVER"] else DevMailboxTransport(config)
    try:
        yield transport
    finally:
        transport.close()


def _reply_text(code: int, reply) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}"


def _classify(code: int, reply) -> DeliveryError:
    message = _reply_text(code, reply)
    if code == 421:  # the server is closing this session: nothing more will get through it
        return ServerUnavailableError(message)
    if 500 <= code < 600:
        return PermanentDeliveryError(message)
    return TemporaryDeliveryError(message)
