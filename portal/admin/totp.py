"""The optional second factor: time-based one-time codes (RFC 6238) from an authenticator app."""
import time

import pyotp
import segno
from sqlalchemy import or_, update

from portal.admin.models import AdminUser
from portal.extensions import db

ISSUER = "Summit Portal"
#: Codes from the step before and after the current one are accepted too (clock drift).
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def enrolment_qr(account: AdminUser, secret: str) -> str:
    """The otpauth:// URI as an SVG data URI, for the enrolment page's <img> (no outside service)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_data_uri(scale=5)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The 30-second step `code` belongs to (within the drift allowance), or None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        moment = now + offset * totp.interval
        if pyotp.utils.strings_equal(totp.at(moment), code):
            return int(moment // totp.interval)
    return None


def use_code(account: AdminUser, code: str, secret: str | None = None) -> bool:
    """True when the code is right and has not been used before; records its step (the caller commits)."""
    step = matching_step(secret or account.totp_secret or "", code)
    if step is None:
        return False
    # Hazard: sessions posting the same code at once all read the same old step, so
    # a check in Python lets each of them in. The conditional UPDATE decides in the
    # database instead: its row lock makes a concurrent one wait for this
    # transaction, then re-read the step it wrote and match no row.
    claimed = db.session.execute(
        update(AdminUser)
        .where(AdminUser.id == account.id,
               or_(AdminUser.totp_last_step.is_(None), AdminUser.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return claimed.rowcount == 1
