"""Pauses that were noted, cooling-off, and topics parked for a session."""

from peewee import AutoField, CharField, ForeignKeyField, TextField

from ..db import UTCDateTimeField, utcnow, write_transaction
from .accounts import User
from .base import BaseModel
from .ledgers import Ledger, Membership


class PauseLog(BaseModel):
    """An optional note that a pause was called, for the next review."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="pauses", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    started_at = UTCDateTimeField()
    resumed_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def latest(cls, ledger_id):
        return cls.select().where(cls.ledger == ledger_id).order_by(cls.started_at.desc()).first()

    @classmethod
    def in_ledger(cls, ledger_id):
        return (
            cls.select(cls, User)
            .join(User)
            .where(cls.ledger == ledger_id)
            .order_by(cls.started_at.desc())
        )


def cooling_until(ledger, now):
    """Return when cooling-off ends, or None when it is not in effect now."""
    if not ledger.cooling_off:
        return None
    latest = PauseLog.latest(ledger.id)
    if latest is None:
        return None
    until = latest.started_at + ledger.cooling_off_delta
    return until if until > now else None


class CoolingOffRequest(BaseModel):
    """A request to turn cooling-off off: in effect once every partner agreed."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
    requested_by = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    #: "agreed" or "withdrawn"
    outcome = CharField(max_length=10, null=True)

    @classmethod
    def open_for(cls, ledger_id):
        return cls.select().where((cls.ledger == ledger_id) & cls.resolved_at.is_null()).first()

    @classmethod
    def agree(cls, ledger, user, now):
        """Ask to turn cooling-off off, or agree to the open request."""
        with write_transaction():
            request = cls.open_for(ledger.id) or cls.create(ledger=ledger, requested_by=user)
            CoolingOffConfirmation.insert(request=request, user=user).on_conflict_ignore().execute()
            if not request.waiting_for():
                Ledger.update(cooling_off=False).where(Ledger.id == ledger.id).execute()
                request.resolve("agreed", now)
        return request

    def confirmed_by(self):
        return {
            c.user_id
            for c in CoolingOffConfirmation.select().where(CoolingOffConfirmation.request == self)
        }

    def waiting_for(self):
        confirmed = self.confirmed_by()
        return [m.user for m in Ledger(id=self.ledger_id).partners() if m.user_id not in confirmed]

    def resolve(self, outcome, now):
        CoolingOffRequest.update(resolved_at=now, outcome=outcome).where(
            (CoolingOffRequest.id == self.id) & CoolingOffRequest.resolved_at.is_null()
        ).execute()
        self.resolved_at, self.outcome = now, outcome


class CoolingOffConfirmation(BaseModel):
    id = AutoField()
    request = ForeignKeyField(CoolingOffRequest, on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("request", "user"), True),)


class AgendaItem(BaseModel):
    """A topic parked "for our next session", for the therapist's room."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="agenda", on_delete="CASCADE")
    author = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    topic = CharField(max_length=120)
    note = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    discussed_at = UTCDateTimeField(null=True)
    discussed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    @classmethod
    def in_ledger(cls, ledger_id):
        """Open items first (oldest first), then discussed ones (latest first)."""
        return (
            cls.select(cls, User)
            .join(User, on=(cls.author == User.id))
            .where(cls.ledger == ledger_id)
            .order_by(cls.discussed_at.is_null(False), cls.discussed_at.desc(), cls.created_at)
        )

    def mark_discussed(self, user, now):
        return bool(
            AgendaItem.update(discussed_at=now, discussed_by=user)
            .where((AgendaItem.id == self.id) & AgendaItem.discussed_at.is_null())
            .execute()
        )


def pause_page_data(user, ledger_id):
    """Everything the pause page shows, in two queries.

    1. The memberships of every ledger the user is a partner in, with their
       ledgers and users (this is also the access check).
    2. The answers to every pause-signal revision of the chosen ledger, with
       their revisions and agreements (every revision has at least its
       author's answer, so no revision is missed).
    Returns (ledger, memberships of that ledger, {agreement: (revisions, consents)}).
    """
    from .agreements import Agreement, Consent, Revision

    mine = Membership.select(Membership.ledger).where(
        (Membership.user == user) & Membership.left_at.is_null()
    )
    memberships = list(
        Membership.select(Membership, Ledger, User)
        .join(Ledger)
        .switch(Membership)
        .join(User)
        .where(Membership.ledger.in_(mine))
    )
    ledgers = {m.ledger_id: m.ledger for m in memberships}
    if not ledgers:
        return None, [], {}
    chosen = ledger_id if ledger_id in ledgers else min(ledgers, key=lambda i: (ledgers[i].name, i))
    rows = (
        Consent.select(Consent, Revision, Agreement)
        .join(Revision)
        .join(Agreement)
        .where((Agreement.ledger == chosen) & (Agreement.kind == "pause_signal"))
    )
    agreements, histories = {}, {}
    for consent in rows:
        revision = consent.revision
        agreements.setdefault(revision.agreement_id, revision.agreement)
        revisions, consents = histories.setdefault(revision.agreement_id, ({}, []))
        revisions.setdefault(revision.id, revision)
        consents.append(consent)
    return (
        ledgers[chosen],
        [m for m in memberships if m.ledger_id == chosen],
        {agreements[i]: (list(revs.values()), cons) for i, (revs, cons) in histories.items()},
    )
