"""The HTML part of every email kind, as delivery sends it (CSS inlined), passes the Nu HTML Checker."""
import email
import email.policy

import pytest

from tests.support.email_kinds import every_kind_wire_bytes, production_like_app, template_kinds
from tests.support.vnu import vnu_errors


@pytest.fixture
def wire(portal_env, make_app):
    return every_kind_wire_bytes(production_like_app(portal_env, make_app))


def html_part(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return message.get_body(preferencelist=("html",)).get_content()


def test_every_email_kind_has_valid_html_and_css(wire, tmp_path):
    assert wire.keys() == template_kinds(), "an email kind is missing from tests/support/email_kinds.py"
    errors = vnu_errors({kind: html_part(data) for kind, data in wire.items()}, tmp_path)
    for kind, found in sorted(errors.items()):
        print(f"{kind}: {len(found)} error(s)")
    assert not any(errors.values()), {kind: found for kind, found in errors.items() if found}
