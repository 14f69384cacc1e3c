"""A clone is all a user needs: the committed tree alone migrates, seeds and serves its content."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The committed tree, cloned into a folder with nothing beside it, as a user gets it."""
    folder = tmp_path_factory.mktemp("lonely") / "summit-portal"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(folder)], check=True, timeout=120)
    assert sorted(path.name for path in folder.parent.iterdir()) == ["summit-portal"]
    return folder


@pytest.fixture
def clone_env(clone, tmp_path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "DATABASE_", "REDIS_"))}
    # As `make run` runs them.
    return {**env, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONDONTWRITEBYTECODE": "1",
            "PORTAL_DEVELOPMENT": "1"}


def test_a_clone_migrates_and_seeds_every_resource_on_a_fresh_sqlite_file(clone, clone_env):
    flask = [sys.executable, "-m", "flask", "--app", "portal"]
    where = _run([sys.executable, "-c", "import portal; print(portal.__file__)"], clone, clone_env)
    assert where.strip().startswith(str(clone)), "the clone's own code must be the code that runs"
    _run([*flask, "db", "upgrade"], clone, clone_env)
    output = _run([*flask, "seed-demo"], clone, clone_env)
    shipped = json.loads((clone / "portal" / "resources" / "catalog.json").read_text())
    assert f"Resources: {len(shipped['resources'])} added" in output
    assert len(shipped["resources"]) == 44


def test_a_clone_serves_digested_gzipped_static_files_with_far_future_caching(clone, clone_env):
    flask = [sys.executable, "-m", "flask", "--app", "portal"]
    _run([*flask, "db", "upgrade"], clone, clone_env)
    _run([*flask, "digest", "compile"], clone, clone_env)
    probe = (
        "import re; from portal import create_app\n"
        "client = create_app().test_client()\n"
        "html = client.get('/').get_data(as_text=True)\n"
        "css = re.search(r'href=\"(/static/css/site-[0-9a-f]{32}[.]css)\"', html).group(1)\n"
        "logos = set(re.findall(r'/static/img/logo-[0-9a-f]{32}[.]svg', html))\n"
        "r = client.get(css, headers={'Accept-Encoding': 'gzip'})\n"
        "print(len(logos), r.status_code, r.headers['Content-Encoding'], r.headers['Cache-Control'])\n"
    )
    output = _run([sys.executable, "-c", probe], clone, clone_env).split()
    logo_urls, status, encoding = output[:3]
    cache_control = " ".join(output[3:])
    assert (logo_urls, status, encoding) == ("1", "200", "gzip")
    assert "immutable" in cache_control and re.search(r"max-age=\d{8,}", cache_control)
