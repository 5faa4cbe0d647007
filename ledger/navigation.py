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
from .models import KINDS, StoredState, Waiting


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


def waiting_count():
    """How many agreements of the current ledger wait for my answer: one count."""
    if "waiting_count" not in g:
        ledger = current_ledger()
        g.waiting_count = Waiting.count_for(current_user.id, ledger.id) if ledger is not None else 0
    return g.waiting_count


def due_count():
    """How many agreements of the current ledger are due for review (today or
    earlier on the ledger's calendar, no change pending): one indexed count."""
    if "due_count" not in g:
        ledger = current_ledger()
        g.due_count = (
            StoredState.due_count(ledger.id, local_date(utcnow(), ledger.time_zone))
            if ledger is not None
            else 0
        )
    return g.due_count


def switch_form():
    return SwitchLedgerForm(
        formdata=None, ledgers=my_ledgers(), ledger=getattr(current_ledger(), "id", None)
    )
