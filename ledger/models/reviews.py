"""Reviews: revisiting agreements on their rhythm, and each partner's private
calendar feed of review dates.

A review gathers the agreements due (or every agreement in force) of one
ledger. Each partner answers each agreement in their own time — keep, change
or retire, with a note — and nobody sees another's answer to an agreement
until every partner has answered it. Then the agreement settles, in this
order: any "change" opens a draft of the words in force for each partner who
chose it; all "retire" proposes retiring it; all "keep" reaffirms it (a link
of its hash chain, from which its next review counts); keep and retire mixed
changes nothing and can be parked on the next session's agenda.

An agreement that a proposal overtook meanwhile (a change pending, retired,
or new words in force) leaves the review: the proposal is its review.
"""

import datetime

from peewee import (
    AutoField,
    CharField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
)

from ..cadence import local_date
from ..db import UTCDateTimeField, lock, prepared, slot, utcnow, write_transaction
from ..hashchain import canonical_json
from .accounts import User
from .agreements import Agreement, Conflict, Consent, Draft, Revision, StoredState
from .base import BaseModel, new_token, token_hash
from .ledgers import PARTNERS_CHANGED, Ledger, Membership
from .pause import AgendaItem, PauseLog

#: What a partner can answer about one agreement.
CHOICES = {
    "keep": "Keep it as it is",
    "change": "Change it",
    "retire": "Retire it",
}

#: How each outcome reads, in the past tense.
OUTCOMES = {
    "reaffirmed": "Kept as it is: reaffirmed",
    "change": "A change is being drafted",
    "retire": "Retiring it was proposed",
    "undecided": "Some chose to keep it, some to retire it",
    "overtaken": "A proposal came first: that proposal is its review",
}


class ReviewClosed(Exception):  # noqa: N818 - a condition people see, not a bug
    """The answer can't be recorded; ``reason`` says why: "answered" (this
    partner answered already), "settled" (the agreement has its outcome),
    "not asked" (joined after the review began)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Review(BaseModel):
    """One revisit of some agreements of a ledger."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE")
    started_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    started_at = UTCDateTimeField(default=utcnow)
    #: "due" (what was due) or "all" (every agreement in force)
    scope = CharField(max_length=10, default="due")
    #: Set once every agreement in it has its outcome.
    finished_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("ledger", "started_at"), False),)

    @classmethod
    def open_in(cls, ledger_id):
        """The ledger's review still under way, or None."""
        return (
            cls.select()
            .where((cls.ledger == ledger_id) & cls.finished_at.is_null())
            .order_by(cls.started_at.desc())
            .first()
        )

    @classmethod
    def in_ledger(cls, ledger_id, limit=50):
        """The ledger's reviews, newest first."""
        return (
            cls.select()
            .where(cls.ledger == ledger_id)
            .order_by(cls.started_at.desc(), cls.id.desc())
            .limit(limit)
        )

    @classmethod
    def start(cls, ledger, user, scope, now):
        """Gather what is due (``scope`` "due") or every agreement in force
        ("all") into a new review; the review already under way instead, if
        there is one. Returns (review, new), or (None, False) when there is
        nothing to review."""
        with write_transaction():
            lock(Ledger.select().where(Ledger.id == ledger.id)).get()
            current = cls.open_in(ledger.id)
            if current is not None:
                current.tidy(now)
                if current.finished_at is None:
                    return current, False
            today = local_date(now, ledger.time_zone)
            states = sorted(
                StoredState.due_in([ledger.id], today if scope == "due" else None),
                key=lambda s: (s.next_review, s.agreement.created_at, s.agreement_id),
            )
            if not states:
                return None, False
            review = cls.create(ledger=ledger, started_by=user, started_at=now, scope=scope)
            ReviewItem.insert_many(
                [
                    {
                        "review": review.id,
                        "agreement": s.agreement_id,
                        "revision": s.in_force_id,
                        "since": s.reviewed_at,
                        "due_on": s.next_review,
                        "position": position,
                    }
                    for position, s in enumerate(states, start=1)
                ]
            ).execute()
        return review, True

    def waited_for(self, memberships):
        """The user ids whose answers this review waits for: the partners who
        were in the ledger when it began and still are."""
        return [
            m.user_id for m in memberships if m.left_at is None and m.joined_at <= self.started_at
        ]

    def items(self):
        """The review's agreements, each with its agreement and the revision
        that was in force when it was gathered, in order: one query."""
        return list(
            ReviewItem.select(ReviewItem, Agreement, Revision)
            .join(Agreement)
            .switch(ReviewItem)
            .join(Revision, on=(ReviewItem.revision == Revision.id))
            .where(ReviewItem.review == self.id)
            .order_by(ReviewItem.position)
        )

    def tidy(self, now):
        """Settle what can be settled (inside a write): an agreement overtaken
        by a proposal leaves the review; one every partner still here has
        answered gets its outcome; the review ends when all have one."""
        memberships = list(Membership.of_ledger(self.ledger_id))
        required = self.waited_for(memberships)
        for item in ReviewItem.select().where(
            (ReviewItem.review == self.id) & ReviewItem.outcome.is_null()
        ):
            item.settle(self, required, now)
        self.finish_if_done(now)

    def finish_if_done(self, now):
        left = (
            ReviewItem.select()
            .where((ReviewItem.review == self.id) & ReviewItem.outcome.is_null())
            .count()
        )
        if not left and self.finished_at is None:
            Review.update(finished_at=now).where(Review.id == self.id).execute()
            self.finished_at = now


class ReviewItem(BaseModel):
    """One agreement in a review, and what came of it."""

    id = AutoField()
    review = ForeignKeyField(Review, backref="+", on_delete="CASCADE")
    agreement = ForeignKeyField(Agreement, backref="+", on_delete="CASCADE")
    #: The revision in force when it was gathered: what the partners answer about.
    revision = ForeignKeyField(Revision, backref="+", on_delete="CASCADE")
    #: When it had last been settled (came into force or was reaffirmed), and
    #: the date it was due, as they were when it was gathered.
    since = UTCDateTimeField(null=True)
    due_on = CharField(max_length=10, null=True)
    position = IntegerField(default=0)
    #: None while partners answer; then a key of OUTCOMES.
    outcome = CharField(max_length=12, null=True)
    settled_at = UTCDateTimeField(null=True)
    #: The retirement proposed when everyone chose "retire".
    retirement = ForeignKeyField(Revision, null=True, backref="+", on_delete="SET NULL")
    #: Set when keep and retire were mixed and a partner parked it for a session.
    parked_at = UTCDateTimeField(null=True)
    parked_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = (
            (("review", "agreement"), True),
            (("agreement", "settled_at"), False),
        )

    @property
    def outcome_text(self):
        return OUTCOMES.get(self.outcome, "")

    @classmethod
    def for_review(cls, review_id, item_id):
        """An item of a review, or None."""
        return cls.get_or_none((cls.id == item_id) & (cls.review == review_id))

    @classmethod
    def of_agreement(cls, agreement_id):
        """An agreement's last 20 reviews, newest first, with their review, and
        the answers to the settled ones: ([item], {item id: [answer]}), two
        queries (the first prepared: every agreement page asks)."""
        items = list(_reviews_of_agreement(agreement=agreement_id))
        return items, ReviewAnswer.of_items([i.id for i in items if i.outcome is not None])

    @classmethod
    def of_reviews(cls, review_ids):
        """The items of these reviews, each with its agreement and the words
        it was about, and the answers to the settled ones (an answer stays
        hidden until its agreement settles): ({review id: [item]}, {item
        id: [answer]}), in two queries."""
        items = {i: [] for i in review_ids}
        if not review_ids:
            return items, {}
        for item in (
            cls.select(cls, Agreement, Revision)
            .join(Agreement)
            .switch(cls)
            .join(Revision, on=(cls.revision == Revision.id))
            .where(cls.review.in_(review_ids))
            .order_by(cls.position)
        ):
            items[item.review_id].append(item)
        settled = [i.id for group in items.values() for i in group if i.outcome is not None]
        return items, ReviewAnswer.of_items(settled)

    def answer(self, user, choice, note, now):
        """Record a partner's answer; settle the agreement once every partner
        still here has answered. ReviewClosed when it can't be recorded."""
        with write_transaction():
            item = lock(ReviewItem.select().where(ReviewItem.id == self.id)).get()
            review = Review.get_by_id(item.review_id)
            if item.outcome is not None:
                raise ReviewClosed("settled")
            memberships = list(Membership.of_ledger(review.ledger_id))
            required = review.waited_for(memberships)
            if user.id not in required:
                raise ReviewClosed("not asked")
            try:
                with write_transaction():
                    ReviewAnswer.create(
                        item=item, user=user, choice=choice, note=note, created_at=now
                    )
            except IntegrityError as exc:  # the unique (item, user)
                raise ReviewClosed("answered") from exc
            item.settle(review, required, now)
            review.finish_if_done(now)
        return item

    def settle(self, review, required, now):
        """Give this agreement its outcome if it can have one now (inside a write)."""
        stored = StoredState.get_or_none(StoredState.agreement == self.agreement_id)
        if stored is None or stored.label != "in force" or stored.in_force_id != self.revision_id:
            return self._close("overtaken", now)
        answers = {a.user_id: a for a in ReviewAnswer.select().where(ReviewAnswer.item == self.id)}
        if len(required) < Ledger.MIN_PARTNERS or any(u not in answers for u in required):
            return None
        chosen = [answers[u] for u in required]
        choices = {a.choice for a in chosen}
        agreement = Agreement.get_by_id(self.agreement_id)
        words = Revision.get_by_id(self.revision_id)
        if "change" in choices:
            for a in chosen:
                if a.choice == "change":
                    draft = Draft.create(
                        ledger=review.ledger_id,
                        author=a.user_id,
                        kind=agreement.kind,
                        content=words.content,
                        reason=a.note,
                        agreement=agreement,
                        base_number=stored.latest_number,
                        created_at=now,
                        updated_at=now,
                    )
                    ReviewAnswer.update(draft=draft).where(ReviewAnswer.id == a.id).execute()
            return self._close("change", now)
        try:
            if choices == {"retire"}:
                last = max(chosen, key=lambda a: (a.created_at, a.id))
                reason = " ".join(a.note for a in chosen if a.note) or "We chose this in a review."
                revision = agreement.append_revision(
                    User.get_by_id(last.user_id),
                    "retire",
                    words.fields,
                    reason[:1000],
                    stored.latest_number,
                )
                return self._close("retire", now, retirement=revision)
            if choices == {"keep"}:
                partners = list(User.select().where(User.id.in_(required)))
                agreement.reaffirm(self.revision_id, partners, now)
                return self._close("reaffirmed", now)
        except Conflict:
            return self._close("overtaken", now)
        return self._close("undecided", now)

    def _close(self, outcome, now, retirement=None):
        ReviewItem.update(outcome=outcome, settled_at=now, retirement=retirement).where(
            (ReviewItem.id == self.id) & ReviewItem.outcome.is_null()
        ).execute()
        self.outcome, self.settled_at = outcome, now
        self.retirement = retirement
        return outcome

    def park(self, user, title, now):
        """Put an agreement whose partners chose keep and retire on the agenda
        for the next session; False when it is not such an agreement or is
        parked already."""
        with write_transaction():
            item = lock(ReviewItem.select().where(ReviewItem.id == self.id)).get()
            if item.outcome != "undecided" or item.parked_at is not None:
                return False
            review = Review.get_by_id(item.review_id)
            when = local_date(review.started_at, review.ledger.time_zone)
            AgendaItem.create(
                ledger=review.ledger_id,
                author=user,
                topic=title[:120],
                note=f"From our review of {when:%-d %B %Y}: keep it, or retire it?",
                created_at=now,
            )
            ReviewItem.update(parked_at=now, parked_by=user).where(
                ReviewItem.id == item.id
            ).execute()
        return True


class ReviewAnswer(BaseModel):
    """One partner's answer about one agreement in a review."""

    id = AutoField()
    item = ForeignKeyField(ReviewItem, backref="+", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    #: A key of CHOICES.
    choice = CharField(max_length=10)
    note = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    #: The draft of a change opened for this partner when it settled.
    draft = ForeignKeyField(Draft, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("item", "user"), True),)

    @classmethod
    def of_items(cls, item_ids):
        """Every answer to these items, by item id: one query."""
        found = {i: [] for i in item_ids}
        if item_ids:
            for answer in cls.select().where(cls.item.in_(item_ids)).order_by(cls.created_at):
                found[answer.item_id].append(answer)
        return found


class Entry:
    """One agreement of a review as one partner sees it."""

    def __init__(self, item, answers, required, user_id, stored):
        self.item, self.agreement, self.revision = item, item.agreement, item.revision
        self.fields = item.revision.fields
        self.required = required
        self.answered = {a.user_id for a in answers}
        self.mine = next((a for a in answers if a.user_id == user_id), None)
        self.visible = visible_answers(answers, required, item.outcome is not None, user_id)
        self.waiting = [u for u in required if u not in self.answered]
        #: A proposal overtook it while the review was under way.
        self.overtaken = item.outcome == "overtaken" or (
            item.outcome is None
            and (
                stored is None
                or stored.label != "in force"
                or stored.in_force_id != item.revision_id
            )
        )
        self.can_answer = (
            item.outcome is None
            and not self.overtaken
            and self.mine is None
            and user_id in required
        )
        self.pauses = None  # (noted, way back kept), for a pause signal
        self.retirement = None  # the retirement to confirm in one tap
        self.draft_id = None  # this partner's draft of a change

    @property
    def everyone_answered(self):
        return not self.waiting


def review_entries(review, user_id, now):
    """Everything a review's page shows, for one partner, in a fixed number
    of queries whatever its size: the items, the memberships, the answers,
    the stored states, the retirements' answers, the drafts and the pauses.
    Returns ([Entry], memberships)."""
    items = review.items()
    memberships = list(Membership.of_ledger(review.ledger_id))
    required = review.waited_for(memberships)
    answers = ReviewAnswer.of_items([i.id for i in items])
    ids = [i.agreement_id for i in items]
    states = {s.agreement_id: s for s in StoredState.select().where(StoredState.agreement.in_(ids))}
    entries = [
        Entry(i, answers[i.id], required, user_id, states.get(i.agreement_id)) for i in items
    ]
    retiring = {
        e.item.retirement_id: e
        for e in entries
        if e.item.outcome == "retire"
        and states.get(e.agreement.id) is not None
        and states[e.agreement.id].pending_id == e.item.retirement_id
    }
    if retiring:
        answered = {
            c.revision_id
            for c in Consent.select(Consent.revision).where(
                Consent.revision.in_(list(retiring)) & (Consent.user == user_id)
            )
        }
        for revision in Revision.select().where(Revision.id.in_(list(retiring))):
            if revision.id not in answered:
                retiring[revision.id].retirement = revision
    drafts = {e.mine.draft_id: e for e in entries if e.mine and e.mine.draft_id}
    if drafts:
        for draft in Draft.select(Draft.id).where(Draft.id.in_(list(drafts))):
            drafts[draft.id].draft_id = draft.id
    signals = [
        (e.agreement.id, e.fields, e.item.since)
        for e in entries
        if e.agreement.kind == "pause_signal"
    ]
    for agreement_id, counts in pause_counts(signals, now).items():
        for e in entries:
            if e.agreement.id == agreement_id:
                e.pauses = counts
    return entries, memberships


def visible_answers(answers, required, settled, user_id):
    """What ``user_id`` may see of an agreement's answers: their own, and the
    others' only once every partner has answered (or it settled)."""
    everyone = settled or all(u in {a.user_id for a in answers} for u in required)
    return [a for a in answers if everyone or a.user_id == user_id]


def pause_counts(signals, now):
    """How often each pause signal was noted since its last review, and how
    often the way back was kept (the conversation resumed within the agreed
    hours). ``signals``: [(agreement id, fields, since)]. One query."""
    counts = {agreement_id: (0, 0) for agreement_id, _, _ in signals}
    if not signals:
        return counts
    earliest = min(since or now for _, _, since in signals)
    rules = {agreement_id: (fields, since) for agreement_id, fields, since in signals}
    for pause in PauseLog.select().where(
        PauseLog.agreement.in_(list(rules)) & (PauseLog.started_at >= earliest)
    ):
        fields, since = rules[pause.agreement_id]
        if since is not None and pause.started_at < since:
            continue
        hours = int(fields.get("way_back_hours") or 2)
        kept = pause.resumed_at is not None and pause.resumed_at <= pause.started_at + (
            datetime.timedelta(hours=hours)
        )
        noted, back = counts[pause.agreement_id]
        counts[pause.agreement_id] = (noted + 1, back + int(kept))
    return counts


def settle_after_partners_changed(ledger_id, now):
    """A partner who leaves is no longer waited for: settle what their
    departure completes (inside the transaction of the change)."""
    review = Review.open_in(ledger_id)
    if review is not None:
        review.tidy(now)


PARTNERS_CHANGED.append(settle_after_partners_changed)


class CalendarFeed(BaseModel):
    """A partner's private calendar feed of review dates. Only the hash of
    its secret token is stored; the link is shown once, when it is made."""

    user = ForeignKeyField(User, primary_key=True, backref="+", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    created_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def of(cls, user):
        return cls.get_or_none(cls.user == user)

    @classmethod
    def renew(cls, user, now=None):
        """Make a new secret link (the old one stops working); return its token."""
        token, now = new_token(), now or utcnow()
        with write_transaction():
            cls.delete().where(cls.user == user).execute()
            cls.create(user=user, token_hash=token_hash(token), created_at=now)
        return token

    @classmethod
    def revoke(cls, user):
        """Stop the feed; True when there was one."""
        return bool(cls.delete().where(cls.user == user).execute())

    @classmethod
    def owner(cls, token):
        """The user a feed token belongs to, or None."""
        if not token or len(token) > 100:
            return None
        row = cls.select(cls, User).join(User).where(cls.token_hash == token_hash(token)).first()
        return row.user if row else None


def upcoming_reviews(user, now):
    """[(date, number of agreements)] of the review dates in every ledger the
    user is a partner in, each date in its ledger's zone; an overdue review
    counts on today's date there. Two queries."""
    ledgers = {
        m.ledger_id: m.ledger
        for m in Membership.select(Membership, Ledger)
        .join(Ledger)
        .where((Membership.user == user) & Membership.left_at.is_null())
    }
    events = {}
    if not ledgers:
        return []
    for state in StoredState.due_in(list(ledgers)):
        ledger = ledgers[state.ledger_id]
        day = max(state.next_review, local_date(now, ledger.time_zone))
        key = (ledger.uuid, day)
        events[key] = events.get(key, 0) + 1
    return sorted((day, count, lid) for (lid, day), count in events.items())


def review_due_reminders(now):
    """The email reminders of reviews that became due: one per partner and
    ledger with agreements due today or overdue there, as dicts with
    ``user``, ``ledger``, ``due_on`` (the ledger's today), ``count``, and
    the outbox ``key`` and ``items`` (one key per agreement and due date, so
    no agreement's due review is reminded of twice). A reminder names no
    agreement's words. Three queries.
    """
    ledgers = {}
    due = {}
    for state in StoredState.due_in_any(now):
        ledger = state.ledger
        today = local_date(now, ledger.time_zone)
        if state.next_review <= today:
            ledgers[ledger.id] = (ledger, today)
            due.setdefault(ledger.id, []).append(state)
    if not due:
        return []
    partners = (
        Membership.select(Membership, User)
        .join(User)
        .where(Membership.ledger.in_(list(due)) & Membership.left_at.is_null())
        .order_by(Membership.joined_at, Membership.id)
    )
    reminders = []
    for m in partners:
        ledger, today = ledgers[m.ledger_id]
        states = due[m.ledger_id]
        reminders.append(
            {
                "user": m.user,
                "ledger": ledger,
                "due_on": today,
                "count": len(states),
                "key": f"review-due:{ledger.uuid}:{today.isoformat()}:{m.user.uuid}",
                "items": [
                    f"review-due:{s.agreement.uuid}:{s.next_review.isoformat()}:{m.user.uuid}"
                    for s in states
                ],
            }
        )
    return reminders


def feed_uid(*parts):
    """A stable identifier for a calendar event that says nothing about it."""
    return f"{token_hash(canonical_json([str(p) for p in parts]))[:32]}@ledger"


@prepared
def _reviews_of_agreement():
    return (
        ReviewItem.select(ReviewItem, Review)
        .join(Review)
        .where(ReviewItem.agreement == slot("agreement"))
        .order_by(ReviewItem.id.desc())
        .limit(20)
    )
