"""Agreements, their immutable revisions, the partners' consents, drafts, and
each agreement's stored state.

Revisions and consents are append-only (database triggers refuse UPDATE and
DELETE) and form one hash chain per agreement (``ledger.hashchain``;
``ledger.chain`` verifies it). What the history means — which revision is in
force, what is pending, whom it waits for — is defined once, by the replay in
``ledger.consent``. Its result is stored (``StoredState`` and ``Waiting``)
in the same transaction as every write that changes it: a revision, an answer,
or a change of who is a partner. Pages read the stored state and never load a
history; ``flask --app ledger verify`` proves it against a fresh replay.
"""

import datetime
import json
import uuid

from flask import current_app
from peewee import (
    AutoField,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
    UUIDField,
    fn,
)

from ..consent import ACCEPTING, derive, history_slice, rebuild
from ..db import UTCDateTimeField, lock, prepared, slot, utcnow, write_transaction
from ..hashchain import (
    canonical_json,
    consent_payload,
    content_hash,
    link,
    reaffirmation_payload,
    revision_payload,
)
from .accounts import User
from .base import BaseModel
from .ledgers import PARTNERS_CHANGED, Ledger, Membership

KINDS = {
    "topic": "Topic: home or session",
    "pause_signal": "Pause signal",
    "digital_boundary": "Digital boundary",
    "general": "General agreement",
}


class Conflict(Exception):  # noqa: N818 - a condition people see, not a bug
    """Someone else changed the agreement first; nothing was written.

    ``reason``: "changed" (it moved on while the partner read it), "not seen"
    (the words answered are not the revision's), "propose" (asking for a
    change to what is in force takes a proposal), "retired" (nothing more is
    proposed on a retired agreement).
    """

    def __init__(self, reason="changed"):
        super().__init__(reason)
        self.reason = reason


class LimitReached(Exception):  # noqa: N818 - a condition people see, not a bug
    """A ledger, or a partner in it, holds as many of something as Ledger
    keeps (so no one partner can make the others' pages huge); nothing was
    written. Its text is the sentence to show."""


#: The sentences for LimitReached; the numbers are in config.py.
AGREEMENTS_LIMIT = (
    "This ledger holds {limit:,} agreements in force or proposed, which is as many as it "
    "keeps. Please retire one you no longer need, or withdraw a proposal, first. What you "
    "wrote is still here, not saved yet."
)
DRAFTS_LIMIT = (
    "You keep {limit:,} private drafts in this ledger, which is as many as it holds. Please "
    "propose or delete one of them first. What you wrote is still here, not saved yet."
)


class Agreement(BaseModel):
    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    ledger = ForeignKeyField(Ledger, backref="agreements", on_delete="CASCADE")
    kind = CharField(max_length=20, choices=list(KINDS.items()))
    created_by = ForeignKeyField(User, backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    #: The hash chain's head and length: a deleted last link is caught too.
    chain_head = CharField(max_length=64, default="")
    chain_length = IntegerField(default=0)
    #: The token of the form that proposed it: the same form sent twice
    #: proposes once (a unique index, migration 0011).
    submission = CharField(max_length=64, null=True)

    @classmethod
    def in_ledger(cls, ledger_id):
        return cls.select().where(cls.ledger == ledger_id).order_by(cls.created_at, cls.id)

    @classmethod
    def propose_new(cls, ledger, user, kind, content, reason, submission=None):
        """Create an agreement with its first proposed revision.

        A form's ``submission`` token proposes once: sent again (a double tap,
        a retry, five at once), it returns the first revision of the agreement
        that form proposed. LimitReached, with nothing written, when the ledger
        already holds MAX_AGREEMENTS_PER_LEDGER agreements in force or proposed.
        """
        limit = current_app.config["MAX_AGREEMENTS_PER_LEDGER"]
        with write_transaction():
            # Two proposals at once must not both take the last place, nor
            # both be made from one form: the ledger's lock orders them.
            lock(Ledger.select().where(Ledger.id == ledger)).get()
            if submission:
                earlier = cls.get_or_none((cls.submission == submission) & (cls.ledger == ledger))
                if earlier is not None:
                    return earlier.revision(1)
            if not cls.room_in(ledger, limit):
                raise LimitReached(AGREEMENTS_LIMIT.format(limit=limit))
            agreement = cls.create(ledger=ledger, kind=kind, created_by=user, submission=submission)
            return agreement.append_revision(user, "propose", content, reason, base_number=0)

    def revision(self, number):
        """Revision ``number`` of this agreement, or None."""
        return (
            Revision.select()
            .where((Revision.agreement == self.id) & (Revision.number == number))
            .first()
        )

    def revision_contents(self, *numbers):
        """{number: content} of just these revisions."""
        return dict(
            Revision.select(Revision.number, Revision.content)
            .where((Revision.agreement == self.id) & Revision.number.in_(numbers))
            .tuples()
        )

    def latest_revision(self):
        """The newest revision (its content is what the agreement is known by)."""
        return (
            Revision.select(Revision.id, Revision.number, Revision.content)
            .where(Revision.agreement == self.id)
            .order_by(Revision.number.desc())
            .first()
        )

    def fields_in_force(self):
        """The content in force as a dict, or None (proposed, withdrawn, retired)."""
        content = (
            StoredState.select(Revision.content)
            .join(Revision, on=(StoredState.in_force == Revision.id))
            .where((StoredState.agreement == self.id) & (StoredState.label != "retired"))
            .scalar()
        )
        return json.loads(content) if content else None

    @classmethod
    def room_in(cls, ledger, limit):
        """True when a ledger holds fewer than ``limit`` agreements in force or proposed.

        Retired and withdrawn ones do not count: one count of the stored state.
        """
        open_ = (
            StoredState.select()
            .where(
                (StoredState.ledger == ledger) & StoredState.label.not_in(("retired", "withdrawn"))
            )
            .count()
        )
        return open_ < limit

    def append_revision(self, user, action, content, reason, base_number):
        """Append revision ``base_number + 1``; Conflict if another came first,
        or Conflict("retired") once the agreement is retired (nothing more is
        proposed on it; the stored state, written under this same lock, says).

        The author's own acceptance is recorded with it: proposing is saying yes.
        """
        with write_transaction():
            head = lock(Agreement.select().where(Agreement.id == self.id)).get()
            if StoredState.label_of(self.id) == "retired":
                raise Conflict("retired")
            histories = Histories(self.ledger_id, [self.id])
            if histories.latest_number(self.id) != base_number:
                raise Conflict()
            now = utcnow()
            revision = Revision(
                agreement=self.id,
                number=base_number + 1,
                action=action,
                content=canonical_json(content),
                content_hash=content_hash(content),
                reason=reason,
                author=user,
                created_at=now,
            )
            consent = Consent(
                agreement=self.id,
                revision=revision,
                user=user,
                decision="accept",
                note="",
                content_hash=revision.content_hash,
                seq=1,
                created_at=now,
            )
            try:
                head.append_links([revision, consent])
            except IntegrityError as exc:  # the unique (agreement, number)
                raise Conflict() from exc
            histories.add(self.id, revision)
            histories.add(self.id, consent)
            refresh_states(self.ledger_id, [head], now, histories)
        self.chain_head, self.chain_length = head.chain_head, head.chain_length
        return revision

    def propose_retiring(self, user, reason, base_number):
        """Propose retiring this agreement, in the words in force when its
        lock is taken; Conflict as ``append_revision`` does, Conflict when
        retiring it is proposed already, and Conflict("retired") when nothing
        is in force any more (the rule ``AgreementState.retirable`` states)."""
        with write_transaction():
            lock(Agreement.select().where(Agreement.id == self.id)).get()
            stored = StoredState.row(self.id)
            if stored.label == "retired" or stored.in_force_id is None:
                raise Conflict("retired")
            words = dict(self.revision_contents_by_id(stored.in_force_id, stored.pending_id))
            if stored.pending_id and words[stored.pending_id][0] == "retire":
                raise Conflict()
            fields = json.loads(words[stored.in_force_id][1])
            return self.append_revision(user, "retire", fields, reason, base_number)

    def revision_contents_by_id(self, *ids):
        """(revision id, (action, content)) of this agreement's revisions ``ids``."""
        rows = (
            Revision.select(Revision.id, Revision.action, Revision.content)
            .where((Revision.agreement == self.id) & Revision.id.in_([i for i in ids if i]))
            .tuples()
        )
        return [(row[0], row[1:]) for row in rows]

    def answer(self, user, number, decision, note, seen_hash):
        """Record a partner's answer to revision ``number``; Conflict if the
        rules (``consent.AgreementState.answerable_by``) no longer allow it."""

        def allowed(state):
            rs = numbered(state.answerable_by(user.id), number)
            if rs is not None and rs.status == "in force" and decision not in ACCEPTING:
                raise Conflict("propose")
            return rs

        return self.record_consent(user, decision, note, allowed, seen_hash)

    def withdraw_answer(self, user, number):
        """Take back a partner's answer to revision ``number`` (until everyone answered)."""
        return self.record_consent(
            user,
            "withdraw",
            "",
            lambda state: numbered(state.answer_withdrawable_by(user.id), number),
        )

    def withdraw_proposal(self, user, number):
        """The author withdraws their pending proposal ``number``."""
        return self.record_consent(
            user, "retract", "", lambda state: numbered(state.proposal_by(user.id), number)
        )

    def record_consent(self, user, decision, note, allowed, seen_hash=None):
        """Append a partner's answer (or its withdrawal) to the revision that
        ``allowed(state)`` returns, checked under the agreement's lock on the
        history as it is now; Conflict when it returns None.

        Two answers sent at once, or an answer racing a newer proposal, raise
        Conflict instead of both being recorded. ``seen_hash`` is the content
        hash of what the partner read (default: the revision's own).
        """
        with write_transaction():
            head = lock(Agreement.select().where(Agreement.id == self.id)).get()
            now = utcnow()
            histories = Histories(self.ledger_id, [self.id])
            rs = allowed(histories.states(now)[self.id])
            if rs is None:
                raise Conflict()
            revision = rs.revision
            if seen_hash is not None and seen_hash != revision.content_hash:
                raise Conflict("not seen")
            previous = (
                Consent.select(fn.MAX(Consent.seq))
                .where((Consent.revision == revision) & (Consent.user == user))
                .scalar()
                or 0
            )
            consent = Consent(
                agreement=self.id,
                revision=revision,
                user=user,
                decision=decision,
                note=note,
                content_hash=seen_hash or revision.content_hash,
                seq=previous + 1,
                created_at=now,
            )
            try:
                head.append_links([consent])
            except IntegrityError as exc:
                raise Conflict() from exc
            histories.add(self.id, consent)
            refresh_states(self.ledger_id, [head], now, histories)
        return consent

    def reaffirm(self, revision_id, partners, now):
        """Record that a review kept revision ``revision_id`` as it is (every
        partner in ``partners`` chose "keep"): a dated link of the hash chain,
        from which the next review counts. Conflict when that revision is no
        longer the one in force, or a change is pending (it is the review)."""
        with write_transaction():
            head = lock(Agreement.select().where(Agreement.id == self.id)).get()
            histories = Histories(self.ledger_id, [self.id])
            state = histories.states(now).get(self.id)
            if (
                state is None
                or state.in_force_now is None
                or state.pending is not None
                or state.in_force.revision.id != revision_id
            ):
                raise Conflict()
            revision = state.in_force.revision
            row = Reaffirmation(
                agreement=self.id,
                revision=revision,
                content_hash=revision.content_hash,
                partners=canonical_json(sorted(str(u.uuid) for u in partners)),
                created_at=now,
            )
            head.append_links([row])
            histories.add(self.id, row)
            refresh_states(self.ledger_id, [head], now, histories)
        return row

    def append_links(self, rows):
        """Insert ``rows`` as the next links of this agreement's chain.

        The caller holds the agreement row locked (``write_transaction`` and
        ``lock``); the compare-and-set on the chain length makes a fork
        impossible even so.
        """
        start = self.chain_length
        for row in rows:
            self.chain_length += 1
            self.chain_head = link(self.chain_head, row.chain_payload(self.uuid))
            row.chain_seq, row.chain_hash = self.chain_length, self.chain_head
            row.save(force_insert=True)
            if row.is_news:
                Activity.create(
                    ledger=self.ledger_id,
                    created_at=row.created_at,
                    **{"revision" if isinstance(row, Revision) else "consent": row},
                )
        moved = (
            Agreement.update(chain_head=self.chain_head, chain_length=self.chain_length)
            .where((Agreement.id == self.id) & (Agreement.chain_length == start))
            .execute()
        )
        if not moved:
            raise Conflict()


def numbered(rs, number):
    """``rs`` if it is revision ``number``, else None."""
    return rs if rs is not None and rs.revision.number == number else None


class Revision(BaseModel):
    """An immutable, numbered version of an agreement's content."""

    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    agreement = ForeignKeyField(Agreement, backref="revisions", on_delete="CASCADE")
    number = IntegerField()
    #: "propose" (this content should be in force) or "retire"
    action = CharField(max_length=10)
    content = TextField()
    content_hash = CharField(max_length=64)
    reason = TextField(default="")
    author = ForeignKeyField(User, backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    chain_seq = IntegerField()
    chain_hash = CharField(max_length=64)

    class Meta:
        indexes = ((("agreement", "number"), True),)

    @property
    def fields(self):
        """The content as a dict."""
        return json.loads(self.content)

    def chain_payload(self, agreement_uuid):
        return revision_payload(self, agreement_uuid, self.author.uuid)

    #: Every revision is news in the ledger's activity.
    is_news = True


class Consent(BaseModel):
    """One partner's decision on one revision: a certificate of what they saw.

    Decisions: "accept", "concern" (accept with a concern, recorded and shown),
    "change" (ask for a change: blocks), "withdraw" (takes back the partner's
    earlier answer) and "retract" (the author withdraws the proposal). The
    latest row per partner and revision (by ``seq``) is the one that counts.
    """

    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    agreement = ForeignKeyField(Agreement, backref="consents", on_delete="CASCADE")
    revision = ForeignKeyField(Revision, backref="consents", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+")
    decision = CharField(max_length=10)
    note = TextField(default="")
    #: SHA-256 of the exact revision content this partner saw.
    content_hash = CharField(max_length=64)
    seq = IntegerField()
    created_at = UTCDateTimeField(default=utcnow)
    chain_seq = IntegerField()
    chain_hash = CharField(max_length=64)

    class Meta:
        indexes = ((("revision", "user", "seq"), True),)

    def chain_payload(self, agreement_uuid):
        return consent_payload(self, agreement_uuid, self.user.uuid, self.revision.uuid)

    @property
    def is_news(self):
        """A proposal's author accepts it with it: that is not news."""
        return not (self.seq == 1 and self.user_id == self.revision.author_id)


class Reaffirmation(BaseModel):
    """A review kept an agreement as it is: every partner chose "keep".

    Append-only, and a link of the agreement's hash chain like its revisions
    and answers; the next review date counts from the latest one.
    """

    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    agreement = ForeignKeyField(Agreement, backref="+", on_delete="CASCADE")
    revision = ForeignKeyField(Revision, backref="+", on_delete="CASCADE")
    #: SHA-256 of the words kept (the revision's own).
    content_hash = CharField(max_length=64)
    #: Canonical JSON list of the UUIDs of the partners who kept it.
    partners = TextField()
    created_at = UTCDateTimeField(default=utcnow)
    chain_seq = IntegerField()
    chain_hash = CharField(max_length=64)

    #: A reaffirmation shows in reviews and in the history, not in the activity.
    is_news = False

    class Meta:
        # The newest first, without sorting them (migration 0013).
        indexes = ((("agreement", "created_at"), False),)

    @property
    def partner_uuids(self):
        return json.loads(self.partners)

    def chain_payload(self, agreement_uuid):
        return reaffirmation_payload(self, agreement_uuid, self.revision.uuid, self.partner_uuids)

    @classmethod
    def of(cls, agreement_id):
        """An agreement's reaffirmations, newest first."""
        return (
            cls.select()
            .where(cls.agreement == agreement_id)
            .order_by(cls.created_at.desc(), cls.id.desc())
        )


class Draft(BaseModel):
    """A private draft, visible only to its author, outside the history."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="drafts", on_delete="CASCADE")
    author = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    kind = CharField(max_length=20)
    content = TextField()
    reason = TextField(default="")
    #: Set when the draft is a change to an existing agreement.
    agreement = ForeignKeyField(Agreement, null=True, backref="+", on_delete="CASCADE")
    base_number = IntegerField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    @property
    def fields(self):
        return json.loads(self.content)

    @classmethod
    def mine(cls, ledger_id, user):
        return (
            cls.select()
            .where((cls.ledger == ledger_id) & (cls.author == user))
            .order_by(cls.updated_at.desc())
        )

    @classmethod
    def start(cls, ledger, author, kind, content, reason, agreement=None, base_number=None):
        """Keep a new private draft of ``content`` (a dict).

        LimitReached, with nothing written, when its author already keeps
        MAX_DRAFTS_PER_PARTNER drafts in this ledger.
        """
        limit = current_app.config["MAX_DRAFTS_PER_PARTNER"]
        with write_transaction():
            lock(Ledger.select().where(Ledger.id == ledger)).get()
            if cls.mine(ledger, author).count() >= limit:
                raise LimitReached(DRAFTS_LIMIT.format(limit=limit))
            return cls.create(
                ledger=ledger,
                author=author,
                kind=kind,
                content=canonical_json(content),
                reason=reason,
                agreement=agreement,
                base_number=base_number,
            )

    def rewrite(self, content, reason):
        """Keep new words (a dict) and a new reason in this draft."""
        self.content, self.reason, self.updated_at = canonical_json(content), reason, utcnow()
        Draft.update(content=self.content, reason=self.reason, updated_at=self.updated_at).where(
            Draft.id == self.id
        ).execute()

    def propose(self, content, reason, base_number, submission=None):
        """Propose this draft's words (as its author last edited them) and let
        the draft go, in one transaction: a new agreement, or a change of the
        agreement it was written for (of revision ``base_number``).

        Conflict, with the draft kept, when that agreement moved on or was
        retired meanwhile; LimitReached as for any new agreement.
        """
        with write_transaction():
            if self.agreement_id is None:
                revision = Agreement.propose_new(
                    self.ledger_id, self.author_id, self.kind, content, reason, submission
                )
            else:
                agreement = Agreement.get_by_id(self.agreement_id)
                revision = agreement.append_revision(
                    self.author_id, "propose", content, reason, base_number
                )
            Draft.delete().where(Draft.id == self.id).execute()
        return revision


#: What pages that list agreements or revisions (the dashboard, a kind's
#: pages, the print view, the activity, a history) read of revisions and
#: answers: no uuids, hashes or chain positions, whose conversion cost more
#: than the rest of the row.
REVISION_LISTED = (
    Revision.id,
    Revision.agreement,
    Revision.number,
    Revision.action,
    Revision.content,
    Revision.reason,
    Revision.author,
    Revision.created_at,
)
CONSENT_LISTED = (
    Consent.id,
    Consent.agreement,
    Consent.revision,
    Consent.user,
    Consent.decision,
    Consent.note,
    Consent.seq,
    Consent.created_at,
)
#: What a write replays of revisions: what lists show, the content hash an
#: answer is checked against and the uuid its chain link names.
REVISION_REPLAYED = (*REVISION_LISTED, Revision.content_hash, Revision.uuid)


class StoredState(BaseModel):
    """What an agreement's history means now, as the replay gives it
    (``consent.AgreementState.stored``).

    Written in the same transaction as every write that changes it; never
    edited otherwise. ``label``: "proposed", "in force", "in force, change
    pending", "retired" or "withdrawn".
    """

    agreement = ForeignKeyField(Agreement, primary_key=True, backref="+", on_delete="CASCADE")
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE")
    kind = CharField(max_length=20)
    label = CharField(max_length=30)
    #: The revision to show first: in force, else the pending proposal, else the newest.
    current = ForeignKeyField(Revision, backref="+", on_delete="CASCADE")
    latest_number = IntegerField()
    in_force = ForeignKeyField(Revision, null=True, backref="+", on_delete="CASCADE")
    in_force_since = UTCDateTimeField(null=True)
    pending = ForeignKeyField(Revision, null=True, backref="+", on_delete="CASCADE")
    change_requested = BooleanField(default=False)
    retired_at = UTCDateTimeField(null=True)
    #: When what is in force came into force or was last reaffirmed, and the
    #: date (in the ledger's zone) it is next revisited; None unless in force.
    reviewed_at = UTCDateTimeField(null=True)
    next_review = DateField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "agreementstate"
        indexes = (
            (("ledger", "kind"), False),
            (("ledger", "next_review"), False),
            (("label", "next_review"), False),
        )

    #: The columns that the replay decides (everything but the keys and time).
    DERIVED = (
        "label",
        "current",
        "latest_number",
        "in_force",
        "in_force_since",
        "pending",
        "change_requested",
        "retired_at",
    )
    #: The review columns the replay decides with the ledger's time zone
    #: (``consent.AgreementState.review_stored``).
    REVIEWED = ("reviewed_at", "next_review")

    @property
    def retired(self):
        return self.label == "retired"

    @property
    def in_force_now(self):
        """True while a revision is in force and the agreement is not retired."""
        return self.in_force_id is not None and not self.retired

    @classmethod
    def label_of(cls, agreement_id):
        """An agreement's stored label, or None before its first revision."""
        return cls.select(cls.label).where(cls.agreement == agreement_id).scalar()

    @classmethod
    def row(cls, agreement_id):
        """One agreement's stored state: one prepared query."""
        return next(iter(_state_of(agreement=agreement_id)))

    @classmethod
    def of(cls, agreement, now):
        """One agreement's state for its pages, in three narrow queries: the
        stored row with the revisions it names, their answers, and the
        ledger's memberships. Returns (consent.AgreementState, memberships)."""
        stored = cls.row(agreement.id)
        revisions = {
            r.id: r
            for r in _revisions_named(
                current=stored.current_id,
                in_force=stored.in_force_id,
                pending=stored.pending_id,
                agreement=agreement.id,
                latest=stored.latest_number,
            )
        }
        ids = [*revisions, None, None, None, None][:4]
        consents = list(_answers_to(a=ids[0], b=ids[1], c=ids[2], d=ids[3]))
        memberships = Membership.all_of(agreement.ledger_id)
        state = rebuild(stored, revisions, consents, memberships, now)
        state.stored = stored  # what a history page counts its pages by
        return state, memberships

    @property
    def due(self):
        """True while in force, with no change pending, and a next review date."""
        return self.label == "in force" and self.next_review is not None

    @classmethod
    def header_counts(cls, user, ledger_id, today):
        """(agreements waiting for this partner's answer, agreements due for
        review by ``today``) in a ledger: one query of two indexed counts."""
        user_id = getattr(user, "id", user)
        return next(iter(_header_counts(user=user_id, ledger=ledger_id, today=today)))

    @classmethod
    def due_in(cls, ledger_ids, today=None):
        """The stored states of agreements due (by ``today``; any date when
        None), with their agreements, soonest first: one indexed query."""
        where = cls.ledger.in_(ledger_ids) & (cls.label == "in force")
        where &= cls.next_review.is_null(False)
        if today is not None:
            where &= cls.next_review <= today
        return cls.select(cls, Agreement).join(Agreement).where(where)

    @classmethod
    def due_in_any(cls, now):
        """Every agreement in force with no change pending whose next review
        date has come in some time zone by ``now`` (a day of margin: each
        ledger's own today is checked by the caller), with its agreement and
        ledger: one indexed query."""
        latest = (now + datetime.timedelta(days=1)).date()
        return (
            cls.select(cls, Agreement, Ledger)
            .join(Agreement)
            .switch(cls)
            .join(Ledger)
            .where((cls.label == "in force") & (cls.next_review <= latest))
        )

    @classmethod
    def signals_of(cls, user):
        """The pause signals in force in every ledger ``user`` is a partner
        in, oldest first: [(ledger id, agreement id, its uuid, fields in
        force)], from one prepared query of the columns the pause page shows."""
        rows = sorted(_signals_of(user=getattr(user, "id", user)), key=lambda row: row[:2])
        return [
            (ledger_id, agreement_id, uuid, json.loads(content))
            for _, agreement_id, ledger_id, uuid, content in rows
        ]

    #: How many agreements of each kind a dashboard shows in force; the
    #: others are a link away, on the kind's own pages.
    SHOWN_PER_KIND = 8

    #: How many agreements waiting for an answer a dashboard shows of each
    #: list (waiting for you, waiting for others); the rest are a link away.
    SHOWN_WAITING = 8

    @classmethod
    def waiting_for(cls, user, ledger_id):
        """The agreements of a ledger that wait for this partner's answer,
        oldest first (a query of ids to page through)."""
        return (
            Waiting.select(Waiting.agreement)
            .where((Waiting.user == user) & (Waiting.ledger == ledger_id))
            .order_by(Waiting.agreement)
        )

    @classmethod
    def waiting_for_others(cls, user, ledger_id):
        """The agreements of a ledger with a proposal that waits for other
        partners' answers and not this partner's, oldest first (a query of
        ids to page through)."""
        mine = Waiting.select(Waiting.agreement).where(
            (Waiting.agreement == cls.agreement) & (Waiting.user == user)
        )
        return (
            cls.select(cls.agreement)
            .where((cls.ledger == ledger_id) & cls.pending.is_null(False) & ~fn.EXISTS(mine))
            .order_by(cls.agreement)
        )

    @classmethod
    def dashboard_ids(cls, user, ledger_id, today):
        """Which agreements a ledger's dashboard shows, chosen through indexes
        however many there are: the first SHOWN_PER_KIND in force of each
        kind, the first SHOWN_WAITING waiting for this partner and for others,
        and the first ones due for review and next to come due. Returns (ids,
        {kind: how many are in force}, {"you": (first ids, how many), "others":
        (first ids, how many)}); a fixed number of indexed queries."""
        counts = dict(_in_force_counts(ledger=ledger_id))
        ids = {a for kind in counts for (a,) in _first_in_force(ledger=ledger_id, kind=kind)}
        waiting = {}
        for who, query in (
            ("you", cls.waiting_for(user, ledger_id)),
            ("others", cls.waiting_for_others(user, ledger_id)),
        ):
            first = [a for (a,) in query.limit(cls.SHOWN_WAITING).tuples()]
            waiting[who] = (first, query.count())
            ids.update(first)
        ids.update(a for (a,) in _due_ids(ledger=ledger_id, today=today))
        ids.update(a for (a,) in _coming_ids(ledger=ledger_id, today=today))
        return ids, counts, waiting

    @classmethod
    def in_force_of_kind(cls, ledger_id, kind):
        """The agreements of one kind in force in a ledger, oldest first (a
        query to page through)."""
        return (
            cls.select(cls.agreement)
            .where(_shown_in_force(ledger_id) & (cls.kind == kind))
            .order_by(cls.agreement)
        )

    @classmethod
    def in_ledger(cls, ledger_id, now, in_force_only=False, agreement_ids=None):
        """Every agreement of a ledger (or just ``agreement_ids``) with its
        state, in four narrow queries whatever their number and history:
        [(agreement, consent.AgreementState)] oldest first, and the ledger's
        memberships. Its rows carry the columns lists of agreements show
        (STATE_LISTED, AGREEMENT_LISTED, REVISION_LISTED, CONSENT_LISTED):
        the others read None."""
        where = cls.ledger == ledger_id
        if agreement_ids is not None:
            where &= cls.agreement.in_(sorted(agreement_ids))
        if in_force_only:
            where &= cls.in_force.is_null(False) & (cls.label != "retired")
        rows = list(
            cls.select(*STATE_LISTED, *AGREEMENT_LISTED)
            .join(Agreement)
            .where(where)
            .order_by(Agreement.created_at, Agreement.id)
        )
        # The revisions and answers are read by the ids the rows name, never
        # by reading the stored state again: a write committed in between
        # would name revisions these rows don't know (a 500, once).
        shown = {i for r in rows for i in (r.current_id, r.in_force_id, r.pending_id) if i}
        answered = sorted({i for r in rows for i in (r.in_force_id, r.pending_id) if i})
        revisions = (
            {
                r.id: r
                for r in Revision.select(*REVISION_LISTED).where(Revision.id.in_(sorted(shown)))
            }
            if shown
            else {}
        )
        consents = {}
        answers = (
            Consent.select(*CONSENT_LISTED).where(Consent.revision.in_(answered))
            if answered
            else ()
        )
        for consent in answers:
            consents.setdefault(consent.agreement_id, []).append(consent)
        memberships = Membership.all_of(ledger_id)
        return [
            (
                row.agreement,
                rebuild(row, revisions, consents.get(row.agreement_id, []), memberships, now),
            )
            for row in rows
        ], memberships

    def history_states(self, agreement, revisions, memberships, now):
        """The states of some revisions (a page of history), newest first,
        from their answers and the revision right after them only."""
        if not revisions:
            return []
        newest = max(r.number for r in revisions)
        following = list(
            Revision.select(*REVISION_LISTED).where(
                (Revision.agreement == agreement.id) & (Revision.number == newest + 1)
            )
        )
        rows = list(revisions) + following
        consents = list(
            Consent.select(*CONSENT_LISTED).where(Consent.revision.in_([r.id for r in rows]))
        )
        states = history_slice(rows, consents, memberships, self, now)
        return [rs for rs in reversed(states) if rs.revision.number <= newest]

    def derived(self):
        """The replay-decided values, as stored (revisions by id)."""
        return {
            name: getattr(
                self, f"{name}_id" if name in ("current", "in_force", "pending") else name
            )
            for name in self.DERIVED
        }

    def reviewed(self):
        """The review columns, as stored."""
        return {name: getattr(self, name) for name in self.REVIEWED}


#: What lists of agreements read of each one's stored state and agreement:
#: what ``consent.rebuild`` and the cards use. Every column a row holds costs
#: its building, and these lists hold dozens of rows.
STATE_LISTED = (
    StoredState.agreement,
    StoredState.label,
    StoredState.current,
    StoredState.latest_number,
    StoredState.in_force,
    StoredState.in_force_since,
    StoredState.pending,
    StoredState.retired_at,
    StoredState.reviewed_at,
    StoredState.next_review,
)
AGREEMENT_LISTED = (
    Agreement.id,
    Agreement.ledger,
    Agreement.kind,
    Agreement.created_at,
    Agreement.chain_head,
)


class Activity(BaseModel):
    """A ledger's activity: one row per revision and per answer, by time, so
    the newest few are read through an index (never by sorting a history)."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE", index=False)
    created_at = UTCDateTimeField()
    revision = ForeignKeyField(Revision, null=True, backref="+", on_delete="CASCADE")
    consent = ForeignKeyField(Consent, null=True, backref="+", on_delete="CASCADE")

    class Meta:
        indexes = ((("ledger", "created_at"), False),)

    @classmethod
    def recent(cls, ledger_id, limit):
        """The newest ``limit`` revisions and answers of a ledger, newest first,
        each with its agreement and person (answers with their revision): the
        index gives the newest rows, then two queries load just those."""
        rows = list(
            cls.select(cls.revision, cls.consent)
            .where(cls.ledger == ledger_id)
            .order_by(cls.created_at.desc())
            .limit(limit)
        )
        revision_ids = [r.revision_id for r in rows if r.revision_id]
        consent_ids = [r.consent_id for r in rows if r.consent_id]
        events = []
        # Only the columns an event line shows: whole rows of four tables
        # cost more to build than the page's queries.
        shown = (Agreement.id, Agreement.ledger, Agreement.kind, User.id, User.display_name)
        if revision_ids:
            events += list(
                Revision.select(*REVISION_LISTED, *shown)
                .join(Agreement)
                .switch(Revision)
                .join(User)
                .where(Revision.id.in_(revision_ids))
            )
        if consent_ids:
            events += list(
                Consent.select(*CONSENT_LISTED, *shown, *REVISION_LISTED)
                .join(Agreement)
                .switch(Consent)
                .join(User)
                .switch(Consent)
                .join(Revision)
                .where(Consent.id.in_(consent_ids))
            )
        return sorted(events, key=lambda e: e.created_at, reverse=True)


class Waiting(BaseModel):
    """An agreement waits for this partner's answer (one row per partner)."""

    agreement = ForeignKeyField(Agreement, backref="+", on_delete="CASCADE")
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("agreement", "user")
        indexes = ((("user", "ledger"), False),)

    @classmethod
    def count_for(cls, user, ledger_id):
        """How many agreements of a ledger wait for this partner: one indexed count."""
        return cls.select().where((cls.user == user) & (cls.ledger == ledger_id)).count()


class Histories:
    """The whole histories of some agreements of one ledger, read under their
    locks in four queries whatever their length: revisions, answers and
    reaffirmations by agreement id, and the ledger's memberships. A write
    reads them once, checks its rules on their replay, adds what it appends
    (``add``) and stores the replay of the result: the history is never read
    twice in one write. Only writes, under the agreement's lock, replay a
    history this way (``verify`` streams its own): pages read the stored state.

    Rows carry the columns the replay and the write use (REVISION_REPLAYED,
    CONSENT_LISTED): no chain positions, and of answers no uuids (nothing
    links to an answer).
    """

    def __init__(self, ledger_id, ids):
        self.revisions = {i: [] for i in ids}
        self.consents = {i: [] for i in ids}
        self.kept = {i: [] for i in ids}
        for revision in Revision.select(*REVISION_REPLAYED).where(Revision.agreement.in_(ids)):
            self.revisions[revision.agreement_id].append(revision)
        for consent in Consent.select(*CONSENT_LISTED).where(Consent.agreement.in_(ids)):
            self.consents[consent.agreement_id].append(consent)
        replayed = (Reaffirmation.agreement, Reaffirmation.revision, Reaffirmation.created_at)
        for row in Reaffirmation.select(*replayed).where(Reaffirmation.agreement.in_(ids)):
            self.kept[row.agreement_id].append(row)
        self.memberships = list(
            Membership.select(Membership, User).join(User).where(Membership.ledger == ledger_id)
        )

    def latest_number(self, agreement_id):
        """The number of an agreement's latest revision (0 before the first)."""
        return max((r.number for r in self.revisions[agreement_id]), default=0)

    def add(self, agreement_id, row):
        """Count a row just appended to an agreement's history."""
        if isinstance(row, Revision):
            self.revisions[agreement_id].append(row)
        elif isinstance(row, Consent):
            self.consents[agreement_id].append(row)
        else:
            self.kept[agreement_id].append(row)

    def states(self, now):
        """{agreement id: consent.AgreementState}: each history replayed."""
        return {
            i: derive(revisions, self.consents[i], self.memberships, now, self.kept[i])
            for i, revisions in self.revisions.items()
            if revisions
        }


def refresh_states(ledger_id, agreements, now, histories=None):
    """Store the replayed state of these agreements (inside the write's
    transaction), from ``histories`` when the write has them already."""
    if histories is None:
        histories = Histories(ledger_id, [agreement.id for agreement in agreements])
    states, memberships = histories.states(now), histories.memberships
    partners = [m.user_id for m in memberships if m.left_at is None]
    zone_name = Ledger.select(Ledger.time_zone).where(Ledger.id == ledger_id).scalar()
    for agreement in agreements:
        if agreement.id not in states:
            continue
        values, waiting = states[agreement.id].stored(partners)
        values.update(states[agreement.id].review_stored(zone_name))
        (
            StoredState.insert(
                agreement=agreement.id,
                ledger=ledger_id,
                kind=agreement.kind,
                updated_at=now,
                **values,
            )
            .on_conflict(
                conflict_target=[StoredState.agreement],
                update={
                    **{getattr(StoredState, k): v for k, v in values.items()},
                    StoredState.updated_at: now,
                },
            )
            .execute()
        )
        Waiting.delete().where(Waiting.agreement == agreement.id).execute()
        if waiting:
            Waiting.insert_many(
                [{"agreement": agreement.id, "ledger": ledger_id, "user": u} for u in waiting]
            ).execute()


def refresh_ledger(ledger_id, now):
    """Store the state of every agreement of a ledger: who is a partner changed.

    The agreements are locked first (PostgreSQL; SQLite's write lock holds
    already), in id order, as every answer locks its agreement: a change of
    partners and an answer racing it are then ordered, and whichever writes
    second replays with what the first committed.
    """
    agreements = list(
        lock(Agreement.select().where(Agreement.ledger == ledger_id).order_by(Agreement.id))
    )
    refresh_states(ledger_id, agreements, now)


PARTNERS_CHANGED.append(refresh_ledger)


# Prepared queries (``ledger.db.prepared``) for the pages read most.


@prepared
def _state_of():
    return StoredState.select().where(StoredState.agreement == slot("agreement")).limit(1)


@prepared
def _revisions_named():
    """The revisions a stored state names (current, in force, pending) and
    the agreement's latest, by the ids and number read with that state: a
    write committed in between can't make them disagree."""
    return Revision.select().where(
        Revision.id.in_([slot("current"), slot("in_force"), slot("pending")])
        | ((Revision.agreement == slot("agreement")) & (Revision.number == slot("latest")))
    )


@prepared
def _answers_to():
    """The answers to up to four revisions."""
    return Consent.select().where(
        Consent.revision.in_([slot("a"), slot("b"), slot("c"), slot("d")])
    )


@prepared
def _header_counts():
    waiting = Waiting.select(fn.COUNT(Waiting.agreement)).where(
        (Waiting.user == slot("user")) & (Waiting.ledger == slot("ledger"))
    )
    due = StoredState.select(fn.COUNT(StoredState.agreement)).where(
        (StoredState.ledger == slot("ledger"))
        & (StoredState.label == "in force")
        & (StoredState.next_review <= slot("today", StoredState.next_review))
    )
    return (
        Ledger.select(waiting.alias("waiting"), due.alias("due"))
        .where(Ledger.id == slot("ledger"))
        .tuples()
    )


@prepared
def _signals_of():
    mine = Membership.select(Membership.ledger).where(
        (Membership.user == slot("user")) & Membership.left_at.is_null()
    )
    return (
        StoredState.select(
            Agreement.created_at, Agreement.id, StoredState.ledger, Agreement.uuid, Revision.content
        )
        .join(Agreement)
        .switch(StoredState)
        .join(Revision, on=(StoredState.in_force == Revision.id))
        .where(
            StoredState.ledger.in_(mine)
            & (StoredState.kind == "pause_signal")
            & (StoredState.label != "retired")
        )
        .tuples()
    )


def _shown_in_force(ledger):
    return (
        (StoredState.ledger == ledger)
        & StoredState.in_force.is_null(False)
        & (StoredState.label != "retired")
    )


@prepared
def _in_force_counts():
    return (
        StoredState.select(StoredState.kind, fn.COUNT(StoredState.agreement))
        .where(_shown_in_force(slot("ledger")))
        .group_by(StoredState.kind)
        .tuples()
    )


@prepared
def _first_in_force():
    return (
        StoredState.select(StoredState.agreement)
        .where(_shown_in_force(slot("ledger")) & (StoredState.kind == slot("kind")))
        .order_by(StoredState.agreement)
        .limit(StoredState.SHOWN_PER_KIND)
        .tuples()
    )


def _dated(ledger):
    return (StoredState.ledger == ledger) & (StoredState.label == "in force")


@prepared
def _due_ids():
    """The first agreements due for review by today, longest overdue first."""
    return (
        StoredState.select(StoredState.agreement)
        .where(
            _dated(slot("ledger"))
            & (StoredState.next_review <= slot("today", StoredState.next_review))
        )
        .order_by(StoredState.next_review, StoredState.agreement)
        .limit(StoredState.SHOWN_PER_KIND)
        .tuples()
    )


@prepared
def _coming_ids():
    """The first agreements due on the next date to come after today."""
    today = slot("today", StoredState.next_review)
    next_date = StoredState.select(fn.MIN(StoredState.next_review)).where(
        _dated(slot("ledger")) & (StoredState.next_review > today)
    )
    return (
        StoredState.select(StoredState.agreement)
        .where(_dated(slot("ledger")) & (StoredState.next_review == next_date))
        .order_by(StoredState.agreement)
        .limit(StoredState.SHOWN_PER_KIND)
        .tuples()
    )
