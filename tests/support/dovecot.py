"""A private Dovecot IMAP server on loopback serving one Maildir, for the bounce intake tests.

Debian's dovecot-imapd (the Makefile's `bounce-tools` target installs it) is run
from a temporary directory with a configuration of its own (`dovecot -F -c
FILE`, in the foreground, stopped by the test): its own base and state folders,
log, password file and ports. /etc/dovecot and a Dovecot the machine may run are
neither read nor touched. It listens for plain IMAP and for IMAP over TLS (with
the given certificate) on free loopback ports; mail is the Maildir it is given,
read and written as the uid that owns it.
"""
import subprocess
from pathlib import Path

from tests.support.instance import PrivateInstance
from tests.support.smtp import free_port
from tests.support.tls import Certificate
from tests.support.wait import greets, wait_until

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """\
instance_name = {name}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
mail_location = maildir:{maildir}
namespace inbox {{
  inbox = yes
  separator = .
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


class DovecotServer(PrivateInstance):
    """`with DovecotServer(maildir, certificate, user, password) as imap:` IMAP on imap.port, IMAPS on imap.tls_port."""

    prefix = "test-dovecot"

    def __init__(self, maildir: Path, certificate: Certificate, user: str, password: str):
        self.maildir = maildir
        self.certificate = certificate
        self.user, self.password = user, password
        self.port, self.tls_port = free_port(), free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "DovecotServer":
        if not Path(DOVECOT).exists():
            raise RuntimeError("Dovecot is not installed: `make bounce-tools` installs it")
        return super().__enter__()

    def _start(self) -> None:
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _configure(self) -> None:
        for name in ("run", "state"):
            (self.root / name).mkdir()
        owner = self.maildir.parent.stat()
        home = self.maildir.parent
        # user:password:uid:gid:(gecos):home:(shell): mail is read as the Maildir's owner.
        (self.root / "users").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{owner.st_uid}:{owner.st_gid}::{home}::\n")
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            name=f"test-dovecot-{self.port}", root=self.root, cert=self.certificate.cert, key=self.certificate.key,
            maildir=self.maildir, imap_port=self.port, imaps_port=self.tls_port,
        ))

    def _wait_listening(self, timeout: float = 30) -> None:
        try:
            wait_until(lambda: self.process.poll() is not None or greets(self.port, b"* OK"), timeout, 0.1,
                       f"Dovecot's greeting on port {self.port}")
        except AssertionError as exc:
            raise RuntimeError(f"{exc}:\n{self.log_text()}") from None
        if self.process.returncode is not None:
            raise RuntimeError(f"Dovecot exited ({self.process.returncode}): "
                               f"{self.process.stderr.read().decode(errors='replace')}\n{self.log_text()}")

    def log_text(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def _stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
        self.process = None
