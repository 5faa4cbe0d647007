"""Writing agreements: new proposals, private drafts, changes, retiring, and
the conflict page when someone else proposed first."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..access import agreement_for, draft_for, ledger_for
from ..forms.agreements import FORMS, RetireForm, field_labels
from ..forms.auth import ConfirmForm
from ..models import KINDS, Agreement, Conflict, Draft
from ..models.agreements import LimitReached
from ..security import int_arg
from ..starters import STARTERS
from .blueprint import bp, cooling_message, kept_as_draft, load_one, me, names, readable, title_of


@bp.get("/agreements/new")
@login_required
def choose(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    return render_template("agreements/choose.html", ledger=ledger, kinds=KINDS, starters=STARTERS)


#: What a proposal's author is told once it is made.
PROPOSED = "Proposed. Your partners are asked to read it and answer."
CHANGE_PROPOSED = "Your change is proposed. What is in force stays in force until everyone accepts."
VERSION_PROPOSED = "Your new version is proposed. Your partners are asked to answer it."
RETIRED_MEANWHILE = "That agreement was retired meanwhile."


def filled(form_class, start):
    """A form filled from ``start()`` on the way in (GET), from what was sent
    otherwise: ``start`` runs only when the form is first shown."""
    return form_class(data=start()) if request.method == "GET" else form_class()


def submit(form, ledger, kind, agreement=None, draft=None, proposed=PROPOSED):
    """Write what an agreement form says: kept as its author's private draft
    when they ask, or while cooling-off lasts; otherwise proposed (a new
    agreement, a change of ``agreement``, or what ``draft`` became), each one
    model call. Flashes what happened and returns the response; None when a
    limit was reached (flashed: the form shows again with what was typed)."""
    cooling = cooling_message(ledger)
    base = form.base.data or -1  # a change of no revision: always a conflict
    try:
        if request.form.get("action") == "draft" or cooling:
            if draft is None:
                number = (form.base.data or 0) if agreement else None
                draft = Draft.start(
                    ledger, me(), kind, form.content(), form.reason_text, agreement, number
                )
                flash(kept_as_draft(cooling))
            else:
                draft.rewrite(form.content(), form.reason_text)
                flash(f"{cooling} Your draft is saved." if cooling else "Draft saved.")
            return redirect(url_for("agreements.draft", ledger_id=ledger.id, draft_id=draft.id))
        if draft is not None:
            revision = draft.propose(form.content(), form.reason_text, base, form.submission.data)
        elif agreement is not None:
            revision = agreement.append_revision(
                me(), "propose", form.content(), form.reason_text, base
            )
        else:
            revision = Agreement.propose_new(
                ledger, me(), kind, form.content(), form.reason_text, form.submission.data
            )
    except LimitReached as limit:
        flash(str(limit))  # on the form, which keeps what was typed (422)
        return None
    except Conflict as conflict:
        agreement = agreement or Agreement.get_by_id(draft.agreement_id)
        if conflict.reason != "retired":
            return conflicting(agreement, form)
        flash(RETIRED_MEANWHILE if draft is None else f"{RETIRED_MEANWHILE} Your draft is kept.")
        back = url_for("agreements.show", ledger_id=ledger.id, agreement_id=agreement.id)
        return redirect(back if draft is None else request.path)
    flash(proposed)
    return redirect(
        url_for("agreements.show", ledger_id=ledger.id, agreement_id=revision.agreement_id)
    )


@bp.route("/agreements/new/<kind>", methods=("GET", "POST"))
@login_required
def new(ledger_id, kind):
    ledger = ledger_for(me(), ledger_id)
    if kind not in FORMS:
        abort(404)
    starter = STARTERS[kind].get(request.args.get("starter", ""), {})
    form = filled(FORMS[kind], lambda: starter.get("content", {}))
    if form.validate_on_submit() and (done := submit(form, ledger, kind)):
        return done
    return render_template(
        "agreements/form.html", ledger=ledger, kind=kind, form=form, mode="new"
    ), form.status


@bp.route("/drafts/<id:draft_id>", methods=("GET", "POST"))
@login_required
def draft(ledger_id, draft_id):
    draft = draft_for(me(), ledger_id, draft_id)
    start = {**draft.fields, "reason": draft.reason, "base": draft.base_number}
    form = filled(FORMS[draft.kind], lambda: start)
    if form.validate_on_submit() and (done := submit(form, draft.ledger, draft.kind, draft=draft)):
        return done
    return render_template(
        "agreements/form.html",
        ledger=draft.ledger,
        kind=draft.kind,
        form=form,
        mode="draft",
        draft=draft,
        changing=changing_title(draft),
    ), form.status


def changing_title(draft):
    """The title of the agreement a draft changes, or None for a new one."""
    if draft.agreement_id is None:
        return None
    return title_of(draft.kind, draft.agreement.latest_revision().fields)


@bp.post("/drafts/<id:draft_id>/delete")
@login_required
def delete_draft(ledger_id, draft_id):
    draft = draft_for(me(), ledger_id, draft_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "agreements/form.html",
            ledger=draft.ledger,
            kind=draft.kind,
            mode="draft",
            draft=draft,
            form=FORMS[draft.kind](data={**draft.fields, "reason": draft.reason}),
            csrf_notice=True,
        ), form.status
    draft.delete_instance()
    flash("The draft is deleted.")
    return redirect(url_for("agreements.dashboard", ledger_id=ledger_id))


@bp.route("/agreements/<id:agreement_id>/change", methods=("GET", "POST"))
@login_required
def change(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    state, memberships = load_one(agreement)
    if state.retired:
        abort(404)
    form = filled(FORMS[agreement.kind], lambda: change_start(agreement, state))
    proposed = CHANGE_PROPOSED if state.in_force else VERSION_PROPOSED
    if form.validate_on_submit() and (
        done := submit(form, agreement.ledger, agreement.kind, agreement, proposed=proposed)
    ):
        return done
    return render_template(
        "agreements/form.html",
        ledger=agreement.ledger,
        kind=agreement.kind,
        form=form,
        mode="change",
        agreement=agreement,
        in_force=state.in_force is not None and not state.retired,
        requests=state.pending.change_requested if state.pending else [],
        names=names(memberships),
    ), form.status


def change_start(agreement, state):
    """What the change form starts from: the words now (or revision ``?from=``'s,
    to propose it again), as a change of the latest revision."""
    restore = int_arg("from")
    source = (agreement.revision(restore) or abort(404)) if restore else state.current.revision
    return {
        **source.fields,
        "base": state.latest.revision.number,
        "reason": f"Restoring revision {restore}" if restore else "",
    }


def conflicting(agreement, form):
    """Someone else proposed first: show both, keep what this person typed."""
    state, memberships = load_one(agreement)
    newer = state.latest.revision
    # Re-applying starts from the newer revision (raw_data is what renders).
    form.base.data, form.base.raw_data = newer.number, [str(newer.number)]
    return render_template(
        "agreements/conflict.html",
        ledger=agreement.ledger,
        agreement=agreement,
        kind=agreement.kind,
        newer=newer,
        names=names(memberships),
        labels=field_labels(agreement.kind),
        readable=readable,
        mine=readable(form.content()),
        form=form,
    ), 409


@bp.route("/agreements/<id:agreement_id>/retire", methods=("GET", "POST"))
@login_required
def retire(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    state, _ = load_one(agreement)
    if not state.retirable:
        abort(404)
    form = filled(RetireForm, lambda: {"base": state.latest.revision.number})
    notice = None
    if form.validate_on_submit():
        # A visible conflict (409) when cooling-off holds it or someone was
        # first, the reason still in the form.
        notice = cooling_message(agreement.ledger) or retire_or_say_why(agreement, form)
        if notice is None:
            flash("Retiring it is proposed. It stays in force until everyone accepts.")
            return redirect(
                url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id)
            )
    return render_template(
        "agreements/retire.html",
        ledger=agreement.ledger,
        agreement=agreement,
        state=state,
        form=form,
        notice=notice,
    ), 409 if notice else form.status


def retire_or_say_why(agreement, form):
    """Propose retiring ``agreement``; None when done, else why not."""
    try:
        agreement.propose_retiring(me(), form.reason_text, form.base.data or -1)
    except Conflict:
        return "Someone proposed something on this agreement meanwhile."
    return None
