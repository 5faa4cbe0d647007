"""Forms for the four kinds of agreement, proposals and answers."""

import secrets
from datetime import date, timedelta

from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from ..cadence import CADENCES, DEFAULT, MAX_WEEKS, MIN_WEEKS, describe
from ..db import utcnow
from . import BaseForm

WHERE = {
    "home": "At home",
    "home_with_care": "At home, with care (for example time-boxed, or asking first)",
    "session_only": "Only in a session with our therapist",
    "not_now": "Not for now",
}
AREAS = {
    "posting": "Posting about us or our relationship",
    "therapy_content": "Sharing therapy content online",
    "phones": "Phones during conversations",
    "messages": "Reading each other's messages",
    "location": "Location sharing",
    "photos": "Photos",
    "other": "Other",
}
ANSWERS = {
    "accept": "I accept this",
    "concern": "I accept, with a concern",
    "change": "I'd like a change before I accept",
}
#: At the latest, the way back starts this long after the pause began: a pause
#: that never ends becomes avoidance.
MAX_RETURN_HOURS = 24


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def too_long(max_length):
    """The message for text over its limit: how long it is, and the limit.

    Pages never cut what was typed or pasted (no ``maxlength``): they say so.
    """
    return (
        f"This is %(length)d characters long; please shorten it to {max_length} "
        "characters or fewer. Nothing was cut: all of it is still here."
    )


def short_text(label, required=True, max_length=120, **kwargs):
    validators = [Length(max=max_length, message=too_long(max_length))]
    validators.insert(0, InputRequired("Please fill this in.") if required else Optional())
    return StringField(label, validators=validators, filters=[_strip], **kwargs)


def long_text(label, required=True, max_length=4000, **kwargs):
    validators = [Length(max=max_length, message=too_long(max_length))]
    validators.insert(0, InputRequired("Please fill this in.") if required else Optional())
    return TextAreaField(label, validators=validators, filters=[_strip], **kwargs)


def new_submission():
    return secrets.token_urlsafe(24)


def base_field():
    """The revision number a change started from (hidden; 0 for a new agreement)."""
    return IntegerField(
        widget=HiddenInput(),
        validators=[
            Optional(),
            NumberRange(min=0, max=10**9, message="This form is out of date; please reload."),
        ],
    )


#: A trial ends at most this far ahead: "for now" is not for ever.
LONGEST_TRIAL = timedelta(days=2 * 366)


class ProposalFields(BaseForm):
    """What every proposal carries besides its content: why, and (part of the
    content, in every kind) when it is revisited."""

    review_every = SelectField(
        "How often we revisit it",
        choices=CADENCES,
        default=DEFAULT,
        description="When it is due, Ledger walks you both through it: keep, change or retire.",
    )
    review_weeks = IntegerField(
        "If every few weeks: how many weeks",
        validators=[
            Optional(),
            NumberRange(
                min=MIN_WEEKS,
                max=MAX_WEEKS,
                message=f"Please choose between {MIN_WEEKS} and {MAX_WEEKS} weeks.",
            ),
        ],
    )
    trial_until = DateField(
        "A trial until (optional)",
        validators=[Optional()],
        description="Good enough for now, safe enough to try: on this date it comes up for review.",
    )
    reason = long_text(
        "Why (a short reason your partners will see)",
        required=False,
        max_length=1000,
        description='For example "We said we would write this down after Tuesday."',
    )
    base = base_field()
    #: One random token per form shown: sending the same form twice (a double
    #: tap, a retry) proposes one agreement, never two.
    submission = HiddenField(
        default=new_submission,
        validators=[
            Optional(),
            Regexp(r"^[A-Za-z0-9_-]{16,64}$", message="This form is damaged; please reload."),
        ],
    )

    #: Field names that make up the agreement's content, in display order.
    CONTENT = ()
    #: The content fields about revisiting it, shown after the kind's own.
    REVIEW = ("review_every", "review_weeks", "trial_until")

    def content(self):
        """The agreement's content as a plain dict ("" for what was left empty).

        The review fields are left out at their defaults (quarterly, no
        trial), so content written before they existed reads the same.
        """
        content = {
            name: "" if self[name].data is None else self[name].data for name in self.CONTENT
        }
        if self.review_every.data != DEFAULT:
            content["review_every"] = self.review_every.data
        if self.review_every.data == "weeks":
            content["review_weeks"] = self.review_weeks.data
        if self.trial_until.data:
            content["trial_until"] = self.trial_until.data.isoformat()
        return content

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        weeks = self.review_weeks
        if self.review_every.data == "weeks" and not weeks.errors and weeks.data is None:
            weeks.errors = ["Please say every how many weeks."]
            valid = False
        trial = self.trial_until.data
        if trial and not self.trial_until.errors:
            today = utcnow().date()
            # A day of grace: the ledger's zone may be a day behind UTC.
            if trial < today - timedelta(days=1):
                self.trial_until.errors = ["Please choose a date that has not passed yet."]
                valid = False
            elif trial > today + LONGEST_TRIAL:
                self.trial_until.errors = ["Please choose a date within the next two years."]
                valid = False
        return valid

    @property
    def reason_text(self):
        return self.reason.data or ""

    @classmethod
    def title_of(cls, content):
        return content.get(cls.CONTENT[0], "")


class TopicForm(ProposalFields):
    topic = short_text("The topic", description='For example "money", "my sponsor", "the affair".')
    where = RadioField("Where it may be discussed", choices=WHERE, default="home_with_care")
    guidance = long_text(
        "How we talk about it",
        required=False,
        description="Guidance for both of you: when, how long, what helps.",
    )
    CONTENT = ("topic", "where", "guidance")


class PauseSignalForm(ProposalFields):
    signal = short_text("The signal", description="A word, a phrase or a gesture.")
    meaning = long_text("What it means", max_length=2000)
    who_may_call = short_text("Who may call it", default="Any of us")
    minimum_minutes = IntegerField(
        "Minimum pause, in minutes",
        default=20,
        validators=[
            InputRequired("Please give a number of minutes."),
            NumberRange(min=5, max=240, message="Please choose between 5 and 240 minutes."),
        ],
        description="About twenty minutes is what a body needs to calm down after flooding.",
    )
    grounding = long_text("What each of us does during the pause", max_length=2000)
    way_back_who = short_text("Who reaches out afterwards", default="The one who called the pause")
    way_back_hours = IntegerField(
        "…within how many hours of the pause beginning",
        default=2,
        validators=[
            InputRequired("Please give a number of hours."),
            NumberRange(
                min=1,
                max=MAX_RETURN_HOURS,
                message=f"Please choose between 1 and {MAX_RETURN_HOURS} hours: a pause "
                "that never ends becomes avoidance.",
            ),
        ],
    )
    CONTENT = (
        "signal",
        "meaning",
        "who_may_call",
        "minimum_minutes",
        "grounding",
        "way_back_who",
        "way_back_hours",
    )

    def validate_way_back_hours(self, field):
        minimum = self.minimum_minutes.data
        if field.data and minimum and field.data * 60 < minimum:
            raise ValidationError("The way back can't start before the minimum pause has passed.")


class DigitalBoundaryForm(ProposalFields):
    area = SelectField("Area", choices=AREAS, default="posting")
    area_other = short_text("If other: which area", required=False)
    rule = long_text("The rule", max_length=2000)
    exceptions = long_text("Exceptions", required=False, max_length=2000)
    CONTENT = ("area", "area_other", "rule", "exceptions")

    def validate(self, extra_validators=None):
        # Not validate_area_other: Optional() ends that field's checks when empty.
        valid = super().validate(extra_validators)
        if self.area.data == "other" and not self.area_other.data:
            self.area_other.errors = [*self.area_other.errors, "Please name the area."]
            return False
        return valid

    @classmethod
    def title_of(cls, content):
        if content.get("area") == "other":
            return content.get("area_other", "")
        return AREAS.get(content.get("area"), "")


class GeneralForm(ProposalFields):
    title = short_text("Title", description='For example "Our Sunday check-in".')
    text = long_text("The agreement", max_length=8000)
    CONTENT = ("title", "text")


FORMS = {
    "topic": TopicForm,
    "pause_signal": PauseSignalForm,
    "digital_boundary": DigitalBoundaryForm,
    "general": GeneralForm,
}


class DayLabels:
    """Reads a stored ISO date ("2027-02-14") as "14 February 2027"."""

    def get(self, value, default=None):
        try:
            return date.fromisoformat(value).strftime("%-d %B %Y")
        except (TypeError, ValueError):
            return default


class CadenceLabels:
    """Reads a stored cadence as words ("weeks" alone says nothing)."""

    def get(self, value, default=None):
        return CADENCES.get(value, default) if value != "weeks" else "Every few weeks"


#: Labels of stored values, for reading an agreement back.
CHOICE_LABELS = {
    "where": WHERE,
    "area": AREAS,
    "review_every": CadenceLabels(),
    "trial_until": DayLabels(),
}

#: How the review fields read on an agreement's page, in its diff and print.
REVIEW_LABELS = [
    ("review_every", "Revisited"),
    ("review_weeks", "Every how many weeks"),
    ("trial_until", "A trial until"),
]


def field_labels(kind):
    """Return [(name, label)] of a kind's content fields, in order, then the
    review fields."""
    form_class = FORMS[kind]
    own = [(name, getattr(form_class, name).args[0]) for name in form_class.CONTENT]
    return own + REVIEW_LABELS


def cadence_words(content):
    """The cadence of an agreement's content in words."""
    return describe(content)


class AnswerForm(BaseForm):
    decision = RadioField(
        "Your answer",
        choices=ANSWERS,
        validators=[InputRequired("Please choose an answer.")],
    )
    note = long_text(
        "Your note",
        required=False,
        max_length=2000,
        description="Needed with a concern or when you ask for a change.",
    )
    content_hash = HiddenField()

    #: What the note must say, per answer that needs one.
    NOTE_NEEDED = {
        "concern": "Please say what your concern is: your partners will read it with your yes.",
        "change": "Please say what you'd like changed.",
    }

    def validate(self, extra_validators=None):
        # Not validate_note: Optional() ends that field's checks when empty.
        valid = super().validate(extra_validators)
        needed = self.NOTE_NEEDED.get(self.decision.data)
        if needed and not self.note.data:
            self.note.errors = [*self.note.errors, needed]
            return False
        return valid


class RetireForm(BaseForm):
    reason = long_text("Why retire it", max_length=1000)
    base = base_field()

    @property
    def reason_text(self):
        return self.reason.data or ""
