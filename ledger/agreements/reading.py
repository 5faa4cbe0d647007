"""Reading agreements and answering them: the dashboard, an agreement's page,
answers and taking them back, the activity list and the print view."""

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from .. import cadence, diff
from ..access import agreement_for, ledger_for
from ..consent import ACCEPTING
from ..db import utcnow
from ..forms.agreements import ANSWERS, AnswerForm, field_labels
from ..forms.auth import ConfirmForm
from ..forms.reviews import StartReviewForm
from ..models import KINDS, Conflict, Draft
from ..models.agreements import Activity, StoredState
from ..models.pause import cooling_until
from ..models.reviews import CHOICES, OUTCOMES, Review, ReviewItem
from .blueprint import (
    AgreementPages,
    bp,
    cooling_message,
    load_listed,
    load_one,
    me,
    names,
    readable,
)


@bp.app_template_global()
def cadence_words(content):
    """ "Every three months": an agreement's cadence in words."""
    return cadence.describe(content)


@bp.app_template_global()
def trial_until(content):
    return cadence.trial_until(content)


class ReviewDates:
    """The dashboard's review dates: what is overdue, what is due today, and
    the next date to come with what falls due then."""

    def __init__(self, agreements, today):
        dated = sorted(
            (
                (state.next_review, agreement, state)
                for agreement, state in agreements
                if state.label == "in force" and state.next_review is not None
            ),
            key=lambda t: (t[0], t[1].created_at, t[1].id),
        )
        self.today = today
        self.overdue = [(a, s) for day, a, s in dated if day < today]
        self.due_today = [(a, s) for day, a, s in dated if day == today]
        later = [(day, a, s) for day, a, s in dated if day > today]
        self.next_date = later[0][0] if later else None
        self.coming = [(a, s) for day, a, s in later if day == self.next_date]

    @property
    def due(self):
        return self.overdue + self.due_today


def still_waiting(agreements, ids, who):
    """The agreements among ``ids`` that still wait for my answer (``who`` is
    "you") or only for others' ("others") by the state read with them: an
    answer given between the two reads drops one rather than mislabels it."""
    mine = me().id
    return [
        (agreement, state)
        for agreement, state in agreements
        if agreement.id in ids
        and (
            state.waits_for(mine)
            if who == "you"
            else state.pending is not None and not state.waits_for(mine)
        )
    ]


@bp.get("/agreements")
@login_required
def dashboard(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    today = cadence.local_date(utcnow(), ledger.time_zone)
    shown, in_force_counts, waiting = StoredState.dashboard_ids(me(), ledger.id, today)
    agreements, memberships = load_listed(ledger.id, shown)
    groups = {kind: [] for kind in KINDS}
    for agreement, state in agreements:
        group = groups[agreement.kind]
        if state.in_force_now and len(group) < StoredState.SHOWN_PER_KIND:
            group.append((agreement, state))
    return render_template(
        "agreements/dashboard.html",
        ledger=ledger,
        groups=groups,
        in_force_counts=in_force_counts,
        waiting_for_me=still_waiting(agreements, set(waiting["you"][0]), "you"),
        waiting_for_others=still_waiting(agreements, set(waiting["others"][0]), "others"),
        waiting_totals={who: total for who, (_, total) in waiting.items()},
        drafts=list(Draft.mine(ledger.id, me())),
        activity=Activity.recent(ledger.id, limit=8),
        names=names(memberships),
        active_partners=sum(1 for m in memberships if m.left_at is None),
        cooling_until=cooling_until(ledger, utcnow()),
        reviews=ReviewDates(agreements, today),
        due_total=StoredState.header_counts(me(), ledger.id, today)[1],
        open_review=Review.open_in(ledger.id),
        start_form=StartReviewForm(formdata=None),
    )


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
    reviews, review_answers = ReviewItem.of_agreement(agreement.id)
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
        reviews=reviews,
        review_answers=review_answers,
        review_outcomes=OUTCOMES,
        review_choices=CHOICES,
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
    return _take_back(
        ledger_id,
        agreement_id,
        lambda agreement: agreement.withdraw_answer(me(), number),
        "Your answer can't be taken back now: everyone has answered, or it changed.",
        "Your answer is withdrawn. You can answer again.",
    )


@bp.post("/agreements/<id:agreement_id>/revisions/<id:number>/withdraw")
@login_required
def withdraw_proposal(ledger_id, agreement_id, number):
    return _take_back(
        ledger_id,
        agreement_id,
        lambda agreement: agreement.withdraw_proposal(me(), number),
        "It came into force or changed just before you withdrew it. Please look again.",
        "Your proposal is withdrawn.",
    )


def _take_back(ledger_id, agreement_id, write, conflict_notice, done):
    """A one-button write on an agreement: confirm, write, and flash; a
    conflict is the agreement page again with status 409."""
    agreement = agreement_for(me(), ledger_id, agreement_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_agreement(agreement, form.status, confirm_form=form)
    try:
        write(agreement)
    except Conflict:
        return render_agreement(agreement, 409, notice=conflict_notice)
    flash(done)
    return redirect(url_for("agreements.show", ledger_id=ledger_id, agreement_id=agreement_id))


@bp.get("/agreements/kind/<any(general, topic, digital_boundary, pause_signal):kind>")
@login_required
def of_kind(ledger_id, kind):
    """Every agreement of one kind in force, 25 a page, oldest first."""
    ledger = ledger_for(me(), ledger_id)
    pages = AgreementPages(StoredState.in_force_of_kind(ledger.id, kind))
    agreements, memberships = load_listed(ledger.id, pages.ids())
    return render_template(
        "agreements/kind.html",
        ledger=ledger,
        kind=kind,
        agreements=agreements,
        pages=pages,
        names=names(memberships),
    )


@bp.get("/agreements/waiting/<any(you, others):who>")
@login_required
def waiting(ledger_id, who):
    """Every agreement waiting for my answer (``you``) or only for other
    partners' (``others``), 25 a page, oldest first."""
    ledger = ledger_for(me(), ledger_id)
    listed = StoredState.waiting_for if who == "you" else StoredState.waiting_for_others
    pages = AgreementPages(listed(me(), ledger.id))
    ids = pages.ids()
    agreements, memberships = load_listed(ledger.id, ids)
    return render_template(
        "agreements/waiting.html",
        ledger=ledger,
        who=who,
        agreements=still_waiting(agreements, ids, who),
        pages=pages,
        names=names(memberships),
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
    in_force, memberships = load_listed(ledger.id, in_force_only=True)
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
