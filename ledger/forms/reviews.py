"""Forms for reviews: starting one, answering about an agreement, and the
one-tap confirmation of a retirement chosen together."""

from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired

from ..models.reviews import CHOICES
from . import BaseForm
from .agreements import long_text

SCOPES = {
    "due": "What is due now",
    "all": "Every agreement in force",
}


class StartReviewForm(BaseForm):
    scope = RadioField(
        "What to revisit",
        choices=SCOPES,
        default="due",
        validators=[InputRequired("Please choose what to revisit.")],
    )


class ReviewAnswerForm(BaseForm):
    choice = RadioField(
        "Your answer",
        choices=CHOICES,
        validators=[InputRequired("Please choose keep, change or retire.")],
    )
    note = long_text(
        "A note for your partners (optional)",
        required=False,
        max_length=2000,
        description="They see it, with your answer, once everyone has answered.",
    )


class ConfirmRetirementForm(BaseForm):
    """Consent is given to the exact revision: its content hash comes along."""

    content_hash = HiddenField(validators=[InputRequired("Please read it again.")])
