"""Writing agreements: new proposals, private drafts, changes, retiring, and
the conflict page when someone else proposed first."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..access import agreement_for, draft_for, ledger_for
from ..db import utcnow
from ..forms.agreements import FORMS, RetireForm, field_labels
from ..forms.auth import ConfirmForm
from ..models import KINDS, Agreement, Conflict, Draft
from ..models.agreements import LimitReached, canonical_json
from ..security import int_arg
from ..starters import STARTERS
from .blueprint import bp, cooling_message, kept_as_draft, load_one, me, names, readable, title_of


@bp.get("/agreements/new")
@login_required
def choose(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    return render_template("agreements/choose.html", ledger=ledger, kinds=KINDS, starters=STARTERS)


@bp.route("/agreements/new/<kind>", methods=("GET", "POST"))
@login_required
def new(ledger_id, kind):
    ledger = ledger_for(me(), ledger_id)
    if kind not in FORMS:
        abort(404)
    starter = STARTERS[kind].get(request.args.get("starter", ""), {}).get("content", {})
    form = FORMS[kind](data=starter) if request.method == "GET" else FORMS[kind]()
    if form.validate_on_submit():
        cooling = cooling_message(ledger)
        try:
            if request.form.get("action") == "draft" or cooling:
                draft = Draft.start(ledger, me(), kind, form.content(), form.reason_text)
                flash(kept_as_draft(cooling))
                return redirect(url_for("agreements.draft", ledger_id=ledger.id, draft_id=draft.id))
            revision = Agreement.propose_new(
                ledger, me(), kind, form.content(), form.reason_text, form.submission.data
            )
        except LimitReached as limit:
            flash(str(limit))  # on the form below, which keeps what was typed (422)
        else:
            flash("Proposed. Your partners are asked to read it and answer.")
            return redirect(
                url_for("agreements.show", ledger_id=ledger.id, agreement_id=revision.agreement_id)
            )
    return render_template(
        "agreements/form.html", ledger=ledger, kind=kind, form=form, mode="new"
    ), form.status


@bp.route("/drafts/<id:draft_id>", methods=("GET", "POST"))
@login_required
def draft(ledger_id, draft_id):
    draft = draft_for(me(), ledger_id, draft_id)
    form_class = FORMS[draft.kind]
    if request.method == "GET":
        form = form_class(data={**draft.fields, "reason": draft.reason, "base": draft.base_number})
    else:
        form = form_class()
    if form.validate_on_submit():
        cooling = cooling_message(draft.ledger)
        if request.form.get("action") == "draft" or cooling:
            Draft.update(
                content=canonical_json(form.content()),
                reason=form.reason_text,
                updated_at=utcnow(),
            ).where(Draft.id == draft.id).execute()
            flash(f"{cooling} Your draft is saved." if cooling else "Draft saved.")
            return redirect(url_for("agreements.draft", ledger_id=ledger_id, draft_id=draft.id))
        try:
            if draft.agreement_id:
                agreement = agreement_for(me(), ledger_id, draft.agreement_id)
                if load_one(agreement)[0].retired:
                    flash("That agreement was retired meanwhile; your draft is kept.")
                    return redirect(
                        url_for("agreements.draft", ledger_id=ledger_id, draft_id=draft.id)
                    )
                revision = agreement.append_revision(
                    me(), "propose", form.content(), form.reason_text, form.base.data or 0
                )
            else:
                revision = Agreement.propose_new(
                    draft.ledger,
                    me(),
                    draft.kind,
                    form.content(),
                    form.reason_text,
                    form.submission.data,
                )
        except Conflict:
            return conflict(agreement_for(me(), ledger_id, draft.agreement_id), form)
        except LimitReached as limit:
            flash(str(limit))  # the draft stays; the form below keeps what was typed (422)
        else:
            draft.delete_instance()
            flash("Proposed. Your partners are asked to read it and answer.")
            return redirect(
                url_for("agreements.show", ledger_id=ledger_id, agreement_id=revision.agreement_id)
            )
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
    form_class = FORMS[agreement.kind]
    if request.method == "GET":
        source = state.current.revision
        restore = int_arg("from")
        if restore:
            source = agreement.revision(restore) or abort(404)
        form = form_class(
            data={
                **source.fields,
                "base": state.latest.revision.number,
                "reason": f"Restoring revision {restore}" if restore else "",
            }
        )
    else:
        form = form_class()
    if form.validate_on_submit():
        cooling = cooling_message(agreement.ledger)
        if request.form.get("action") == "draft" or cooling:
            try:
                d = Draft.start(
                    agreement.ledger_id,
                    me(),
                    agreement.kind,
                    form.content(),
                    form.reason_text,
                    agreement=agreement,
                    base_number=form.base.data or 0,
                )
            except LimitReached as limit:
                flash(str(limit))  # on the form below, which keeps what was typed (422)
            else:
                flash(kept_as_draft(cooling))
                return redirect(url_for("agreements.draft", ledger_id=ledger_id, draft_id=d.id))
        else:
            try:
                agreement.append_revision(
                    me(), "propose", form.content(), form.reason_text, form.base.data or -1
                )
            except Conflict:
                return conflict(agreement, form)
            flash(
                "Your change is proposed. What is in force stays in force until everyone accepts."
                if state.in_force
                else "Your new version is proposed. Your partners are asked to answer it."
            )
            return redirect(
                url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id)
            )
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


def conflict(agreement, form):
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
    if not state.in_force or state.retired:
        abort(404)
    form = (
        RetireForm(base=state.latest.revision.number) if request.method == "GET" else RetireForm()
    )
    notice, status = None, None
    if form.validate_on_submit():
        notice = cooling_message(agreement.ledger)
        try:
            if notice:
                raise Conflict("cooling")
            agreement.append_revision(
                me(),
                "retire",
                state.in_force.revision.fields,
                form.reason_text,
                form.base.data or -1,
            )
        except Conflict:
            # A visible conflict, the reason still in the form.
            notice = notice or "Someone proposed something on this agreement meanwhile."
            status = 409
        else:
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
    ), status or form.status
