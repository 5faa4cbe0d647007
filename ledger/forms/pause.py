"""Forms for noting a pause, cooling-off, and parking a topic."""

from datetime import UTC, datetime, timedelta

from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from . import BaseForm
from .agreements import long_text, short_text


class PauseNoteForm(BaseForm):
    #: When the pause began on the device, in milliseconds since 1970 (UTC).
    started_ms = IntegerField(validators=[Optional()])
    #: The pause signal used (an agreement of the ledger), if noted from one.
    signal = IntegerField(
        validators=[Optional(), NumberRange(min=1, max=2**31 - 1, message="Not a signal.")]
    )

    @property
    def started_at(self):
        if not self.started_ms.data:
            return None
        return datetime.fromtimestamp(self.started_ms.data / 1000, UTC)

    def validate_started_ms(self, field):
        if field.data is None:
            return
        try:
            when = datetime.fromtimestamp(field.data / 1000, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError("Not a time.") from exc
        now = datetime.now(UTC)
        if not now - timedelta(hours=24) <= when <= now + timedelta(minutes=5):
            raise ValidationError("A pause noted here began within the last day.")


class CoolingOffForm(BaseForm):
    #: "on": turn it on (any partner, at once). The others need every partner:
    #: "end" ends the cooling-off running now, "off" turns the feature off,
    #: "hours" changes its length.
    action = SelectField(
        choices={
            "on": "Turn on",
            "end": "Agree to end this cooling-off now",
            "off": "Agree to turn cooling-off off",
            "hours": "Agree to change its length",
        },
        default="on",
    )
    hours = IntegerField(
        "Hours of cooling-off after a noted pause",
        default=12,
        validators=[
            InputRequired("Please give a number of hours."),
            NumberRange(min=1, max=72, message="Please choose between 1 and 72 hours."),
        ],
    )


class AgendaForm(BaseForm):
    topic = short_text("Topic to park for the next session")
    note = long_text("A short note (optional)", required=False, max_length=1000)
    back = HiddenField()
