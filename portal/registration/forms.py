"""Registration, change, cancel and lost-link forms (Flask-WTF, CSRF included).

Text is stripped and checked for length and for characters that have no place
in it: control characters (CR/LF above all, which could split an email header)
and, in names and other one-line fields, angle brackets. Pages escape
everything anyway; refusing these keeps the data clean for badges and
exports. The form classes are built once; per request only the event's
choices are filled in.
"""
import re

from email_validator import EmailNotValidError, validate_email
from wtforms import BooleanField, EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.forms import TextForm
from portal.registration import display

ALL_DAYS = "all"

# C0 controls (CR, LF, TAB...), DEL, C1 controls, and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, but a multi-line field may contain line breaks.
_CONTROL_EXCEPT_NEWLINE = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_ANGLE_BRACKET = re.compile(r"[<>]")
_MARKUP_TAG = re.compile(r"<\s*[a-zA-Z/!?]")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _normalize_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def single_line(form, field):
    if field.data and _CONTROL.search(field.data):
        raise ValidationError("Please use only letters, numbers and punctuation, on one line (no line breaks or tabs).")
    if field.data and _ANGLE_BRACKET.search(field.data):
        raise ValidationError("Please remove the angle brackets (< and >).")


def multi_line(form, field):
    if field.data and _CONTROL_EXCEPT_NEWLINE.search(field.data):
        raise ValidationError("Please remove tabs and other invisible control characters.")
    if field.data and _MARKUP_TAG.search(field.data):
        raise ValidationError("Please remove anything that looks like an HTML tag (text between < and >).")


def deliverable_looking_email(form, field):
    """Syntax only (no DNS lookup, so a POST stays fast and works offline); the value is kept as typed."""
    if not field.data:
        return
    if _CONTROL.search(field.data):
        raise ValidationError("Enter an email address on one line, like name@example.org.")
    try:
        validate_email(field.data, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid email address, like name@example.org. {exc}") from None


def _required(what: str):
    # DataRequired looks at the stripped value, so "   " counts as empty.
    return DataRequired(message=f"Enter your {what}.")


def _too_long(limit: int):
    return Length(max=limit, message=f"Please keep this to {limit} characters or fewer.")


def _name_field(label: str, autocomplete: str):
    return StringField(
        label, filters=[_strip], validators=[_required(label.lower()), _too_long(100), single_line],
        render_kw={"autocomplete": autocomplete, "maxlength": 100},
    )


def _needs_field(label: str):
    return TextAreaField(
        label, filters=[_strip, _normalize_newlines], validators=[_too_long(500), multi_line],
        render_kw={"rows": 3, "maxlength": 500},
    )


def _days_field():
    return RadioField(
        "Which days will you attend?", description="Days",
        invalid_choice_message="Choose which days you will attend.",
    )


def day_choices(event) -> list[tuple[str, str]]:
    days = event.days
    choices = []
    if len(days) > 1:
        label = "Both days" if len(days) == 2 else f"All {len(days)} days"
        choices.append((ALL_DAYS, f"{label}: {display.date_span(days[0].date, days[-1].date)}"))
    for day in days:
        choices.append((str(day.position), f"{day.label} only: {day.date_label}"))
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


class RegistrationForm(TextForm):
    first_name = _name_field("First name", "given-name")
    last_name = _name_field("Last name", "family-name")
    email = EmailField(
        "Email address", filters=[_strip], validators=[_required("email address"), deliverable_looking_email],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    organization = StringField(
        "Organization", filters=[_strip], validators=[_required("organization"), _too_long(200), single_line],
        render_kw={"autocomplete": "organization", "maxlength": 200},
    )
    job_title = StringField(
        "Job title", filters=[_strip], validators=[_required("job title"), _too_long(200), single_line],
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
    # Honeypot: hidden from people (CSS, aria-hidden, no tab stop); bots fill it in.
    website = StringField("Leave this field empty", filters=[_strip])

    def fill_choices(self, event) -> "RegistrationForm":
        self.category.choices = [
            (category.code, f"{category.label} ({category.fee_label})") for category in event.categories
        ]
        self.days.choices = day_choices(event)
        return self

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
        "Email address you registered with", filters=[_strip],
        validators=[_required("email address"), deliverable_looking_email],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
