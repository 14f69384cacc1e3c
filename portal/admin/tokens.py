"""Set-password links (invitations and resets): signed, expiring, single-use."""
from portal.admin.models import AdminUser
from portal.tokens import TokenInvalid, make_token, read_token

SET_PASSWORD_PURPOSE = "admin-set-password"
#: An invitation (or reset) link works for three days, and only until a password is set with it.
SET_PASSWORD_MAX_AGE = 3 * 24 * 3600


def password_fingerprint(account: AdminUser) -> str:
    """The tail of the argon2 hash (part of its random salt'ed output): changes with every new password."""
    return account.password_hash[-16:]


def make_set_password_token(account: AdminUser) -> str:
    # The fingerprint is part of the token: once a password is set, every earlier link is dead.
    return make_token(SET_PASSWORD_PURPOSE, f"{account.id}:{password_fingerprint(account)}")


def read_set_password_token(token: str) -> tuple[int, str]:
    """(account id, fingerprint); raises TokenExpired or TokenInvalid."""
    claims = read_token(SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    account_id, _, fingerprint = claims.subject.partition(":")
    if not account_id.isdigit():
        raise TokenInvalid(SET_PASSWORD_PURPOSE)
    return int(account_id), fingerprint
