"""The Nu HTML Checker (vnu-jar from `make node-tools`, run with Java) over documents a test made."""
import json
import subprocess
from pathlib import Path

VNU_JAR = Path(__file__).resolve().parents[2] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


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
