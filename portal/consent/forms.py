"""The consent form as rendered in the banner, the settings panel and the cookie policy page.

Only for rendering (its CSRF token and the way back): the view reads the posted
values itself, and the service refuses any action or category it does not know.
The submit buttons carry `action`; the switches carry `categories`.
"""
from flask_wtf import FlaskForm
from wtforms import HiddenField


class ConsentForm(FlaskForm):
    #: Where to go back to without JavaScript; only a path on this site is followed.
    next = HiddenField()
    #: "1" when the banner script saw navigator.globalPrivacyControl.
    gpc = HiddenField()
