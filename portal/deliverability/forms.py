"""The admin page's forms: the suppression list's search (GET); clearing an entry is a ButtonForm."""
import re

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Optional

from portal.forms import single_line, strip, too_long
from portal.mail.validation import address_key

#: Control characters: refused in a search, and left out when the field is shown again (HTML cannot carry them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SuppressionSearchForm(FlaskForm):
    """A GET form (results can be paged and bookmarked), so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField("Address", filters=[strip], validators=[Optional(), too_long(320), single_line],
                    description="A whole address or any part of one, e.g. example.org")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not valid and self.q.data:
            self.q.data = _CONTROL.sub("", self.q.data)
        return valid

    def search_key(self) -> str | None:
        """What to look for, in the form suppression entries are kept in; None: the whole list."""
        if self.errors or not self.q.data:
            return None
        return address_key(self.q.data)
