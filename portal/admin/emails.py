"""Emails to admin and staff accounts. Each function returns its context (see portal.mail)."""
from portal.admin.models import AdminUser
from portal.admin.tokens import SET_PASSWORD_MAX_AGE, make_set_password_token
from portal.links import absolute_url
from portal.mail import email


@email("admin_invite")
def send_invitation(account: AdminUser):
    return {
        "account": account,
        "set_password_url": absolute_url("admin.set_password", token=make_set_password_token(account)),
        "valid_days": SET_PASSWORD_MAX_AGE // (24 * 3600),
        "login_url": absolute_url("admin.login"),
    }
