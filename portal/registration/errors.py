"""What can go wrong for a visitor, as types the views turn into pages."""
from portal.database import LockTimeout


class RegistrationError(Exception):
    """Base class: every case below has a friendly page, none is a 500."""


class EventNotFound(RegistrationError):
    pass


class RegistrationClosed(RegistrationError):
    """The event is not taking registrations (or online changes) right now."""

    def __init__(self, event_slug: str):
        super().__init__(event_slug)
        self.event_slug = event_slug


class RegistrationBusy(RegistrationError, LockTimeout):
    """The event's capacity lock was not free in time; nothing was written. Try again."""


class EmailTaken(RegistrationError):
    """Another active registration for the event already uses this address."""


class DaysUnavailable(RegistrationError):
    """A change asked for days without a free seat; the registration is unchanged."""

    def __init__(self, full_days):
        super().__init__(", ".join(day.label for day in full_days))
        self.full_days = list(full_days)


class InvalidManageToken(RegistrationError):
    """A manage link that cannot be used; `status` is the HTTP status to answer with."""

    status = 400


class TamperedManageToken(InvalidManageToken):
    status = 400


class ExpiredManageToken(InvalidManageToken):
    """Too old, or replaced by a newer link (the registration's token_version moved on)."""

    status = 410


class UnknownRegistration(InvalidManageToken):
    status = 404


class RegistrationCancelled(RegistrationError):
    """The registration was cancelled; there is nothing left to change."""


class EventExists(RegistrationError):
    """create-event was given a slug that is already taken."""


class EventChangeRefused(RegistrationError):
    """update-event would remove something registrations depend on; nothing was changed."""
