"""Agreements, their immutable revisions, the partners' consents, and drafts.

An agreement's state is never stored: it is derived from its revisions, the
consents given to them, and who was a partner when (see ``ledger.consent``).
Revisions and consents are append-only (database triggers refuse UPDATE and
DELETE) and form one hash chain per agreement (see ``ledger.chain``).
"""

import hashlib
import json
import uuid

from flask import current_app
from peewee import (
    AutoField,
    CharField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
    UUIDField,
    fn,
)

from ..db import UTCDateTimeField, lock, utcnow, write_transaction
from .accounts import User
from .base import BaseModel
from .ledgers import Ledger

KINDS = {
    "topic": "Topic: home or session",
    "pause_signal": "Pause signal",
    "digital_boundary": "Digital boundary",
    "general": "General agreement",
}


class Conflict(Exception):  # noqa: N818 - a condition people see, not a bug
    """Someone else changed the agreement first; nothing was written."""


def canonical_json(value):
    """Serialise to the one JSON form used for hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content):
    """Return the SHA-256 of an agreement's content in canonical form."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


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

    @classmethod
    def in_ledger(cls, ledger_id):
        return cls.select().where(cls.ledger == ledger_id).order_by(cls.created_at, cls.id)

    @classmethod
    def propose_new(cls, ledger, user, kind, content, reason):
        """Create an agreement with its first proposed revision.

        LimitReached, with nothing written, when the ledger already holds
        MAX_AGREEMENTS_PER_LEDGER agreements in force or proposed.
        """
        limit = current_app.config["MAX_AGREEMENTS_PER_LEDGER"]
        with write_transaction():
            # Two proposals at once must not both take the last place.
            lock(Ledger.select().where(Ledger.id == ledger)).get()
            if not cls.room_in(ledger, limit):
                raise LimitReached(AGREEMENTS_LIMIT.format(limit=limit))
            agreement = cls.create(ledger=ledger, kind=kind, created_by=user)
            return agreement.append_revision(user, "propose", content, reason, base_number=0)

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
        states, _ = load_states(self.ledger_id, [self], utcnow())
        state = states.get(self.id)
        if state is None or state.in_force is None or state.retired:
            return None
        return state.in_force.revision.fields

    @classmethod
    def room_in(cls, ledger, limit):
        """True when a ledger holds fewer than ``limit`` agreements in force or proposed.

        Retired and withdrawn ones do not count. Counting rows comes first, so
        only a ledger with ``limit`` agreements or more replays their states.
        """
        agreements = cls.select().where(cls.ledger == ledger)
        if agreements.count() < limit:
            return True
        states, _ = load_states(ledger, list(agreements), utcnow())
        open_ = sum(
            1
            for state in states.values()
            if state.pending or (state.in_force and not state.retired)
        )
        return open_ < limit

    def append_revision(self, user, action, content, reason, base_number):
        """Append revision ``base_number + 1``; Conflict if another came first.

        The author's own acceptance is recorded with it: proposing is saying yes.
        """
        from ..chain import append

        with write_transaction():
            head = lock(Agreement.select().where(Agreement.id == self.id)).get()
            latest = (
                Revision.select(fn.MAX(Revision.number))
                .where(Revision.agreement == self.id)
                .scalar()
                or 0
            )
            if latest != base_number:
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
                append(head, [revision, consent])
            except IntegrityError as exc:  # the unique (agreement, number)
                raise Conflict() from exc
        self.chain_head, self.chain_length = head.chain_head, head.chain_length
        return revision

    def record_consent(self, revision, user, decision, note, seen_hash, allowed=None):
        """Append a partner's answer (or its withdrawal) to a revision.

        ``allowed(state)`` is checked again under the agreement's lock, on the
        history as it is now: two answers sent at once, or an answer racing a
        newer proposal, raise Conflict instead of both being recorded.
        """
        from ..chain import append

        with write_transaction():
            head = lock(Agreement.select().where(Agreement.id == self.id)).get()
            if allowed is not None:
                states, _ = load_states(self.ledger_id, [self], utcnow())
                if not allowed(states[self.id]):
                    raise Conflict()
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
                content_hash=seen_hash,
                seq=previous + 1,
                created_at=utcnow(),
            )
            try:
                append(head, [consent])
            except IntegrityError as exc:
                raise Conflict() from exc
        return consent


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


def load_states(ledger_id, agreements, now):
    """Derive every agreement's state in three queries, whatever their number.

    Returns ({agreement id: AgreementState}, [Membership with user]).
    """
    from ..consent import derive
    from .ledgers import Membership

    ids = [agreement.id for agreement in agreements]
    revisions, consents = {i: [] for i in ids}, {i: [] for i in ids}
    for revision in Revision.select().where(Revision.agreement.in_(ids)):
        revisions[revision.agreement_id].append(revision)
    for consent in Consent.select().where(Consent.agreement.in_(ids)):
        consents[consent.agreement_id].append(consent)
    memberships = list(
        Membership.select(Membership, User).join(User).where(Membership.ledger == ledger_id)
    )
    states = {i: derive(revisions[i], consents[i], memberships, now) for i in ids if revisions[i]}
    return states, memberships
