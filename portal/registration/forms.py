"""Registration, change, cancel and lost-link forms (Flask-WTF, CSRF included).

The checks on typed text are shared with every form (portal.forms). The form
classes are built once; per request only the event's choices are filled in.
"""
from wtforms import BooleanField, EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired

from portal.forms import (
    TextForm,
    deliverable_looking_email,
    multi_line,
    normalize_newlines,
    required,
    single_line,
    strip,
    too_long,
)
from portal.registration import display

ALL_DAYS = "all"

def _name_field(label: str, autocomplete: str):
    return StringField(
        label, filters=[strip], validators=[required(label.lower()), too_long(100), single_line],
        render_kw={"autocomplete": autocomplete, "maxlength": 100},
    )


def _needs_field(label: str):
    return TextAreaField(
        label, filters=[strip, normalize_newlines], validators=[too_long(500), multi_line],
        render_kw={"rows": 3, "maxlength": 500},
    )


def _days_field():
    return RadioField(
        "Which days will you attend?", description="Days",
        invalid_choice_message="Choose which days you will attend.",
    )


FULL_NOTE = " — full, join the waiting list"


def day_choices(event, seats=None, held_day_ids=frozenset()) -> list[tuple[str, str]]:
    """The day options; with `seats`, an option with a full day says so before anyone submits.

    `held_day_ids` are days whose seat the attendee already holds: never full for them.
    """
    days = event.days

    def label(text: str, chosen) -> str:
        if seats is None:
            return text
        wanted = [day.id for day in chosen if day.id not in held_day_ids]
        overall_full = seats.overall is not None and seats.overall <= 0 and not held_day_ids
        return text + FULL_NOTE if wanted and (overall_full or seats.full_days(wanted)) else text

    choices = []
    if len(days) > 1:
        name = "Both days" if len(days) == 2 else f"All {len(days)} days"
        choices.append((ALL_DAYS, label(f"{name}: {display.date_span(days[0].date, days[-1].date)}", days)))
    for day in days:
        choices.append((str(day.position), label(f"{day.label} only: {day.date_label}", [day])))
    return choices


def day_positions(choice: str, event) -> tuple[int, ...]:
    if choice == ALL_DAYS:
        return tuple(day.position for day in event.days)
    return (int(choice),)


def days_choice_value(registration) -> str:
    """The radio value matching a registration's current days."""
    if len(registration.days) == len(registration.event.days) and len(registration.days) > 1:
        return ALL_DAYS
    return str(registration.days[0].position)


#: The registration form's answers, in the order the check-answers page lists them.
ANSWER_FIELDS = (
    "first_name", "last_name", "email", "organization", "job_title", "category", "days",
    "dietary", "accessibility", "privacy", "newsletter", "website",
)


class RegistrationForm(TextForm):
    first_name = _name_field("First name", "given-name")
    last_name = _name_field("Last name", "family-name")
    email = EmailField(
        "Email address", filters=[strip], validators=[required("email address"), deliverable_looking_email],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    organization = StringField(
        "Organization", filters=[strip], validators=[required("organization"), too_long(200), single_line],
        render_kw={"autocomplete": "organization", "maxlength": 200},
    )
    job_title = StringField(
        "Job title", filters=[strip], validators=[required("job title"), too_long(200), single_line],
        render_kw={"autocomplete": "organization-title", "maxlength": 200},
    )
    category = RadioField("Attendee category", invalid_choice_message="Choose your attendee category.")
    days = _days_field()
    dietary = _needs_field("Dietary needs (optional)")
    accessibility = _needs_field("Accessibility needs (optional)")
    privacy = BooleanField(
        "I have read the privacy notice and agree that my registration details are used as it describes.",
        description="Privacy notice",
        validators=[DataRequired(message="Please agree to the privacy notice to register.")],
    )
    # Separate from the registration and unticked: it only asks for a confirmation email.
    newsletter = BooleanField(
        "Also send me the society's newsletter (we will email you to confirm first)",
        description="Newsletter",
    )
    # Honeypot: hidden from people (CSS, aria-hidden, no tab stop); bots fill it in.
    website = StringField("Leave this field empty", filters=[strip])

    def fill_choices(self, event, seats=None) -> "RegistrationForm":
        self.category.choices = [(category.code, display.category_with_fee(category)) for category in event.categories]
        self.days.choices = day_choices(event, seats)
        return self

    def focus(self, name: str) -> None:
        """Put the keyboard focus on one text field or checkbox when the page loads (a "Change" link)."""
        field = self[name]
        if field.type != "RadioField":
            field.render_kw = {**(field.render_kw or {}), "autofocus": True}

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)


class ChangeForm(TextForm):
    days = _days_field()
    dietary = _needs_field("Dietary needs")
    accessibility = _needs_field("Accessibility needs")


class CancelForm(TextForm):
    """Just the CSRF token: cancelling is a POST after a confirmation page."""


class LostLinkForm(TextForm):
    email = EmailField(
        "Email address you registered with", filters=[strip],
        validators=[required("email address"), deliverable_looking_email],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class OrganiserEditForm(TextForm):
    """What an organiser may correct for an attendee (days go through the attendee's own link)."""

    first_name = _name_field("First name", "off")
    last_name = _name_field("Last name", "off")
    email = EmailField("Email address", filters=[strip], validators=[required("email address"),
                                                                     deliverable_looking_email])
    organization = StringField("Organization", filters=[strip],
                               validators=[required("organization"), too_long(200), single_line])
    job_title = StringField("Job title", filters=[strip], validators=[required("job title"), too_long(200), single_line])
    category = RadioField("Attendee category", invalid_choice_message="Choose an attendee category.")
    dietary = _needs_field("Dietary needs")
    accessibility = _needs_field("Accessibility needs")

    def fill_choices(self, event) -> "OrganiserEditForm":
        self.category.choices = [(category.code, category.label) for category in event.categories]
        return self
