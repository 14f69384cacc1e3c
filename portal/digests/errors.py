"""What digest services raise; callers turn these into messages."""


class DigestError(Exception):
    pass


class UnknownEdition(DigestError):
    """No edition with that id."""


class UnknownSubscriber(DigestError):
    """No subscriber with that id, or they erased their data."""
