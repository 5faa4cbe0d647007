"""Ledgers: create, look at, rename, switch, invite, leave, remove a partner,
and delete a ledger when every partner asks for it."""

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, session, url_for
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
from .filters import local_time
from .forms.auth import ConfirmForm
from .forms.ledgers import InvitationForm, LedgerForm, RenameLedgerForm, SwitchLedgerForm
from .models import Invitation, Ledger, LedgerDeletion, LedgerRename, Membership, Removal
from .navigation import page_ledger_id
from .security import external_url

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")

INVITATION_LIFETIME = timedelta(days=7)


@bp.app_template_global()
def printed_at():
    """Now (UTC): the day a printed page names, with its ledger."""
    return utcnow()


@bp.before_app_request
def carry_out_due_removals():
    """The first request that touches a ledger carries out its removals whose
    notice period has ended, under the lock, before anything reads it; what
    is still in its notice period is kept for the page's banner."""
    ledger_id = page_ledger_id()
    if ledger_id is None or not current_user.is_authenticated:
        return
    now = utcnow()
    noticed = Removal.in_notice(ledger_id)
    if any(removal.takes_effect_at <= now for removal in noticed):
        Removal.carry_out_due(now, ledger_id)
        noticed = Removal.in_notice(ledger_id)
    g.removals_in_notice = noticed


@bp.app_template_global()
def removal_notice():
    """The request to remove the signed-in partner from this page's ledger,
    in its notice period, or None: every page of that ledger says so."""
    mine = [
        removal
        for removal in g.get("removals_in_notice", ())
        if removal.membership.user_id == current_user.id
    ]
    if not mine:
        return None
    mine[0].form = ConfirmForm(formdata=None)  # its Cancel button's token
    return mine[0]


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
    forms.setdefault("rename_form", RenameLedgerForm(name=ledger.name))
    partners, former_partners = ledger.everyone()
    page = render_template(
        "ledgers/show.html",
        ledger=ledger,
        partners=partners,
        former_partners=former_partners,
        # Who renamed it, by the name they have (or had) here.
        names={m.user_id: m.name for m in [*former_partners, *partners]},
        invitations=list(ledger.invitations()),
        removals=ledger.open_removals(partners),
        renames=list(LedgerRename.of_ledger(ledger.id)),
        deletion=LedgerDeletion.pending(ledger.id, partners),
        now=utcnow(),
        csrf_notice=csrf_notice,
        **forms,
    )
    return page, status


@bp.post("/<id:ledger_id>/rename")
@login_required
def rename(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    form = RenameLedgerForm(current=ledger.name)
    if not form.validate_on_submit():
        return render_ledger(ledger, form.status, rename_form=form)
    old = ledger.name
    outcome = ledger.rename(current_user, form.name.data, utcnow())
    if outcome is None:  # no longer a partner, under the lock
        abort(404)
    flash(RENAMED[outcome].format(old=old, new=form.name.data))
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))


@bp.route("/<id:ledger_id>/delete", methods=("GET", "POST"))
@login_required
def delete(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_deletion(ledger, form)
    outcome = LedgerDeletion.ask(ledger.id, current_user, utcnow())
    if outcome is None:  # no longer a partner, under the lock
        abort(404)
    flash(DELETION[outcome].format(name=ledger.name))
    if outcome == "deleted":
        return redirect(url_for("home.index"))
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))


@bp.post("/<id:ledger_id>/delete/withdraw")
@login_required
def withdraw_deletion(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_deletion(ledger, form)
    outcome = LedgerDeletion.withdraw(ledger.id, current_user, utcnow())
    if outcome is None:  # only the partner who asked can withdraw it
        abort(403)
    flash(DELETION[outcome].format(name=ledger.name))
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))


def render_deletion(ledger, form):
    """Render the page that offers the export and asks to delete a ledger."""
    partners = list(ledger.partners())
    page = render_template(
        "ledgers/delete.html",
        ledger=ledger,
        partners=partners,
        deletion=LedgerDeletion.pending(ledger.id, partners),
        form=form,
    )
    return page, form.status


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
    # The token is stored only as a hash. For the page that shows the link
    # next, the database keeps it sealed with a one-time key that only this
    # session holds: the cookie alone (signed, but readable) is no link, and
    # replaying an older cookie shows nothing once the link was shown.
    session["new_invitation"] = {"id": invitation.id, "key": invitation.key}
    return redirect(url_for("ledgers.invitation", ledger_id=ledger.id, invitation_id=invitation.id))


@bp.get("/<id:ledger_id>/invitations/<id:invitation_id>")
@login_required
def invitation(ledger_id, invitation_id):
    invitation = invitation_for(current_user, ledger_id, invitation_id)
    fresh = session.get("new_invitation") or {}
    link = None
    if fresh.get("id") == invitation.id:
        session.pop("new_invitation")  # shown once: the link lives nowhere else
        token = invitation.reveal_once(fresh.get("key", ""), utcnow())
        if token and invitation.status(utcnow()) == "open":
            link = external_url("join.show", token=token)
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
        if removal is None:  # one of them stopped being a partner meanwhile
            abort(404)
        flash(_requested(removal, membership.name, ledger.name))
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
    outcome = removal.withdraw(current_user, utcnow())
    if outcome is None:
        abort(403)
    flash(WITHDRAWN[outcome])
    return redirect(url_for("ledgers.show", ledger_id=ledger_id))


def _requested(removal, name, ledger_name):
    """The flash after asking for, or confirming, a removal."""
    if removal.outcome == "removed":
        return f"{name} is no longer a partner in “{ledger_name}”."
    if removal.takes_effect_at is not None:
        return (
            f"{name} stays a partner until {local_time(removal.takes_effect_at)} and is told "
            "so on their next visit. Until then, either of you can cancel it."
        )
    return "Your confirmation is recorded. The other partners are asked to confirm too."


#: The flash after withdrawing or cancelling a removal, by outcome.
WITHDRAWN = {
    "withdrawn": "The request to remove a partner is withdrawn.",
    "cancelled": "The request is cancelled: you stay a partner in this ledger.",
    "settled": "That request was already settled.",
}


#: The flash after renaming a ledger, by outcome.
RENAMED = {
    "renamed": "“{old}” is now called “{new}”. The Partners page notes the change.",
    "unchanged": "That is its name already; nothing changed.",
}

#: The flash after asking to delete a ledger, confirming it, or withdrawing it.
DELETION = {
    "asked": (
        "You asked to delete “{name}”. Every other partner is asked to confirm it; "
        "until then nothing is deleted, and you can withdraw your request."
    ),
    "confirmed": ("Your yes is recorded. “{name}” is deleted once every partner has confirmed it."),
    "deleted": "“{name}” is deleted, with everything in it, as every partner asked.",
    "withdrawn": "Your request to delete “{name}” is withdrawn. Nothing was deleted.",
    "settled": "There is no open request to delete “{name}” any more.",
}
