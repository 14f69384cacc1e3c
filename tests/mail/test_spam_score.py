"""Every email kind, exactly as delivery sends it, passes SpamAssassin's local rules with room to spare."""
import os
import re
import subprocess

import pytest

from tests.support.email_kinds import every_kind_wire_bytes, production_like_app, template_kinds

#: The highest score a message may get; SpamAssassin calls 5.0 spam, and mailbox providers add their own weight.
MAX_SCORE = 1.0
# A header SpamAssassin adds to each message it checks: the total, then every rule hit with its score.
_ADD_REPORT = "--cf=add_header all Portal-Rules _SCORE_ _TESTSSCORES(,)_"
_REPORT = re.compile(r"^X-Spam-Portal-Rules: (-?[\d.]+) ?(.*?)\r?\n(?=\S)", re.MULTILINE | re.DOTALL)


@pytest.fixture
def wire(portal_env, make_app):
    return every_kind_wire_bytes(production_like_app(portal_env, make_app))


def spamassassin_scores(messages: dict[str, bytes], workdir) -> dict[str, tuple[float, str]]:
    """{kind: (score, rules hit)} from one SpamAssassin run over every message, local tests only."""
    paths = []
    for kind, data in messages.items():
        path = workdir / f"{kind}.eml"
        path.write_bytes(data)
        paths.append(str(path))
    # SpamAssassin keeps per-user state (Bayes data, preferences) under HOME: an empty one, so
    # the score is the shipped rules' alone and nothing is learnt from these messages.
    home = workdir / "home"
    home.mkdir()
    result = subprocess.run(
        ["spamassassin", "--local", "--nocreate-prefs", _ADD_REPORT, *paths],
        capture_output=True, env={**os.environ, "HOME": str(home)}, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    # The messages come back in the order given, each with its report header added.
    reports = _REPORT.findall(result.stdout.decode("ascii", errors="replace"))
    assert len(reports) == len(paths), result.stdout[-2000:]
    return {kind: (float(score), "".join(rules.split()).replace(",", ", "))  # the header comes folded
            for kind, (score, rules) in zip(messages, reports)}


def test_every_email_kind_scores_at_most_one_point(wire, tmp_path):
    assert wire.keys() == template_kinds(), "an email kind is missing from tests/support/email_kinds.py"
    scores = spamassassin_scores(wire, tmp_path)
    for kind, (score, rules) in sorted(scores.items()):
        print(f"{kind}: {score} {rules}")
    too_high = {kind: f"{score} ({rules})" for kind, (score, rules) in scores.items() if score > MAX_SCORE}
    assert not too_high, too_high
