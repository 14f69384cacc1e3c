"""A private Postfix instance on loopback, for tests and benchmarks: Debian's Postfix, our own configuration.

Debian's package is installed with "No configuration" preseeded (the Makefile's
`bounce-tools` target does it for `make test`; `ensure_installed` for the bench),
so it writes no /etc/postfix/main.cf and starts nothing. Each instance is a
temporary directory holding its own main.cf, master.cf, queue, data and log;
`postfix -c DIR start` / `stop` start and stop exactly that instance, listening on
127.0.0.1:<free port> only. A Postfix the machine already runs (with /etc/postfix)
is neither used nor touched.

Settings may name the instance's folders as {root} and {etc}, e.g.
`"transport_maps": "texthash:{etc}/transport"` with `files={"transport": "..."}`
(texthash: reads the file as it is, no postmap needed).
"""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.instance import PrivateInstance
from tests.support.smtp import free_port
from tests.support.wait import greets, wait_until

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
MASTER_CF_PROTO = Path("/etc/postfix/master.cf.proto")

#: main.cf common to every instance: loopback only, relaying for loopback, no TLS and no DNS.
BASE_SETTINGS = {
    "compatibility_level": "3.6",
    "mydestination": "",
    "local_recipient_maps": "",
    "alias_maps": "",
    "alias_database": "",
    "inet_interfaces": "loopback-only",
    "inet_protocols": "ipv4",
    "mynetworks": "127.0.0.0/8",
    "smtpd_relay_restrictions": "permit_mynetworks, reject",
    "smtpd_recipient_restrictions": "permit_mynetworks, reject",
    "smtpd_tls_security_level": "none",
    "smtp_tls_security_level": "none",
    "biff": "no",
    # Everything is on loopback: no DNS.
    "smtpd_peername_lookup": "no",
    "disable_dns_lookups": "yes",
    "smtp_dns_support_level": "disabled",
}


def ensure_installed(say=print) -> None:
    """apt-get install postfix (Debian) when it is not there; writes no /etc/postfix/main.cf."""
    if Path(POSTFIX).exists() and MASTER_CF_PROTO.exists():
        return
    say("   installing Postfix (apt-get, 'No configuration')")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select No configuration\n",
                   text=True, check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env, stdout=subprocess.DEVNULL)


class PostfixInstance(PrivateInstance):
    """`with PostfixInstance(settings) as postfix:` Postfix on 127.0.0.1:postfix.port, stopped and removed after."""

    def __init__(self, settings: dict, files: dict[str, str] | None = None, port: int | None = None,
                 name: str = "test"):
        self.settings = settings
        self.files = files or {}
        self.port = port or free_port()
        self.name = name
        self.prefix = f"{name}-postfix"

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def maillog(self) -> Path:
        return self.root / "maillog"

    def __enter__(self):
        if not Path(POSTFIX).exists():
            raise RuntimeError("Postfix is not installed: `make bounce-tools` installs it")
        return super().__enter__()

    def _start(self) -> None:
        self._postfix("start")

    def _stop(self) -> None:
        if (self.root / "queue" / "pid" / "master.pid").exists():
            self._postfix("stop", check=False)
            # master exits once its children have; wait for the lock to go.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.master_pid() is not None:
                time.sleep(0.1)

    def master_pid(self) -> int | None:
        """The running master's pid, or None."""
        try:
            pid = int((self.root / "queue" / "pid" / "master.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def _configure(self) -> None:
        etc = self.config_dir
        etc.mkdir()
        for name in ("queue", "data"):
            (self.root / name).mkdir()
        shutil.chown(self.root / "data", "postfix")
        for name, text in self.files.items():
            (etc / name).write_text(text)
        (etc / "main.cf").write_text("")
        master = MASTER_CF_PROTO.read_text()
        # The default smtpd on port 25 becomes one on the instance's own loopback port.
        master = re.sub(r"^smtp(\s+inet\s)", f"127.0.0.1:{self.port}\\1", master, count=1, flags=re.M)
        (etc / "master.cf").write_text(master)
        settings = {
            **BASE_SETTINGS,
            **{name: str(value).format(root=self.root, etc=etc) for name, value in self.settings.items()},
            "queue_directory": str(self.root / "queue"),
            "data_directory": str(self.root / "data"),
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "syslog_name": f"postfix-{self.name}-{self.port}",
        }
        self._postconf("-e", *[f"{name}={value}" for name, value in settings.items()])
        # No chroot: the instance's queue is a temporary directory without the chroot's copies of /etc files.
        self._postconf("-F", "*/*/chroot=n")
        # The log goes to maillog_file, written by postlogd.
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
        try:
            wait_until(lambda: greets(self.port, b"220"), timeout, 0.1, f"Postfix's greeting on port {self.port}")
        except AssertionError as exc:
            raise RuntimeError(f"{exc}:\n{self.log_text()[-3000:]}") from None

    def log_text(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

    def queue_empty(self) -> bool:
        """Nothing left in the instance's queue: everything accepted was delivered, bounced or discarded."""
        for name in ("incoming", "active", "deferred", "maildrop", "hold"):
            folder = self.root / "queue" / name
            if folder.exists() and any(path.is_file() for path in folder.rglob("*")):
                return False
        return True
