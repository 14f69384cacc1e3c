"""The HTML part of every email kind, as delivery sends it (CSS inlined), passes the Nu HTML Checker."""
import email
import email.policy
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.email_kinds import every_kind_wire_bytes, production_like_app, template_kinds

VNU_JAR = Path(__file__).resolve().parents[2] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


@pytest.fixture
def wire(portal_env, make_app):
    return every_kind_wire_bytes(production_like_app(portal_env, make_app))


def html_part(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return message.get_body(preferencelist=("html",)).get_content()


def vnu_errors(documents: dict[str, str], workdir: Path) -> dict[str, list[str]]:
    """{kind: errors} from one run of the checker over every document.

    The checker validates the CSS of <style> elements and style attributes along with the HTML,
    which is where css-inline leaves an email's CSS.
    """
    paths = []
    for kind, html in documents.items():
        path = workdir / f"{kind}.html"
        path.write_text(html, encoding="utf-8")
        paths.append(str(path))
    assert VNU_JAR.is_file(), f"{VNU_JAR} is missing: run `make node-tools`"
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--stdout", "--exit-zero-always", *paths],
        capture_output=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    errors: dict[str, list[str]] = {kind: [] for kind in documents}
    for message in json.loads(result.stdout)["messages"]:
        if message["type"] in ("error", "non-document-error"):
            kind = message.get("url", "").rpartition("/")[2].removesuffix(".html")
            where = f"line {message['lastLine']}: " if "lastLine" in message else ""
            errors.setdefault(kind, []).append(f"{where}{message['message']} {message.get('extract', '')!r}")
    return errors


def test_every_email_kind_has_valid_html_and_css(wire, tmp_path):
    assert wire.keys() == template_kinds(), "an email kind is missing from tests/support/email_kinds.py"
    errors = vnu_errors({kind: html_part(data) for kind, data in wire.items()}, tmp_path)
    for kind, found in sorted(errors.items()):
        print(f"{kind}: {len(found)} error(s)")
    assert not any(errors.values()), {kind: found for kind, found in errors.items() if found}
