"""What every page's header shows: the current ledger, my ledgers, the switcher,
how many agreements wait for my answer and how many are due for review. Each
is worked out at most once per request (kept in ``g``) and only when a page
asks for it."""

from flask import g, request
from flask_login import current_user

from .access import current_ledger, my_ledgers
from .cadence import local_date
from .db import utcnow
from .forms import CSRF_EXPLANATION
from .forms.ledgers import SwitchLedgerForm
from .models import KINDS, Ledger, StoredState


def init_app(app):
    app.jinja_env.globals.update(
        csrf_explanation=CSRF_EXPLANATION,
        current_ledger=current_ledger,
        waiting_count=waiting_count,
        due_count=due_count,
        kind_label=KINDS.get,
        kinds_labels=KINDS.items,
        my_ledgers=my_ledgers,
        partners_here=partners_here,
        switch_form=switch_form,
    )


def page_ledger_id():
    """The ledger a page is about: the one in its URL, if any."""
    return (request.view_args or {}).get("ledger_id")


def partners_here():
    """Everyone who is or was a partner in this page's ledger, {user id:
    Person}, so every page names them alike (one query, once per request;
    none when the page read the ledger's memberships already)."""
    if "partners_here" not in g:
        ledger_id = page_ledger_id()
        g.partners_here = Ledger.people(ledger_id) if ledger_id is not None else {}
    return g.partners_here


def read_memberships(ledger_id, memberships):
    """Tell the header what a page read of its ledger's memberships (every
    one, oldest first), so partners_here() need not read them again."""
    if ledger_id == page_ledger_id() and "partners_here" not in g:
        g.partners_here = Ledger.people(ledger_id, memberships)


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
