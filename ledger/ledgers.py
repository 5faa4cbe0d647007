"""Ledgers: create, look at, switch, invite, leave, and remove a partner."""

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from .access import (
    current_ledger,
    invitation_for,
    ledger_for,
    membership_for,
    my_ledgers,
    removal_for,
)
from .db import utcnow
from .forms.auth import ConfirmForm
from .forms.ledgers import InvitationForm, LedgerForm, SwitchLedgerForm
from .models import Invitation, Ledger, Membership, Removal
from .security import external_url

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")

INVITATION_LIFETIME = timedelta(days=7)


@bp.app_template_global()
def printed_at():
    """Now (UTC): the day a printed page names, with its ledger."""
    return utcnow()


@bp.route("/new", methods=("GET", "POST"))
@login_required
def new():
    form = LedgerForm(time_zone=current_user.time_zone)
    if form.validate_on_submit():
        ledger = Ledger.start(current_user, form.name.data, form.time_zone.data)
        ledger.remember_as_current(current_user.device)
        flash(f"“{ledger.name}” is ready. Invite your partner to join it.")
        return redirect(url_for("ledgers.show", ledger_id=ledger.id))
    return render_template("ledgers/new.html", form=form), form.status


@bp.get("/<id:ledger_id>")
@login_required
def show(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    return render_ledger(ledger)


def render_ledger(ledger, status=200, csrf_notice=False, **forms):
    """Render a ledger's page: partners, invitations and open requests."""
    forms.setdefault("invitation_form", InvitationForm())
    forms.setdefault("confirm_form", ConfirmForm())
    partners = list(ledger.partners())
    page = render_template(
        "ledgers/show.html",
        ledger=ledger,
        partners=partners,
        former_partners=list(ledger.former_partners()),
        invitations=list(ledger.invitations()),
        removals=ledger.open_removals(partners),
        now=utcnow(),
        csrf_notice=csrf_notice,
        **forms,
    )
    return page, status


@bp.post("/switch")
@login_required
def switch():
    form = SwitchLedgerForm(ledgers=my_ledgers())
    if not form.validate_on_submit():
        if form.csrf_failed and current_ledger() is not None:
            return render_ledger(current_ledger(), 400, csrf_notice=True)
        abort(400 if form.csrf_failed else 404)  # not one of this person's ledgers
    ledger = ledger_for(current_user, form.ledger.data)
    ledger.remember_as_current(current_user.device)
    return redirect(url_for("ledgers.show", ledger_id=ledger.id))


@bp.post("/<id:ledger_id>/invitations")
@login_required
def invite(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    form = InvitationForm()
    if not form.validate_on_submit():
        return render_ledger(ledger, form.status, invitation_form=form)
    invitation = Invitation.issue(ledger, current_user, form.note.data, INVITATION_LIFETIME)
    # The token is stored only as a hash: keep the link for the page that
    # shows it next, in this person's own session.
    session["new_invitation"] = {"id": invitation.id, "token": invitation.token}
    return redirect(url_for("ledgers.invitation", ledger_id=ledger.id, invitation_id=invitation.id))


@bp.get("/<id:ledger_id>/invitations/<id:invitation_id>")
@login_required
def invitation(ledger_id, invitation_id):
    invitation = invitation_for(current_user, ledger_id, invitation_id)
    fresh = session.get("new_invitation") or {}
    if fresh.get("id") == invitation.id:
        session.pop("new_invitation")  # shown once: the link lives nowhere else
    link = None
    if fresh.get("id") == invitation.id and invitation.status(utcnow()) == "open":
        link = external_url("join.show", token=fresh["token"])
    return render_template(
        "ledgers/invitation.html",
        ledger=invitation.ledger,
        invitation=invitation,
        link=link,
        status=invitation.status(utcnow()),
        form=ConfirmForm(),
    )


@bp.post("/<id:ledger_id>/invitations/<id:invitation_id>/revoke")
@login_required
def revoke(ledger_id, invitation_id):
    invitation = invitation_for(current_user, ledger_id, invitation_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_ledger(invitation.ledger, form.status, confirm_form=form)
    if invitation.revoke(current_user, utcnow()):
        flash("The invitation is withdrawn; its link no longer works.")
    else:
        flash("That invitation was already used, withdrawn or expired.")
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))


@bp.route("/<id:ledger_id>/leave", methods=("GET", "POST"))
@login_required
def leave(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        membership = Membership.active(ledger, current_user)
        if membership is not None:  # None: a second click already left
            membership.end("left", utcnow())
        flash(f"You have left “{ledger.name}”. What you agreed there stays in its history.")
        return redirect(url_for("home.index"))
    partners = list(ledger.partners())
    return render_template(
        "ledgers/leave.html", ledger=ledger, form=form, partners=partners
    ), form.status


@bp.route("/<id:ledger_id>/partners/<id:membership_id>/remove", methods=("GET", "POST"))
@login_required
def remove(ledger_id, membership_id):
    membership = membership_for(current_user, ledger_id, membership_id)
    if membership.user_id == current_user.id:
        return redirect(url_for("ledgers.leave", ledger_id=ledger_id))
    ledger = membership.ledger
    form = ConfirmForm()
    if form.validate_on_submit():
        removal = Removal.request(membership, current_user, utcnow())
        if removal.outcome == "removed":
            flash(f"{membership.user.display_name} is no longer a partner in “{ledger.name}”.")
        else:
            flash("Your confirmation is recorded. The other partners are asked to confirm too.")
        return redirect(url_for("ledgers.show", ledger_id=ledger_id))
    others = [p for p in ledger.partners() if p.id != membership.id]
    return render_template(
        "ledgers/remove.html", ledger=ledger, membership=membership, others=others, form=form
    ), form.status


@bp.post("/<id:ledger_id>/removals/<id:removal_id>/withdraw")
@login_required
def withdraw_removal(ledger_id, removal_id):
    removal = removal_for(current_user, ledger_id, removal_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_ledger(ledger_for(current_user, ledger_id), form.status, confirm_form=form)
    if removal.requested_by_id != current_user.id:
        abort(403)
    removal.withdraw(utcnow())
    flash("The request to remove a partner is withdrawn.")
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))
