"""Access helpers: one per kind of object.

Each returns the object only when the user is an active partner in its ledger
and answers 404 otherwise, exactly like a missing object. Every view that
touches a ledger's object goes through one of these.
"""

from flask import abort, g
from flask_login import current_user
from peewee import fn

from .db import prepared, slot
from .models import (
    AgendaItem,
    Agreement,
    Draft,
    Invitation,
    Ledger,
    Membership,
    PauseLog,
    Removal,
    User,
)


def _partner_in(ledger_id, user):
    """A subquery: is ``user`` an active partner in the ledger? (Used inside
    fn.EXISTS, so each access check is one query.)"""
    return Membership.select(Membership.id).where(
        (Membership.ledger == ledger_id) & (Membership.user == user) & Membership.left_at.is_null()
    )


def _first_or_404(rows):
    """The row found (each query here names one object by its id), or 404."""
    obj = next(iter(rows), None)
    if obj is None:
        abort(404)
    return obj


@prepared
def _ledger_of_partner():
    return (
        Ledger.select()
        .join(Membership)
        .where(
            (Ledger.id == slot("ledger"))
            & (Membership.user == slot("user"))
            & Membership.left_at.is_null()
        )
        .limit(1)
    )


def ledger_for(user, ledger_id):
    """Return the ledger if ``user`` is a partner in it (a prepared query:
    most pages ask)."""
    return _first_or_404(_ledger_of_partner(ledger=ledger_id, user=user.id))


def invitation_for(user, ledger_id, invitation_id):
    """Return an invitation of the ledger, with its ledger, if ``user`` is a partner."""
    return _first_or_404(
        Invitation.select(Invitation, Ledger)
        .join(Ledger)
        .where(
            (Invitation.id == invitation_id)
            & (Invitation.ledger == ledger_id)
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )


def membership_for(user, ledger_id, membership_id):
    """Return a partner's active membership, with user and ledger, if ``user`` is a partner."""
    return _first_or_404(
        Membership.select(Membership, User, Ledger)
        .join(User)
        .switch(Membership)
        .join(Ledger)
        .where(
            (Membership.id == membership_id)
            & (Membership.ledger == ledger_id)
            & Membership.left_at.is_null()
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )


def removal_for(user, ledger_id, removal_id):
    """Return an open removal request of the ledger if ``user`` is a partner."""
    return _first_or_404(
        Removal.select().where(
            (Removal.id == removal_id)
            & (Removal.ledger == ledger_id)
            & Removal.resolved_at.is_null()
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )


def my_ledgers():
    """Return the signed-in user's ledgers (one query per request)."""
    if "my_ledgers" not in g:
        g.my_ledgers = Ledger.for_user(current_user) if current_user.is_authenticated else []
    return g.my_ledgers


def current_ledger():
    """Return the ledger this device looks at, or the first of the user's."""
    ledgers = my_ledgers()
    if not ledgers:
        return None
    chosen = current_user.device.current_ledger_id
    return next((lg for lg in ledgers if lg.id == chosen), ledgers[0])


@prepared
def _agreement_of_partner():
    return (
        Agreement.select(Agreement, Ledger)
        .join(Ledger)
        .where(
            (Agreement.id == slot("agreement"))
            & (Agreement.ledger == slot("ledger"))
            & fn.EXISTS(_partner_in(slot("ledger"), slot("user")))
        )
        .limit(1)
    )


def agreement_for(user, ledger_id, agreement_id):
    """Return an agreement of the ledger, with its ledger, if ``user`` is a
    partner (a prepared query: every agreement page asks)."""
    return _first_or_404(
        _agreement_of_partner(agreement=agreement_id, ledger=ledger_id, user=user.id)
    )


def draft_for(user, ledger_id, draft_id):
    """Return a draft only to its author, while a partner in its ledger."""
    return _first_or_404(
        Draft.select(Draft, Ledger)
        .join(Ledger)
        .where(
            (Draft.id == draft_id)
            & (Draft.ledger == ledger_id)
            & (Draft.author == user)
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )


def pause_for(user, ledger_id, pause_id):
    """Return a noted pause of the ledger, with its ledger, if ``user`` is a partner."""
    return _first_or_404(
        PauseLog.select(PauseLog, Ledger)
        .join(Ledger)
        .where(
            (PauseLog.id == pause_id)
            & (PauseLog.ledger == ledger_id)
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )


def agenda_item_for(user, ledger_id, item_id):
    """Return a parked topic of the ledger, with its ledger, if ``user`` is a partner."""
    return _first_or_404(
        AgendaItem.select(AgendaItem, Ledger)
        .join(Ledger, on=(AgendaItem.ledger == Ledger.id))
        .where(
            (AgendaItem.id == item_id)
            & (AgendaItem.ledger == ledger_id)
            & fn.EXISTS(_partner_in(ledger_id, user))
        )
    )
