"""What the privacy notices show from the registry and the settings: retention, and who is responsible."""
from dataclasses import dataclass
from email.utils import parseaddr

from flask import current_app

from portal.retention.registry import Kind, kinds_for, period_text


@dataclass(frozen=True)
class Entry:
    kind: Kind
    #: "365 days after the event's last day", from the kind's setting.
    period: str


@dataclass(frozen=True)
class Controller:
    name: str
    #: One line; "" when ORGANIZATION_POSTAL_ADDRESS is not set.
    postal_address: str
    contact_email: str


def retention_entries(notice: str) -> list[Entry]:
    """The kinds one notice lists ("event", "newsletter" or "site"), each with its period in words."""
    return [Entry(k, period_text(k, current_app.config)) for k in kinds_for(notice)]


def controller() -> Controller:
    config = current_app.config
    contact = config["PRIVACY_CONTACT_EMAIL"] or parseaddr(config["MAIL_DEFAULT_SENDER"])[1]
    return Controller(config["ORGANIZATION_NAME"], config["ORGANIZATION_POSTAL_ADDRESS"], contact)
