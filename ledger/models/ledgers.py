"""Ledgers, the partners in them, invitations, and removing a partner."""

import datetime
import uuid

from peewee import (
    JOIN,
    AutoField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    UUIDField,
)

from ..db import UTCDateTimeField, db, lock, utcnow, write_transaction
from .accounts import DeviceSession, User
from .base import BaseModel, new_token, token_hash

#: Called as ``f(ledger_id, now)`` inside the transaction of every change of
#: who is a partner, so state kept about a ledger follows it (the agreements'
#: stored state registers here; this module cannot import it).
PARTNERS_CHANGED = []


def partners_changed(ledger_id, now):
    for follow in PARTNERS_CHANGED:
        follow(ledger_id, now)


class Ledger(BaseModel):
    """A couple's (or a household's) shared space."""

    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    name = CharField(max_length=80)
    time_zone = CharField(max_length=64, default="UTC")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    #: After a pause is noted, proposing and answering wait this long: what is
    #: agreed while flooded rarely holds. Turning it off takes every partner.
    cooling_off = BooleanField(default=True)
    cooling_off_hours = IntegerField(default=12)

    #: Nothing comes into force with fewer partners than this.
    MIN_PARTNERS = 2

    @property
    def cooling_off_delta(self):
        return datetime.timedelta(hours=self.cooling_off_hours)

    @classmethod
    def start(cls, user, name, time_zone):
        """Create a ledger with ``user`` as its first partner."""
        with db.database.atomic():
            ledger = cls.create(name=name, time_zone=time_zone, created_by=user)
            Membership.create(ledger=ledger, user=user, joined_at=ledger.created_at)
            partners_changed(ledger.id, ledger.created_at)
        return ledger

    @classmethod
    def by_id_or_uuid(cls, text):
        """The ledger with this row id or UUID, or None (for commands)."""
        text = str(text).strip()
        if text.isdigit():
            return cls.get_or_none(cls.id == int(text)) if len(text) < 10 else None
        try:
            return cls.get_or_none(cls.uuid == uuid.UUID(text))
        except ValueError:
            return None

    @classmethod
    def for_user(cls, user):
        """Return the ledgers the user is a partner in, by name."""
        return (
            cls.select()
            .join(Membership)
            .where((Membership.user == user) & Membership.left_at.is_null())
            .order_by(cls.name, cls.id)
        )

    def partners(self):
        """Return the active memberships, with their users, oldest first."""
        return (
            Membership.select(Membership, User)
            .join(User)
            .where((Membership.ledger == self) & Membership.left_at.is_null())
            .order_by(Membership.joined_at, Membership.id)
        )

    def former_partners(self):
        """Return memberships that ended, with their users, latest first."""
        return (
            Membership.select(Membership, User)
            .join(User)
            .where((Membership.ledger == self) & Membership.left_at.is_null(False))
            .order_by(Membership.left_at.desc())
        )

    def invitations(self):
        """Return every invitation with who made it and who used it."""
        used_by = User.alias()
        return (
            Invitation.select(Invitation, User, used_by)
            .join(User, JOIN.LEFT_OUTER, on=(Invitation.created_by == User.id))
            .switch(Invitation)
            .join(used_by, JOIN.LEFT_OUTER, on=(Invitation.used_by == used_by.id))
            .where(Invitation.ledger == self)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )

    def open_removals(self, partners):
        """Return pending removal requests, each with the partners it waits for.

        Two queries, however many requests: the requests with their targets,
        then every confirmation of them.
        """
        removals = list(
            Removal.select(Removal, Membership, User)
            .join(Membership)
            .join(User)
            .where((Removal.ledger == self) & Removal.resolved_at.is_null())
            .order_by(Removal.created_at)
        )
        confirmed = {removal.id: set() for removal in removals}
        if removals:
            for row in RemovalConfirmation.select().where(
                RemovalConfirmation.removal.in_(list(confirmed))
            ):
                confirmed[row.removal_id].add(row.user_id)
        return [
            (removal, removal.waiting_for(partners, confirmed[removal.id])) for removal in removals
        ]

    def remember_as_current(self, device):
        """Make this the ledger the device looks at."""
        (DeviceSession.update(current_ledger=self).where(DeviceSession.id == device.id).execute())
        device.current_ledger_id = self.id


class Invitation(BaseModel):
    """A single-use, expiring, revocable link to join a ledger."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="all_invitations", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    note = CharField(max_length=80, default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)
    used_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    revoked_at = UTCDateTimeField(null=True)
    revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

    @classmethod
    def issue(cls, ledger, user, note, lifetime):
        """Create an invitation and return it with its raw token set."""
        token, now = new_token(), utcnow()
        invitation = cls.create(
            ledger=ledger,
            created_by=user,
            note=note,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
        )
        invitation.token = token
        return invitation

    @classmethod
    def by_token(cls, token):
        """Return the invitation for a token with its ledger and inviter, or None."""
        return (
            cls.select(cls, Ledger, User)
            .join(Ledger)
            .switch(cls)
            .join(User, JOIN.LEFT_OUTER, on=(cls.created_by == User.id))
            .where(cls.token_hash == token_hash(token))
            .first()
        )

    def status(self, now):
        """Return "open", "used", "revoked" or "expired"."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"

    def _claim(self, now, **changes):
        """Mark an open invitation; False if it was no longer open."""
        return bool(
            Invitation.update(**changes)
            .where(
                (Invitation.id == self.id)
                & Invitation.used_at.is_null()
                & Invitation.revoked_at.is_null()
                & (Invitation.expires_at > now)
            )
            .execute()
        )

    def accept(self, user, now):
        """Join the ledger through this invitation; False if it can't be used.

        An invitation works only while the partner who made it is a partner.
        """
        try:
            with write_transaction():
                if Membership.active(self.ledger_id, self.created_by_id) is None:
                    return False
                if not self._claim(now, used_at=now, used_by=user):
                    return False
                Membership.create(ledger=self.ledger_id, user=user, invitation=self, joined_at=now)
                partners_changed(self.ledger_id, now)
        except IntegrityError:  # already a partner: nothing was written
            return False
        return True

    def revoke(self, user, now):
        """Withdraw an open invitation; False if it was used or gone already."""
        return self._claim(now, revoked_at=now, revoked_by=user)

    @classmethod
    def withdraw_made_by(cls, ledger_id, user_id, now):
        """Withdraw the open invitations a departing partner made."""
        (
            cls.update(revoked_at=now, revoked_by=user_id)
            .where(
                (cls.ledger == ledger_id)
                & (cls.created_by == user_id)
                & cls.used_at.is_null()
                & cls.revoked_at.is_null()
            )
            .execute()
        )


class Membership(BaseModel):
    """A user's place in a ledger. Ending it never deletes shared history.

    A partial unique index (migration 0002) allows one active membership per
    user and ledger.
    """

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="memberships", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    joined_at = UTCDateTimeField(default=utcnow)
    invitation = ForeignKeyField(Invitation, null=True, on_delete="SET NULL")
    left_at = UTCDateTimeField(null=True)
    #: "left" or "removed"
    ended_how = CharField(max_length=10, null=True)

    @classmethod
    def of_ledger(cls, ledger_id):
        """Every membership of a ledger, past and present, with its user."""
        return cls.select(cls, User).join(User).where(cls.ledger == ledger_id)

    @classmethod
    def active(cls, ledger, user):
        """Return the user's active membership in a ledger, or None."""
        return (
            cls.select()
            .where((cls.ledger == ledger) & (cls.user == user) & cls.left_at.is_null())
            .first()
        )

    def end(self, how, now):
        """End this membership ("left" or "removed") and settle open removals."""
        with write_transaction():
            ended = (
                Membership.update(left_at=now, ended_how=how)
                .where((Membership.id == self.id) & Membership.left_at.is_null())
                .execute()
            )
            if ended:
                self.left_at, self.ended_how = now, how
                Invitation.withdraw_made_by(self.ledger_id, self.user_id, now)
                for removal in Removal.open_in(self.ledger_id):
                    removal.settle(now)
                partners_changed(self.ledger_id, now)
        return bool(ended)


class Removal(BaseModel):
    """A request to remove a partner, in effect once every other remaining
    partner has confirmed it. A partial unique index allows one open request
    per partner."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
    membership = ForeignKeyField(Membership, backref="removals", on_delete="CASCADE")
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    #: "removed", "withdrawn" or "lapsed" (the partner left first)
    outcome = CharField(max_length=10, null=True)

    @classmethod
    def open_in(cls, ledger_id):
        return cls.select().where((cls.ledger == ledger_id) & cls.resolved_at.is_null())

    @classmethod
    def request(cls, membership, user, now):
        """Ask to remove a partner, or confirm the open request to; return it."""
        with write_transaction():
            removal = lock(
                cls.select().where((cls.membership == membership) & cls.resolved_at.is_null())
            ).first()
            if removal is None:
                removal = cls.create(
                    ledger=membership.ledger_id, membership=membership, requested_by=user
                )
            RemovalConfirmation.insert(removal=removal, user=user).on_conflict_ignore().execute()
            removal.settle(now)
        return removal

    def confirmed_by(self):
        """Return the ids of the users who confirmed."""
        return {
            c.user_id
            for c in RemovalConfirmation.select().where(RemovalConfirmation.removal == self)
        }

    def waiting_for(self, partners=None, confirmed=None):
        """Return the remaining partners who have not confirmed yet."""
        if partners is None:
            partners = Ledger(id=self.ledger_id).partners()
        if confirmed is None:
            confirmed = self.confirmed_by()
        return [
            m.user for m in partners if m.id != self.membership_id and m.user_id not in confirmed
        ]

    def settle(self, now):
        """Carry out the removal once every other partner has confirmed."""
        target = Membership.get_by_id(self.membership_id)
        if target.left_at is not None:
            self._resolve("lapsed", now)
        elif not self.waiting_for():
            Membership.update(left_at=now, ended_how="removed").where(
                Membership.id == target.id
            ).execute()
            Invitation.withdraw_made_by(target.ledger_id, target.user_id, now)
            self._resolve("removed", now)
            partners_changed(target.ledger_id, now)

    def withdraw(self, now):
        """Cancel the request (its author's choice)."""
        self._resolve("withdrawn", now)

    def _resolve(self, outcome, now):
        Removal.update(resolved_at=now, outcome=outcome).where(
            (Removal.id == self.id) & Removal.resolved_at.is_null()
        ).execute()
        self.resolved_at, self.outcome = now, outcome


class RemovalConfirmation(BaseModel):
    """One remaining partner's yes to a removal."""

    id = AutoField()
    removal = ForeignKeyField(Removal, backref="confirmations", on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("removal", "user"), True),)
