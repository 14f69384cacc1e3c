"""A Postfix relay for the mail benchmarks: Debian's Postfix on loopback, discarding everything it accepts.

The bench installs Postfix when it is missing (apt-get, "No configuration" preseeded,
so Debian writes no /etc/postfix/main.cf and starts nothing), then runs an instance of
its own: a temporary directory holds its main.cf, master.cf, queue, data and log, and
`postfix -c DIR start` / `stop` start and stop exactly that instance. A Postfix the
machine already runs (with /etc/postfix) is neither used nor touched.

The instance listens on 127.0.0.1:<free port> only, relays for 127.0.0.0/8, and hands
every message to the `discard` transport after queueing it as usual (cleanup writes the
queue file and fsyncs it before smtpd answers 250, as for real mail). Its log
(`maillog_file`, written by postlogd) has one `message-id=<...>` line per message that
cleanup accepted, which is how the bench counts what the relay received: duplicates and
lost messages are counted by Message-ID at the relay, not at the sender.
"""
import re
import time
from collections import Counter

from tests.bench import progress
from tests.support.postfix import PostfixInstance, ensure_installed

MESSAGE_ID = re.compile(r"\]: [0-9A-F]+: message-id=<([^>]*)>")

#: main.cf of the bench instance, besides tests.support.postfix.BASE_SETTINGS.
SETTINGS = {
    "myhostname": "relay.bench.localdomain",
    "mydomain": "bench.localdomain",
    "myorigin": "$myhostname",
    # Nothing is local: every recipient goes to the discard transport.
    "default_transport": "discard",
    "relay_transport": "discard",
    "local_transport": "discard",
    "message_size_limit": "104857600",
    "smtpd_client_connection_count_limit": "1000",
    "smtpd_client_connection_rate_limit": "0",
    "smtpd_client_message_rate_limit": "0",
    "default_process_limit": "200",
    # No flow-control pauses: the relay takes mail as fast as its processes can.
    "in_flow_delay": "0s",
}


class PostfixRelay(PostfixInstance):
    """`with PostfixRelay() as relay:` a discarding Postfix on 127.0.0.1:relay.port, stopped and removed after."""

    def __init__(self, port: int | None = None):
        super().__init__(SETTINGS, port=port, name="bench")
        self._log_offset = self._read_to = self._received = 0

    def __enter__(self) -> "PostfixRelay":
        ensure_installed(say=progress)
        return super().__enter__()

    # ---------------------------------------------------------------- counting

    def mark(self) -> None:
        """Count from here on: message_ids() and received() see only what the log got after this call."""
        self._log_offset = self.maillog.stat().st_size if self.maillog.exists() else 0
        self._read_to, self._received = self._log_offset, 0

    def received(self) -> int:
        """Messages the relay accepted since mark(), read incrementally (cheap enough to poll)."""
        with open(self.maillog, "rb") as log:
            log.seek(self._read_to)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1
        self._read_to += complete
        self._received += chunk[:complete].count(b": message-id=<")
        return self._received

    def message_ids(self) -> Counter:
        """How often each Message-ID was accepted by the relay since mark()."""
        with open(self.maillog, "rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode("utf-8", "replace")
        return Counter(MESSAGE_ID.findall(text))

    def wait_for(self, count: int, timeout: float, interval: float = 0.5) -> Counter:
        """Until the relay has logged `count` messages since mark() (or `timeout` passes); the Message-IDs."""
        deadline = time.monotonic() + timeout
        while True:
            ids = self.message_ids()
            if sum(ids.values()) >= count or time.monotonic() > deadline:
                return ids
            time.sleep(interval)

    def pids(self) -> list[int]:
        """The instance's processes: its master and everything under it."""
        from tests.bench.mailbench import process_tree

        master = self.master_pid()
        return process_tree(master) if master is not None else []


if __name__ == "__main__":  # a smoke test: python -m tests.bench.postfix
    import smtplib

    with PostfixRelay() as relay:
        relay.mark()
        with smtplib.SMTP("127.0.0.1", relay.port) as smtp:
            for n in range(3):
                smtp.sendmail("a@example.org", [f"b{n}@example.net"],
                              f"Message-ID: <m{n}@bench>\r\nSubject: x\r\n\r\nhello\r\n".encode())
        print(relay.wait_for(3, timeout=10))
        time.sleep(1)
        print("queue empty:", relay.queue_empty(), "pids", relay.pids())
