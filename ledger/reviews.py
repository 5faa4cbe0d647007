"""Reviews: revisiting agreements on their rhythm.

Start a review of what is due (or of every agreement in force), answer each
agreement in your own time, and see what came of it once everyone answered.
The words about what a review does live in ``models.reviews``.
"""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from peewee import fn

from .access import ledger_for
from .agreements.blueprint import cooling_message, names, readable, title_of
from .cadence import local_date
from .db import utcnow
from .forms import CSRF_EXPLANATION
from .forms.agreements import field_labels
from .forms.auth import ConfirmForm
from .forms.reviews import ConfirmRetirementForm, ReviewAnswerForm, StartReviewForm
from .mail import Reminder, register_reminder_source
from .models import Conflict, Ledger, Membership
from .models.agreements import Agreement
from .models.mail import Outbox
from .models.reviews import (
    CHOICES,
    OUTCOMES,
    Review,
    ReviewClosed,
    ReviewItem,
    review_due_reminders,
    review_entries,
)
from .security import external_url

bp = Blueprint("reviews", __name__, url_prefix="/ledgers/<id:ledger_id>/reviews")

#: A few reflection questions per kind of agreement, in our own words.
QUESTIONS = {
    "pause_signal": [
        "When did we use it since our last review, and what was going on?",
        "Did the pause help us calm down, or did it feel like being shut out?",
        "Did we come back to the conversation the way we agreed, and in time?",
    ],
    "topic": [
        "Has anything moved on this topic since we last looked at it?",
        "Is it ready to come home, or does it still belong in a session with our therapist?",
        "When we did talk about it, did the way we agreed on help?",
    ],
    "digital_boundary": [
        "Does it still protect what it was for?",
        "Was there a moment it was hard to keep, or unclear what it meant?",
        "Has anything new come up (an app, a habit, a photo) that it should cover?",
    ],
    "general": [
        "Is this still how we want things to be between us?",
        "When did it help us, and when did it get in the way?",
        "Is there something we already do differently that the words should say?",
    ],
}

#: Flash text after each answer, and why an answer was not recorded.
ANSWERED = "Your answer is saved. Your partners see it once everyone has answered."
CLOSED = {
    "answered": "You have answered about this agreement already.",
    "settled": "This agreement already has its outcome in this review.",
    "not asked": "You joined after this review began, so it doesn't wait for you.",
}
SETTLED = {
    "reaffirmed": "Everyone chose to keep it: it is reaffirmed, and its next review is set.",
    "change": "A change was asked for: a draft with the words in force is waiting for "
    "whoever asked. It becomes a proposal when they propose it.",
    "retire": "Everyone chose to retire it: retiring it is proposed. Each of you "
    "confirms it with one tap.",
    "undecided": "Some of you chose to keep it and some to retire it. Nothing changes by "
    "itself; you can park it for your next session.",
    "overtaken": "A proposal about it came first: that proposal is its review.",
}


def me():
    return current_user._get_current_object()


@register_reminder_source
def reviews_due(now):
    """One email per review that became due: per partner and ledger, when an
    agreement's review date has come there, each agreement and date once."""
    found = review_due_reminders(now)
    known = Outbox.known(item for r in found for item in r["items"])
    for r in found:
        new = tuple(item for item in r["items"] if item not in known)
        if new:
            yield Reminder(
                user=r["user"],
                kind="reviews",
                key=r["key"],
                template="review-due",
                subject="Time to revisit some agreements",
                context={
                    "count": r["count"],
                    "url": external_url("agreements.dashboard", ledger_id=r["ledger"].id),
                },
                items=new,
            )


def review_for(user, ledger_id, review_id):
    """A review of the ledger, with its ledger, if ``user`` is a partner (else 404)."""
    partner = Membership.select(Membership.id).where(
        (Membership.ledger == ledger_id) & (Membership.user == user) & Membership.left_at.is_null()
    )
    review = (
        Review.select(Review, Ledger)
        .join(Ledger)
        .where((Review.id == review_id) & (Review.ledger == ledger_id) & fn.EXISTS(partner))
        .first()
    )
    if review is None:
        abort(404)
    return review


def item_for(user, ledger_id, review_id, item_id):
    """(review, item) of the ledger if ``user`` is a partner (else 404)."""
    review = review_for(user, ledger_id, review_id)
    item = ReviewItem.for_review(review.id, item_id)
    if item is None:
        abort(404)
    return review, item


@bp.get("")
@login_required
def index(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    return render_index(ledger)


def render_index(ledger, form=None, status=200):
    reviews = list(Review.in_ledger(ledger.id))
    items, answers = ReviewItem.of_reviews([r.id for r in reviews])
    return render_template(
        "reviews/index.html",
        ledger=ledger,
        reviews=reviews,
        open_review=next((r for r in reviews if r.finished_at is None), None),
        items=items,
        answers=answers,
        names=names(Membership.of_ledger(ledger.id)),
        choices=CHOICES,
        outcomes=OUTCOMES,
        title_of=title_of,
        form=form or StartReviewForm(),
    ), status


@bp.post("")
@login_required
def start(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    form = StartReviewForm()
    if not form.validate_on_submit():
        return render_index(ledger, form, form.status)
    review, new = Review.start(ledger, me(), form.scope.data, utcnow())
    if review is None:
        flash(
            "Nothing is due for review now. You can revisit every agreement in force instead."
            if form.scope.data == "due"
            else "No agreement is in force without a change pending, so there is nothing "
            "to revisit now."
        )
        return redirect(url_for("reviews.index", ledger_id=ledger.id))
    if not new:
        flash("A review is already under way: here it is. Answer in your own time.")
    return redirect(url_for("reviews.show", ledger_id=ledger.id, review_id=review.id))


@bp.get("/<id:review_id>")
@login_required
def show(ledger_id, review_id):
    review = review_for(me(), ledger_id, review_id)
    return render_review(review)


def render_review(review, status=200, forms=None, notice=None):
    now = utcnow()
    entries, memberships = review_entries(review, me().id, now)
    forms = forms or {}
    return render_template(
        "reviews/show.html",
        ledger=review.ledger,
        review=review,
        entries=entries,
        names=names(memberships),
        questions=QUESTIONS,
        choices=CHOICES,
        outcomes=OUTCOMES,
        forms={e.item.id: forms.get(e.item.id) or answer_form(e.item.id) for e in entries},
        confirm_form=ConfirmForm(),
        retire_form=ConfirmRetirementForm(),
        title_of=title_of,
        labels_of=field_labels,
        readable=readable,
        started_on=local_date(review.started_at, review.ledger.time_zone),
        notice=notice,
    ), status


def answer_form(item_id):
    """One answer form per agreement on the page, each with its own field names."""
    return ReviewAnswerForm(prefix=f"item{item_id}-")


@bp.post("/<id:review_id>/items/<id:item_id>/answer")
@login_required
def answer(ledger_id, review_id, item_id):
    review, item = item_for(me(), ledger_id, review_id, item_id)
    form = answer_form(item.id)
    if not form.validate_on_submit():
        return render_review(review, form.status, forms={item.id: form})
    cooling = cooling_message(review.ledger)
    if cooling:
        return render_review(review, 409, forms={item.id: form}, notice=cooling)
    try:
        item = item.answer(me(), form.choice.data, form.note.data or "", utcnow())
    except ReviewClosed as closed:
        return render_review(review, 409, notice=CLOSED[closed.reason])
    flash(SETTLED.get(item.outcome, ANSWERED))
    return redirect(
        url_for("reviews.show", ledger_id=ledger_id, review_id=review.id, _anchor=f"item-{item.id}")
    )


@bp.post("/<id:review_id>/items/<id:item_id>/park")
@login_required
def park(ledger_id, review_id, item_id):
    review, item = item_for(me(), ledger_id, review_id, item_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_review(review, form.status, notice=CSRF_EXPLANATION)
    words = item.revision.fields
    if not item.park(me(), title_of(item.agreement.kind, words) or "An agreement", utcnow()):
        return render_review(review, 409, notice="It is parked already, or has another outcome.")
    flash("Parked for your next session: it is on the agenda.")
    return redirect(url_for("reviews.show", ledger_id=ledger_id, review_id=review.id))


@bp.post("/<id:review_id>/items/<id:item_id>/confirm-retirement")
@login_required
def confirm_retirement(ledger_id, review_id, item_id):
    review, item = item_for(me(), ledger_id, review_id, item_id)
    form = ConfirmRetirementForm()
    if not form.validate_on_submit():
        notice = CSRF_EXPLANATION if form.csrf_failed else "Please read it again."
        return render_review(review, form.status, notice=notice)
    if item.retirement_id is None:
        return render_review(review, 409)
    cooling = cooling_message(review.ledger)
    if cooling:
        return render_review(review, 409, notice=cooling)
    agreement = Agreement.get_by_id(item.agreement_id)
    number = item.retirement.number
    try:
        agreement.answer(me(), number, "accept", "", form.content_hash.data)
    except Conflict:
        return render_review(
            review,
            409,
            notice="That retirement changed or was answered meanwhile. Please look again.",
        )
    flash("You confirmed retiring it.")
    return redirect(url_for("reviews.show", ledger_id=ledger_id, review_id=review.id))
