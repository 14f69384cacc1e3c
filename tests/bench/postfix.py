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
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.bench import progress
from tests.support.smtp import free_port

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
MASTER_CF_PROTO = Path("/etc/postfix/master.cf.proto")
MESSAGE_ID = re.compile(r"\]: [0-9A-F]+: message-id=<([^>]*)>")

#: main.cf of the bench instance (`postconf -c DIR -e`).
SETTINGS = {
    "compatibility_level": "3.6",
    "myhostname": "relay.bench.localdomain",
    "mydomain": "bench.localdomain",
    "myorigin": "$myhostname",
    # Nothing is local: every recipient goes to the discard transport.
    "mydestination": "",
    "local_recipient_maps": "",
    "alias_maps": "",
    "alias_database": "",
    "default_transport": "discard",
    "relay_transport": "discard",
    "local_transport": "discard",
    "inet_interfaces": "loopback-only",
    "inet_protocols": "ipv4",
    "mynetworks": "127.0.0.0/8",
    "smtpd_relay_restrictions": "permit_mynetworks, reject",
    "smtpd_recipient_restrictions": "permit_mynetworks, reject",
    "smtpd_tls_security_level": "none",
    "smtp_tls_security_level": "none",
    "message_size_limit": "104857600",
    "smtpd_client_connection_count_limit": "1000",
    "smtpd_client_connection_rate_limit": "0",
    "smtpd_client_message_rate_limit": "0",
    "default_process_limit": "200",
    "biff": "no",
    # No DNS in the bench (the senders are on loopback).
    "smtpd_peername_lookup": "no",
    "disable_dns_lookups": "yes",
    "smtp_dns_support_level": "disabled",
    # No flow-control pauses: the relay takes mail as fast as its processes can.
    "in_flow_delay": "0s",
}


def ensure_installed() -> None:
    """apt-get install postfix (Debian) when it is not there; writes no /etc/postfix/main.cf."""
    if Path(POSTFIX).exists() and MASTER_CF_PROTO.exists():
        return
    progress("   installing Postfix (apt-get, 'No configuration')")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select No configuration\n",
                   text=True, check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env, stdout=subprocess.DEVNULL)


class PostfixRelay:
    """`with PostfixRelay() as relay:` a discarding Postfix on 127.0.0.1:relay.port, stopped and removed after."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.root: Path | None = None
        self._log_offset = self._read_to = self._received = 0

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def maillog(self) -> Path:
        return self.root / "maillog"

    def __enter__(self) -> "PostfixRelay":
        ensure_installed()
        # Not under /tmp's sticky parent alone: Postfix wants its queue owned by root/postfix.
        self.root = Path(tempfile.mkdtemp(prefix="bench-postfix-"))
        os.chmod(self.root, 0o755)
        try:
            self._configure()
            self._postfix("start")
            self._wait_listening()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is None:
            return
        if (self.root / "queue" / "pid" / "master.pid").exists():
            self._postfix("stop", check=False)
            # master exits once its children have; wait for the lock to go.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self._master_running():
                time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def _master_running(self) -> bool:
        pid_file = self.root / "queue" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return False
        return True

    def _configure(self) -> None:
        etc = self.config_dir
        etc.mkdir()
        for name in ("queue", "data"):
            (self.root / name).mkdir()
        shutil.chown(self.root / "data", "postfix")
        (etc / "main.cf").write_text("")
        master = MASTER_CF_PROTO.read_text()
        # The default smtpd on port 25 becomes one on the bench's own loopback port.
        master = re.sub(r"^smtp(\s+inet\s)", f"127.0.0.1:{self.port}\\1", master, count=1, flags=re.M)
        (etc / "master.cf").write_text(master)
        settings = {
            **SETTINGS,
            "queue_directory": str(self.root / "queue"),
            "data_directory": str(self.root / "data"),
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "syslog_name": f"postfix-bench-{self.port}",
        }
        self._postconf("-e", *[f"{name}={value}" for name, value in settings.items()])
        # No chroot: the instance's queue is a temporary directory without the chroot's copies of /etc files.
        self._postconf("-F", "*/*/chroot=n")
        # cleanup logs the message-id of every message it accepts (its default); make sure postlogd runs.
        if "postlog" not in master:
            self._postconf("-M", "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd")

    def _postconf(self, *args: str) -> None:
        subprocess.run([POSTCONF, "-c", str(self.config_dir), *args], check=True, capture_output=True, text=True)

    def _postfix(self, command: str, check: bool = True) -> None:
        result = subprocess.run([POSTFIX, "-c", str(self.config_dir), command], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"postfix {command} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
                               f"{self.log_text()[-3000:]}")

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    if sock.recv(512).startswith(b"220"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Postfix did not greet on 127.0.0.1:{self.port}:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    # ---------------------------------------------------------------- counting

    def log_text(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

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

    def queue_empty(self) -> bool:
        """Nothing left in the instance's queue (everything accepted was discarded)."""
        for name in ("incoming", "active", "deferred", "maildrop"):
            folder = self.root / "queue" / name
            if folder.exists() and any(path.is_file() for path in folder.rglob("*")):
                return False
        return True

    def pids(self) -> list[int]:
        """The instance's processes: its master and everything under it."""
        from tests.bench.mailbench import process_tree

        try:
            master = int((self.root / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return process_tree(master)


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
