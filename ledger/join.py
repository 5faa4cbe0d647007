"""Joining a ledger through an invitation link."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .db import utcnow
from .forms.ledgers import JoinForm
from .models import Invitation, Membership, Waiting
from .models.ledgers import NameTaken

bp = Blueprint("join", __name__, url_prefix="/join")


@bp.route("/<token>", methods=("GET", "POST"))
def show(token):
    invitation = Invitation.by_token(token)
    if invitation is None:
        return render_template("join/unusable.html", status="unknown"), 404
    status = invitation.status(utcnow())
    if status != "open":
        return render_template("join/unusable.html", status=status), 410
    ledger = invitation.ledger
    if not current_user.is_authenticated:
        return render_template("join/signed_out.html", invitation=invitation, here=request.path)
    if Membership.active(ledger, current_user):
        return render_template("join/already.html", ledger=ledger)
    me = current_user._get_current_object()
    form = JoinForm(
        needs_name=Membership.namesake(ledger.id, me, me.display_name) is not None,
        namesake=lambda name: Membership.namesake(ledger.id, me, name),
    )
    if form.validate_on_submit():
        try:
            joined = invitation.accept(me, utcnow(), form.display_name.data)
        except NameTaken:  # someone with a name like it joined meanwhile
            form.needs_name = True
            form.display_name.errors.append(TAKEN_MEANWHILE)
            return render_template("join/confirm.html", invitation=invitation, form=form), 409
        if not joined:
            return render_template("join/unusable.html", status="used"), 410
        ledger.remember_as_current(current_user.device)
        flash(f"Welcome to “{ledger.name}”. You are now a partner in it. {_first_step(ledger)}")
        # The agreements page lists first what waits for the new partner's answer.
        return redirect(url_for("agreements.dashboard", ledger_id=ledger.id))
    return render_template("join/confirm.html", invitation=invitation, form=form), form.status


TAKEN_MEANWHILE = (
    "Someone with a name that reads like this one joined a moment ago. "
    "Please choose a name they can be told apart from."
)


def _first_step(ledger):
    """The sentence that points a new partner to what waits for their answer."""
    waiting = Waiting.count_for(current_user.id, ledger.id)
    if waiting == 0:
        return "Nothing is waiting for your answer yet."
    if waiting == 1:
        return "One agreement is waiting for your answer: it is listed first, below."
    return f"{waiting} agreements are waiting for your answer: they are listed first, below."
