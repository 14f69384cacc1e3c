"""Forms of the admin pages. Every POST carries a CSRF token (CSRFProtect, TextForm)."""
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.admin.attendees import PAYMENTS, SORTS, STATUSES, AttendeeFilter
from portal.forms import TextForm, deliverable_looking_email, required, single_line, strip, too_long
from portal.registration.checkin import normalise_code


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(TextForm):
    email = StringField("Email", filters=[strip], validators=[required("email address"), too_long(320)],
                        render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = PasswordField("Password", validators=[required("password"), too_long(1024)],
                             render_kw={"autocomplete": "current-password"})


class AttendeeFilterForm(FlaskForm):
    """The list's GET filters. Nonsense in the query string is ignored, never a 500."""

    class Meta:
        csrf = False

    q = StringField("Search", filters=[strip], validators=[Optional(), Length(max=200)],
                    description="Name, email, organization or check-in code")
    status = SelectField("Status", choices=options([("", "Any status"), *[(s, s.capitalize()) for s in STATUSES]]),
                         validate_choice=False)
    category = SelectField("Category", validate_choice=False)
    day = SelectField("Day", validate_choice=False)
    checked_in = SelectField("Checked in", choices=options([("", "Either"), ("yes", "Checked in"), ("no", "Not checked in")]),
                             validate_choice=False)
    payment = SelectField("Payment", choices=options([("", "Any payment"), ("paid", "Paid"), ("unpaid", "Unpaid"),
                                                      ("waived", "Waived"), ("no_fee", "No fee")]),
                          validate_choice=False)
    sort = SelectField("Sort by", choices=options([("newest", "Newest first"), ("oldest", "Oldest first"),
                                                   ("last_name", "Last name"), ("organization", "Organization")]),
                       validate_choice=False)

    def fill_choices(self, event) -> "AttendeeFilterForm":
        self.category.choices = options([("", "Any category"), *[(str(c.id), c.label) for c in event.categories]])
        self.day.choices = options([("", "Any day"), *[(str(d.id), f"{d.label}, {d.date_label}") for d in event.days]])
        return self

    def chosen(self, event) -> AttendeeFilter:
        """What the visitor asked for, keeping only values that make sense for this event."""
        category_ids = {c.id for c in event.categories}
        day_ids = {d.id for d in event.days}
        return AttendeeFilter(
            search=(self.q.data or "")[:200] if not self.q.errors else "",
            status=self.status.data if self.status.data in STATUSES else "",
            category_id=_id_in(self.category.data, category_ids),
            day_id=_id_in(self.day.data, day_ids),
            checked_in=self.checked_in.data if self.checked_in.data in ("yes", "no") else "",
            payment=self.payment.data if self.payment.data in PAYMENTS else "",
            sort=self.sort.data if self.sort.data in SORTS else "newest",
        )


def _id_in(value, allowed: set[int]) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number in allowed else None


class ColumnChoice:
    """For forms with a `columns` field: the choices are the export's columns, at least one ticked."""

    def fill_choices(self, columns: dict):
        self.columns.choices = options((key, column.header) for key, column in columns.items())
        return self

    def validate_columns(self, field):
        if not field.data:
            raise ValueError("Choose at least one column.")


class AttendeeExportForm(ColumnChoice, TextForm):
    """POSTed from the list page: the list's filters travel as hidden fields, columns as checkboxes."""

    q = HiddenField()
    status = HiddenField()
    category = HiddenField()
    day = HiddenField()
    checked_in = HiddenField()
    payment = HiddenField()
    sort = HiddenField()
    file_format = RadioField("Format", choices=options([("csv", "CSV"), ("xlsx", "Excel (XLSX)")]), default="csv")
    columns = MultiCheckboxField("Columns", validate_choice=True)
    bom = BooleanField("Add a byte-order mark (for Excel on Windows opening a CSV)")

    def filter_form(self, event) -> AttendeeFilterForm:
        values = MultiDict({name: getattr(self, name).data or "" for name in
                            ("q", "status", "category", "day", "checked_in", "payment", "sort")})
        return AttendeeFilterForm(formdata=values).fill_choices(event)


class ListExportForm(TextForm):
    file_format = RadioField("Format", choices=options([("csv", "CSV"), ("xlsx", "Excel (XLSX)")]), default="csv")
    bom = BooleanField("Add a byte-order mark (for Excel on Windows opening a CSV)")


class PresetForm(ColumnChoice, TextForm):
    name = StringField("Preset name", filters=[strip],
                       validators=[DataRequired("Give the preset a name."), too_long(80), single_line])
    columns = MultiCheckboxField("Columns", validate_choice=True)


class CheckInForm(TextForm):
    code = StringField("Check-in code", filters=[strip, normalise_code],
                       validators=[DataRequired("Enter the check-in code."), Length(min=4, max=16, message="A check-in code has 8 characters.")])
    # Radio buttons rather than a select: whole day names fit a phone and are easy to tap at the door.
    day = RadioField("Day", validate_choice=True)

    def fill_choices(self, event, default_day) -> "CheckInForm":
        self.day.choices = options((str(d.id), f"{d.label}, {d.date_label}") for d in event.days)
        if not self.day.data or self.day.data == "None":
            self.day.data = str(default_day.id)
        return self


class CapacityForm(TextForm):
    capacity = IntegerField("Overall capacity (empty: only the per-day limits)",
                            validators=[Optional(), NumberRange(min=0, max=100_000, message="Enter a number of seats from 0 to 100,000.")])


class DayCapacityForm(TextForm):
    position = HiddenField(validators=[InputRequired()])
    capacity = IntegerField("Seats", validators=[InputRequired("Enter a number of seats."), NumberRange(min=0, max=100_000, message="Enter a number of seats from 0 to 100,000.")])


ROLE_CHOICES = [("staff", "Staff: attendee lists and check-in"), ("admin", "Admin: everything, including exports")]


class InviteForm(TextForm):
    email = StringField("Email", filters=[strip], validators=[required("email address"), too_long(320),
                                                               deliverable_looking_email])
    role = RadioField("Role", choices=options(ROLE_CHOICES), default="staff")


class RoleForm(TextForm):
    role = SelectField("Role", choices=options((value, value.capitalize()) for value, _ in ROLE_CHOICES))


class SetPasswordForm(TextForm):
    password = PasswordField("New password", validators=[
        DataRequired("Choose a password."), Length(min=12, max=1024, message="Use 12 to 1,024 characters.")])
    confirm = PasswordField("The same password again", validators=[
        DataRequired("Type the password a second time."), EqualTo("password", "The two passwords differ.")])


class CodeForm(TextForm):
    code = StringField("Six-digit code from your authenticator app", filters=[strip],
                       validators=[DataRequired("Type the six-digit code."), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class EventFileForm(TextForm):
    """The whole event as its TOML file: every field, checked as `update-event` checks a file."""

    event_file = TextAreaField("Event file (TOML)", validators=[DataRequired("The event file is empty."),
                                                                Length(max=50_000)],
                               render_kw={"rows": 30, "spellcheck": "false"})


# --- Content: the resource catalog and the digests -------------------------------------------


def one_paragraph(value):
    """A summary is one paragraph: line breaks typed into the box become spaces."""
    return " ".join(value.split()) if isinstance(value, str) else value


class ResourceForm(TextForm):
    """One catalog entry. Only the catalog's own checks (portal.resources.curation) say what is valid;
    the form carries the values there, and puts each problem they report back on its field."""

    slug = StringField("Slug", filters=[strip])
    title = StringField("Title", filters=[strip])
    organization = StringField("Organization", filters=[strip])
    kind = StringField("Kind", filters=[strip], render_kw={"list": "known-kinds"})
    year = StringField("Year", filters=[strip], render_kw={"inputmode": "numeric"})
    url = StringField("URL", filters=[strip], render_kw={"type": "url"})
    summary = TextAreaField("Summary", filters=[one_paragraph], render_kw={"rows": 4})
    # An unknown topic is one of the catalog's problems, reported with the others.
    topics = MultiCheckboxField("Topics", validate_choice=False)
    featured = BooleanField("Featured: shown first in digests and highlights")

    #: The fields `add_or_edit_resource` reads, in the order the form shows them.
    ENTRY_FIELDS = ("slug", "title", "organization", "kind", "year", "url", "summary", "topics", "featured")

    def fill_choices(self, topics) -> "ResourceForm":
        self.topics.choices = options((topic.slug, topic.label) for topic in topics)
        return self

    def entry(self) -> dict:
        return {name: self[name].data for name in self.ENTRY_FIELDS}


FREQUENCY_CHOICES = [("weekly", "Weekly"), ("monthly", "Monthly")]


class DigestRunForm(TextForm):
    """The "Count now" and "Send now" buttons: which edition, as a hidden value a browser never changes."""

    frequency = SelectField("Frequency", choices=options(FREQUENCY_CHOICES), validate_choice=True)


class DigestPreviewForm(TextForm):
    email = StringField("Subscriber's email address", filters=[strip],
                        validators=[DataRequired("Enter the subscriber's email address."), too_long(320)])


class PaymentForm(TextForm):
    """An organiser records how a registration's fee stands."""

    status = RadioField("Payment", choices=options([("unpaid", "Unpaid"), ("paid", "Paid"), ("waived", "Waived")]),
                        validators=[InputRequired("Choose paid, unpaid or waived.")])
    paid_on = DateField("Date paid or waived", format="%Y-%m-%d", validators=[Optional()])
    note = TextAreaField("Note (optional)", filters=[strip], validators=[too_long(500)], render_kw={"rows": 3},
                         description="Note")

    def validate(self, extra_validators=None) -> bool:
        # Optional() stops the field's own chain on an empty date, so the "paid needs a date" rule lives here.
        valid = super().validate(extra_validators)
        if self.status.data in ("paid", "waived") and self.paid_on.data is None and not self.paid_on.errors:
            self.paid_on.errors = [*self.paid_on.errors, "Enter the date it was paid or waived, like 2027-09-01."]
            valid = False
        return valid
