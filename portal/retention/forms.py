"""The admin's erase-a-person form: an address, then a confirmation after the preview."""
from wtforms import HiddenField, StringField

from portal.forms import TextForm, deliverable_looking_email, required, strip, too_long


class EraseAddressForm(TextForm):
    email = StringField("Email address", filters=[strip],
                        validators=[required("the person's email address"), too_long(320), deliverable_looking_email])
    #: "yes" only from the preview's button: the first POST shows what would go, the second erases it.
    confirm = HiddenField()
