"""The consent form: the same one in the banner, the settings panel and the cookie policy page."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired

from portal.consent.service import ACTIONS


class ConsentForm(FlaskForm):
    # Set by the submit button the visitor pressed: Accept all, Reject all or Save my choices.
    action = StringField(validators=[DataRequired(), AnyOf(ACTIONS)])
    # The category switches are read with request.form.getlist("categories"); the service
    # refuses any value that is not an optional category.
    #: Where to go back to without JavaScript; only a path on this site is followed.
    next = HiddenField()
    #: "1" when the banner script saw navigator.globalPrivacyControl.
    gpc = HiddenField()
