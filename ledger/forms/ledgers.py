"""Forms for ledgers, invitations and switching between ledgers."""

from wtforms import SelectField
from wtforms.validators import InputRequired, Length

from . import BaseForm, NameField
from .agreements import too_long
from .auth import time_zone_field


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LedgerForm(BaseForm):
    name = NameField(
        "A name for your shared ledger",
        validators=[
            InputRequired("Please give it a name, for example your first names."),
            Length(max=80, message=too_long(80)),
        ],
        filters=[_strip],
        description='For example "Sam & Alex". Every partner sees it.',
    )
    time_zone = time_zone_field(
        "The ledger's time zone", "Review dates for your agreements are set in this zone."
    )


class InvitationForm(BaseForm):
    note = NameField(
        "A note (optional)",
        validators=[Length(max=80, message=too_long(80))],
        filters=[_strip],
        description='For example "for Alex". Every partner sees it.',
    )


class SwitchLedgerForm(BaseForm):
    ledger = SelectField("Ledger", coerce=int, validate_choice=True)

    def __init__(self, *args, ledgers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.ledger.choices = {lg.id: lg.name for lg in ledgers}
