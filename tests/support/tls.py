"""HTTPS as production serves it: a certificate the suite makes, and nginx in front of gunicorn.

nginx runs the very configuration `docker compose` uses (deploy/nginx/portal.conf.template),
rendered with the test's ports and certificate, so the browser journeys cross the proxy a
society would put on the internet.
"""
import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from string import Template

from tests.support.smtp import free_port
from tests.support.worker import ROOT

PROXY_TEMPLATE = ROOT / "deploy" / "nginx" / "portal.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    @property
    def spki_sha256(self) -> str:
        """The base64 SHA-256 of the public key, as Chromium's --ignore-certificate-errors-spki-list takes it."""
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        pubkey = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"], input=der, capture_output=True, check=True
        ).stdout
        spki = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "DER"], input=pubkey, capture_output=True, check=True
        ).stdout
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for two days."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return Certificate(cert, key)


class Proxy:
    """nginx terminating TLS in front of an upstream on loopback, with its own ports and files."""

    def __init__(self, folder: Path, upstream: str, certificate: Certificate):
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.certificate = certificate
        self.access_log = folder / "access.log"
        folder.mkdir(parents=True, exist_ok=True)
        site = Template(PROXY_TEMPLATE.read_text()).safe_substitute(
            PORTAL_UPSTREAM=upstream, PORTAL_BASE_URL=self.url,
            PROXY_HTTP_LISTEN=f"127.0.0.1:{self.http_port}", PROXY_HTTPS_LISTEN=f"127.0.0.1:{self.https_port}",
            TLS_CERTIFICATE=str(certificate.cert), TLS_CERTIFICATE_KEY=str(certificate.key),
            PROXY_ACCESS_LOG=str(self.access_log),
        )
        (folder / "portal.conf").write_text(site)
        temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
        # As root, nginx's workers would switch to an account that cannot read the test's folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n  include /etc/nginx/mime.types;\n{temp}\n"
            f"  include {folder / 'portal.conf'};\n}}\n"
        )
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 30) -> "Proxy":
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2, context=self.certificate.client_context()):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "error.log").read_text(errors="replace") if (self.folder / "error.log").exists() else ""
                    self.stop()
                    raise AssertionError(f"nginx did not come up:\n{log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
