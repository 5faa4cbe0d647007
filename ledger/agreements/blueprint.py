"""The agreements blueprint and what its views share: who is asking, the
cooling-off sentence, and how an agreement's words are shown."""

import math

from flask import Blueprint
from flask_login import current_user
from playhouse.flask_utils import PaginatedQuery

from ..db import utcnow
from ..filters import local_time
from ..forms.agreements import CHOICE_LABELS, FORMS
from ..models.agreements import StoredState
from ..models.pause import cooling_until
from ..navigation import read_memberships
from ..security import int_arg

bp = Blueprint("agreements", __name__, url_prefix="/ledgers/<id:ledger_id>")


def me():
    return current_user._get_current_object()


COOLING = (
    "A pause was noted, so proposals and answers wait until {until}: agreements "
    "made while flooded rarely hold."
)


def kept_as_draft(cooling):
    if cooling:
        return f"{cooling} What you wrote is kept as a private draft."
    return "Saved as a private draft. Only you can see it."


@bp.app_template_global()
def cooling_message(ledger):
    """The kind sentence to show when cooling-off is in effect, else None."""
    until = cooling_until(ledger, utcnow())
    return COOLING.format(until=local_time(until)) if until else None


def title_of(kind, content):
    """The line an agreement is known by: its topic, signal, area or title."""
    return FORMS[kind].title_of(content)


def readable(content):
    """Content with stored choice values replaced by their labels."""
    return {name: CHOICE_LABELS.get(name, {}).get(value, value) for name, value in content.items()}


def names(memberships):
    return {m.user_id: m.user.display_name for m in memberships}


@bp.app_template_global()
def agreement_title(kind, revision):
    return title_of(kind, revision.fields)


def load_one(agreement):
    """An agreement's state and the memberships of its ledger (stored state,
    with the revisions in force and pending and their answers only)."""
    state, memberships = StoredState.of(agreement, utcnow())
    read_memberships(agreement.ledger_id, memberships)
    return state, memberships


def load_listed(ledger_id, ids=None, in_force_only=False):
    """Some agreements of a ledger (every one when ``ids`` is None) with
    their stored states, oldest first, and the ledger's memberships."""
    agreements, memberships = StoredState.in_ledger(
        ledger_id, utcnow(), in_force_only=in_force_only, agreement_ids=ids
    )
    read_memberships(ledger_id, memberships)
    return agreements, memberships


class AgreementPages(PaginatedQuery):
    """One page (``?page=``) of a query of agreement ids, 25 a page in the
    query's order, counted once. An empty list still has its first page;
    a page past the last is a 404."""

    def __init__(self, query):
        super().__init__(query, paginate_by=25, page=int_arg("page", 1), check_bounds=True)
        self.total = query.count()

    def get_page_count(self):
        return max(1, math.ceil(self.total / self.paginate_by))

    def ids(self):
        """The agreement ids on this page."""
        return {row.agreement_id for row in self.get_object_list()}
