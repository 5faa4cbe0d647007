"""What every page's header shows: the current ledger, my ledgers, the switcher
and how many agreements wait for my answer. Each is worked out at most once
per request (kept in ``g``) and only when a page asks for it."""

from flask import g
from flask_login import current_user

from .access import current_ledger, my_ledgers
from .forms import CSRF_EXPLANATION
from .forms.ledgers import SwitchLedgerForm
from .models import KINDS, Waiting


def init_app(app):
    app.jinja_env.globals.update(
        csrf_explanation=CSRF_EXPLANATION,
        current_ledger=current_ledger,
        waiting_count=waiting_count,
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


def switch_form():
    return SwitchLedgerForm(
        formdata=None, ledgers=my_ledgers(), ledger=getattr(current_ledger(), "id", None)
    )
