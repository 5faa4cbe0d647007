"""Forms for ledgers, renaming one, invitations and switching between ledgers."""

from wtforms import SelectField
from wtforms.validators import DataRequired, Length, ValidationError

from . import BaseForm, NameField
from .agreements import too_long
from .auth import time_zone_field


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def ledger_name_field(label):
    """A ledger's name: at most 80 characters, trimmed, and something left
    after trimming (DataRequired checks what the filter left: a name of
    spaces alone is no name)."""
    return NameField(
        label,
        validators=[
            DataRequired("Please give it a name, for example your first names."),
            Length(max=80, message=too_long(80)),
        ],
        filters=[_strip],
        description='For example "Sam & Alex". Every partner sees it.',
    )


class LedgerForm(BaseForm):
    name = ledger_name_field("A name for your shared ledger")
    time_zone = time_zone_field(
        "The ledger's time zone", "Review dates for your agreements are set in this zone."
    )


class RenameLedgerForm(BaseForm):
    """A new name for a ledger; ``current`` is the name it has."""

    name = ledger_name_field("The ledger's name")

    def __init__(self, *args, current=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current

    def validate_name(self, field):
        if field.data == self.current:
            raise ValidationError("That is its name already. Type the new name to change it.")


class InvitationForm(BaseForm):
    note = NameField(
        "A note (optional)",
        validators=[Length(max=80, message=too_long(80))],
        filters=[_strip],
        description='For example "for Alex". Every partner sees it.',
    )


class JoinForm(BaseForm):
    """Confirm joining a ledger; with a name for it when one's own reads like
    the name of someone who is or was a partner there (``needs_name``).

    ``namesake(name)`` returns that someone's membership, or None.
    """

    display_name = NameField(
        "Your name in this ledger",
        validators=[Length(max=80, message=too_long(80))],
        filters=[_strip],
        description="Only the partners of this ledger see it. Your account keeps its name.",
    )

    def __init__(self, *args, needs_name=False, namesake=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_name, self.namesake = needs_name, namesake

    def validate_display_name(self, field):
        if not self.needs_name:
            field.data = None  # nothing to choose: the account's name it is
            return
        if not field.data:
            raise ValidationError("Please choose a name for this ledger.")
        taken = self.namesake(field.data)
        if taken is not None:
            raise ValidationError(
                f"That reads like “{taken.name}”, who is or was a partner here. "
                "Please choose a name they can be told apart from."
            )


class SwitchLedgerForm(BaseForm):
    ledger = SelectField("Ledger", coerce=int, validate_choice=True)

    def __init__(self, *args, ledgers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.ledger.choices = {lg.id: lg.name for lg in ledgers}
