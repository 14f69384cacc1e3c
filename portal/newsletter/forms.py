"""Newsletter forms: signup (footer and page), preferences, "email me my link", and the one-button forms."""
from datetime import date, timedelta

from wtforms import DateField, EmailField, RadioField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from portal.forms import TextForm, deliverable_looking_email, required, single_line, strip, too_long
from portal.newsletter.models import Frequency
from portal.newsletter.service import EVENTS_TOPIC, Preferences

LONGEST_PAUSE = timedelta(days=365)
FREQUENCY_CHOICES = [
    SelectChoice(Frequency.MONTHLY.value, "Monthly: one digest at the start of each month"),
    SelectChoice(Frequency.WEEKLY.value, "Weekly: a digest every Monday"),
]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (works without JavaScript, unlike a multi-select box)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _email_field(label: str = "Email address"):
    return EmailField(
        label, filters=[strip], validators=[required("email address"), too_long(320), deliverable_looking_email],
        render_kw={"autocomplete": "email", "spellcheck": "false", "maxlength": 320},
    )


def _topics_field():
    return MultiCheckboxField(
        "What would you like to hear about?", description="Topics",
        invalid_choice_message="Choose topics from the list.",
    )


def _frequency_field():
    return RadioField(
        "How often?", description="Frequency", choices=FREQUENCY_CHOICES,
        invalid_choice_message="Choose how often you want the digest.",
    )


def topic_choices(topics) -> list[SelectChoice]:
    return [SelectChoice(topic.slug, topic.label) for topic in topics] + [
        SelectChoice(EVENTS_TOPIC, "The Policy Summit and other events")
    ]


class _ChoosesTopics:
    def fill_choices(self, topics):
        self.topics.choices = topic_choices(topics)
        return self

    def start_unticked(self):
        """The first visit: no topic ticked (a visitor chooses), monthly."""
        self.topics.data = []
        self.frequency.data = Frequency.MONTHLY.value

    def validate_topics(self, field):
        if not field.data:
            raise ValidationError("Choose at least one topic.")

    def chosen_preferences(self) -> Preferences:
        topics = tuple(slug for slug in self.topics.data if slug != EVENTS_TOPIC)
        return Preferences(topics, EVENTS_TOPIC in self.topics.data, self.frequency.data)


class FooterSignupForm(TextForm):
    """The short form in every page's footer: just the address (every topic, monthly)."""

    email = _email_field("Your email address")
    # Honeypot: hidden from people (CSS, aria-hidden, no tab stop); bots fill it in.
    website = StringField("Leave this field empty", filters=[strip])

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)


class SignupForm(_ChoosesTopics, FooterSignupForm):
    first_name = StringField(
        "First name (optional)", filters=[strip], validators=[too_long(100), single_line],
        render_kw={"autocomplete": "given-name", "maxlength": 100},
    )
    topics = _topics_field()
    frequency = _frequency_field()


class PreferencesForm(_ChoosesTopics, TextForm):
    topics = _topics_field()
    frequency = _frequency_field()
    paused_until = DateField(
        "Pause the digests until (optional)", description="Pause", validators=[Optional()],
        format="%Y-%m-%d",
    )

    def validate_paused_until(self, field):
        if field.data is None:
            return
        today = date.today()
        if field.data <= today:
            raise ValidationError("Choose a day after today, or leave this empty to get digests as usual.")
        if field.data > today + LONGEST_PAUSE:
            raise ValidationError("You can pause for up to a year. To stop for longer, unsubscribe below.")


class ManageLinkForm(TextForm):
    email = _email_field("Email address you subscribed with")
