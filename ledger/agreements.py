"""Agreements set together: drafts, proposals, answers, history and diffs."""

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from playhouse.flask_utils import PaginatedQuery

from . import diff
from .access import agreement_for, draft_for, ledger_for
from .consent import ACCEPTING
from .db import utcnow
from .forms.agreements import (
    ANSWERS,
    CHOICE_LABELS,
    FORMS,
    AnswerForm,
    RetireForm,
    field_labels,
)
from .forms.auth import ConfirmForm
from .models import KINDS, Agreement, Conflict, Draft, Revision
from .models.agreements import Activity, LimitReached, StoredState, Waiting, canonical_json
from .models.pause import cooling_until
from .security import int_arg
from .starters import STARTERS

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
    from .filters import local_time

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


@bp.get("/agreements")
@login_required
def dashboard(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    agreements, memberships = StoredState.in_ledger(ledger.id, utcnow())
    waiting = Waiting.agreements_for(me(), ledger.id)
    groups = {kind: [] for kind in KINDS}
    waiting_for_me, waiting_for_others = [], []
    for agreement, state in agreements:
        if state.in_force_now:
            groups[agreement.kind].append((agreement, state))
        if agreement.id in waiting:
            waiting_for_me.append((agreement, state))
        elif state.pending:
            waiting_for_others.append((agreement, state))
    return render_template(
        "agreements/dashboard.html",
        ledger=ledger,
        groups=groups,
        waiting_for_me=waiting_for_me,
        waiting_for_others=waiting_for_others,
        drafts=list(Draft.mine(ledger.id, me())),
        activity=Activity.recent(ledger.id, limit=8),
        names=names(memberships),
        active_partners=sum(1 for m in memberships if m.left_at is None),
        cooling_until=cooling_until(ledger, utcnow()),
    )


def waiting_count():
    """How many agreements wait for my answer in the current ledger (for the nav)."""
    from flask import g

    from .access import current_ledger

    if "waiting_count" not in g:
        ledger = current_ledger()
        g.waiting_count = Waiting.count_for(me(), ledger.id) if ledger is not None else 0
    return g.waiting_count


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
            revision = Agreement.propose_new(ledger, me(), kind, form.content(), form.reason_text)
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
                    draft.ledger, me(), draft.kind, form.content(), form.reason_text
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


def load_one(agreement):
    """An agreement's state and the memberships of its ledger (stored state,
    with the revisions in force and pending and their answers only)."""
    return StoredState.of(agreement, utcnow())


@bp.get("/agreements/<id:agreement_id>")
@login_required
def show(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    return render_agreement(agreement)


def render_agreement(agreement, status=200, answer_form=None, confirm_form=None, notice=None):
    state, memberships = load_one(agreement)
    pending = state.pending
    changes = None
    if pending and state.in_force:
        changes = diff.fields(
            field_labels(agreement.kind),
            readable(state.in_force.revision.fields),
            readable(pending.revision.fields),
        )
    answer_form = answer_form or AnswerForm()
    rs = state.answerable_by(me().id)
    if rs is not None and rs is state.in_force:
        # Joined later: accept what is in force, or propose a change to it.
        answer_form.decision.choices = {k: ANSWERS[k] for k in ACCEPTING}
    active = [m for m in memberships if m.left_at is None]
    not_yet = []
    if state.in_force and not state.retired:
        not_yet = [m.user for m in active if m.user_id not in state.in_force.answers]
    page = render_template(
        "agreements/show.html",
        ledger=agreement.ledger,
        agreement=agreement,
        state=state,
        changes=changes,
        labels=field_labels(agreement.kind),
        readable=readable,
        names=names(memberships),
        not_yet=not_yet,
        can_answer=rs,
        can_withdraw_answer=state.answer_withdrawable_by(me().id),
        answer_form=answer_form,
        confirm_form=confirm_form or ConfirmForm(),
        notice=notice,
    )
    return page, status


#: Flash text for each answer, and for each reason an answer was not recorded.
ANSWER_FLASHES = {
    "accept": "Your acceptance is recorded.",
    "concern": "Your acceptance and your concern are recorded.",
    "change": "Your request for a change is recorded and shown to your partners.",
}
ANSWER_CONFLICTS = {
    "changed": "That proposal can no longer be answered: it changed while you were reading.",
    "not seen": "What you read is not the revision on the table any more. Please read it again.",
}


@bp.post("/agreements/<id:agreement_id>/revisions/<id:number>/answer")
@login_required
def answer(ledger_id, agreement_id, number):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return render_agreement(agreement, form.status, answer_form=form)
    cooling = cooling_message(agreement.ledger)
    if cooling:
        return render_agreement(agreement, 409, answer_form=form, notice=cooling)
    try:
        agreement.answer(
            me(), number, form.decision.data, form.note.data or "", form.content_hash.data
        )
    except Conflict as conflict:
        if conflict.reason == "propose":
            flash("To ask for a change to what is in force, please propose the change.")
            return redirect(
                url_for("agreements.change", ledger_id=ledger_id, agreement_id=agreement_id)
            )
        # A visible conflict, with what was typed still in the form.
        return render_agreement(
            agreement, 409, answer_form=form, notice=ANSWER_CONFLICTS[conflict.reason]
        )
    flash(ANSWER_FLASHES[form.decision.data])
    return redirect(url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id))


@bp.post("/agreements/<id:agreement_id>/revisions/<id:number>/withdraw-answer")
@login_required
def withdraw_answer(ledger_id, agreement_id, number):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_agreement(agreement, form.status, confirm_form=form)
    try:
        agreement.withdraw_answer(me(), number)
    except Conflict:
        notice = "Your answer can't be taken back now: everyone has answered, or it changed."
        return render_agreement(agreement, 409, notice=notice)
    flash("Your answer is withdrawn. You can answer again.")
    return redirect(url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id))


@bp.post("/agreements/<id:agreement_id>/revisions/<id:number>/withdraw")
@login_required
def withdraw_proposal(ledger_id, agreement_id, number):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_agreement(agreement, form.status, confirm_form=form)
    try:
        agreement.withdraw_proposal(me(), number)
    except Conflict:
        notice = "It came into force or changed just before you withdrew it. Please look again."
        return render_agreement(agreement, 409, notice=notice)
    flash("Your proposal is withdrawn.")
    return redirect(url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id))


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
    if form.validate_on_submit():
        cooling = cooling_message(agreement.ledger)
        if cooling:
            flash(cooling)
            return redirect(
                url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id)
            )
        try:
            agreement.append_revision(
                me(),
                "retire",
                state.in_force.revision.fields,
                form.reason_text,
                form.base.data or -1,
            )
        except Conflict:
            flash("Someone proposed something on this agreement meanwhile. Please look again.")
            return redirect(
                url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id)
            )
        flash("Retiring it is proposed. It stays in force until everyone accepts.")
        return redirect(url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id))
    return render_template(
        "agreements/retire.html",
        ledger=agreement.ledger,
        agreement=agreement,
        state=state,
        form=form,
    ), form.status


@bp.get("/agreements/<id:agreement_id>/history")
@login_required
def history(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    state, _ = load_one(agreement)
    page = int_arg("page", default=1)
    pages = PaginatedQuery(
        Revision.select().where(Revision.agreement == agreement).order_by(Revision.number.desc()),
        paginate_by=10,
        page=page,
        check_bounds=True,
    )
    stored = StoredState.get(StoredState.agreement == agreement.id)
    entries, memberships = stored.history_states(agreement, pages.get_object_list(), utcnow())
    return render_template(
        "agreements/history.html",
        ledger=agreement.ledger,
        agreement=agreement,
        state=state,
        entries=entries,
        pagination=pages,
        page_number=pages.get_page(),
        names=names(memberships),
    )


@bp.get("/agreements/<id:agreement_id>/diff")
@login_required
def compare(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    latest = StoredState.get(StoredState.agreement == agreement.id).latest_number
    old = int_arg("from", default=max(1, latest - 1))
    new = int_arg("to", default=latest)
    contents = agreement.revision_contents(old, new)  # exactly the two compared
    if old not in contents or new not in contents:
        abort(404)
    changes = diff.fields(
        field_labels(agreement.kind),
        readable(json.loads(contents[old])),
        readable(json.loads(contents[new])),
    )
    return render_template(
        "agreements/diff.html",
        ledger=agreement.ledger,
        agreement=agreement,
        changes=changes,
        old=old,
        new=new,
        latest=latest,
    )


@bp.get("/activity")
@login_required
def activity(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    return render_template(
        "agreements/activity.html", ledger=ledger, events=Activity.recent(ledger.id, limit=100)
    )


@bp.get("/print")
@login_required
def print_view(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    in_force, memberships = StoredState.in_ledger(ledger.id, utcnow(), in_force_only=True)
    return render_template(
        "agreements/print.html",
        ledger=ledger,
        in_force=in_force,
        names=names(memberships),
        labels={kind: field_labels(kind) for kind in KINDS},
        readable=readable,
        kinds=KINDS,
        now=utcnow(),
    )
