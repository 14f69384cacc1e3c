"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

`replies` scripts the answer to DATA and `envelope_replies` the answer to MAIL
or RCPT ("RCPT", "550 ..."): each queued reply is used once, then the server
accepts normally again, which is how tests make a server fail temporarily or
for good.
"""
import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class RecordingHandler:
    messages: list[ReceivedMail] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    #: (command, reply) pairs, e.g. ("RCPT", "550 5.1.1 No such user"), each used once.
    envelope_replies: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: threading.Condition = None

    def __post_init__(self):
        self.received = threading.Condition(self.lock)

    def _scripted(self, command: str) -> str | None:
        with self.lock:
            if self.envelope_replies and self.envelope_replies[0][0] == command:
                return self.envelope_replies.pop(0)[1]
        return None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self._scripted("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._scripted("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.replies:
                reply = self.replies.pop(0)
                if not reply.startswith("2"):
                    return reply
            self.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content))
            )
            self.received.notify_all()
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, port: int | None = None):
        self.handler = RecordingHandler()
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def script(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.replies.extend(replies)

    def script_envelope(self, *replies: tuple[str, str]) -> None:
        with self.handler.lock:
            self.handler.envelope_replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedMail]:
        """Block until at least `count` messages arrived (or fail after `timeout`)."""
        with self.handler.received:
            ok = self.handler.received.wait_for(lambda: len(self.handler.messages) >= count, timeout=timeout)
            got = list(self.handler.messages)
        assert ok, f"expected {count} message(s) within {timeout}s, got {len(got)}"
        return got


class SlowHandler(RecordingHandler):
    """Takes a moment per message, as a busy relay does, so a kill lands mid-batch."""

    delay = 0.05

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class SlowSMTPServer(SMTPServer):
    def __init__(self, delay: float = 0.05):
        self.handler = SlowHandler()
        self.handler.delay = delay
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
