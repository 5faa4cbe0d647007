"""What every page's header shows: the current ledger, my ledgers, the switcher,
how many agreements wait for my answer and how many are due for review. Each
is worked out at most once per request (kept in ``g``) and only when a page
asks for it."""

from flask import g
from flask_login import current_user

from .access import current_ledger, my_ledgers
from .cadence import local_date
from .db import utcnow
from .forms import CSRF_EXPLANATION
from .forms.ledgers import SwitchLedgerForm
from .models import KINDS, StoredState


def init_app(app):
    app.jinja_env.globals.update(
        csrf_explanation=CSRF_EXPLANATION,
        current_ledger=current_ledger,
        waiting_count=waiting_count,
        due_count=due_count,
        kind_label=KINDS.get,
        kinds_labels=KINDS.items,
        my_ledgers=my_ledgers,
        switch_form=switch_form,
    )


def header_counts():
    """(waiting for my answer, due for review) in the current ledger: both
    counts in one query, at most once per request."""
    if "header_counts" not in g:
        ledger = current_ledger()
        g.header_counts = (
            StoredState.header_counts(
                current_user.id, ledger.id, local_date(utcnow(), ledger.time_zone)
            )
            if ledger is not None
            else (0, 0)
        )
    return g.header_counts


def waiting_count():
    """How many agreements of the current ledger wait for my answer."""
    return header_counts()[0]


def due_count():
    """How many agreements of the current ledger are due for review (today or
    earlier on the ledger's calendar, no change pending)."""
    return header_counts()[1]


def switch_form():
    return SwitchLedgerForm(
        formdata=None, ledgers=my_ledgers(), ledger=getattr(current_ledger(), "id", None)
    )
