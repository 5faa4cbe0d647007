"""Ledgers, the partners in them, invitations, and removing a partner.

Every change of who is a partner (joining, leaving, a removal carried out)
is one write that holds the ledger's row (``Ledger.hold``), so two such
changes in one ledger happen one after the other and each sees the other's
result; inside it, removals whose notice period has ended are carried out
first, and ``partners_changed`` lets state kept about the ledger follow.
"""

import datetime
import secrets
import unicodedata
import uuid
from dataclasses import dataclass

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

from ..db import UTCDateTimeField, db, lock, prepared, slot, utcnow, write_transaction
from .accounts import DeviceSession, User
from .base import BaseModel, new_token, token_hash

#: Removing the only other partner (nobody else is there to confirm it) takes
#: effect this long after it was asked: the partner is told, and can cancel it.
REMOVAL_NOTICE = datetime.timedelta(days=7)

#: A new invitation's link can be shown, once, this long after it was made.
LINK_SHOWN_WITHIN = datetime.timedelta(minutes=10)

#: Called as ``f(ledger_id, now)`` inside the transaction of every change of
#: who is a partner, so state kept about a ledger follows it (the agreements'
#: stored state registers here; this module cannot import it).
PARTNERS_CHANGED = []

#: Called as ``f(removal)`` inside the transaction in which removing the only
#: other partner starts its notice period. Email registers here, where the
#: instance sends email; until then the partner is told on their next visit.
REMOVAL_REQUESTED = []


def partners_changed(ledger_id, now):
    for follow in PARTNERS_CHANGED:
        follow(ledger_id, now)


def notify_removal_requested(removal):
    """Tell the partner a removal would remove, beyond the page banner (by
    email where the instance sends email): calls what REMOVAL_REQUESTED holds."""
    for tell in REMOVAL_REQUESTED:
        tell(removal)


def name_key(name):
    """The form in which two names are compared: NFKC, case-folded, with
    runs of spaces as one ("ＡＬＩＣＥ " and "alice" are the same name)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


class NameTaken(Exception):  # noqa: N818 - a condition people see, not a bug
    """The name a person would join with reads like the name of someone who
    is or was a partner in that ledger; nothing was written."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


@dataclass
class Person:
    """Someone who is or was a partner in a ledger, as its pages name them."""

    name: str
    joined_at: datetime.datetime
    left_at: datetime.datetime = None
    #: Another person in this ledger's history has a name that reads the same.
    namesake: bool = False

    @property
    def former(self):
        return self.left_at is not None


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
    def hold(cls, ledger_id, now):
        """Inside a write: hold the ledger's row (PostgreSQL ``FOR UPDATE``;
        SQLite's IMMEDIATE already holds the database) for a change of who is
        a partner, and first carry out removals whose notice period ended."""
        lock(cls.select(cls.id).where(cls.id == ledger_id)).first()
        Removal.settle_due(ledger_id, now)

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
        """Return the ledgers the user is a partner in, by name: one prepared
        query (every page's header asks)."""
        return list(_ledgers_of(user=getattr(user, "id", user)))

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

    @classmethod
    def people(cls, ledger_id, memberships=None):
        """Everyone who is or was a partner, {user id: Person}, in one query
        (none when given the ledger's ``memberships``, as ``all_of`` reads them).

        A person who left and came back is named by their latest membership.
        Names that read the same (``name_key``) are marked as namesakes, so a
        page can tell them apart even when an account was renamed later.
        """
        people = {}
        for m in Membership.all_of(ledger_id) if memberships is None else memberships:
            people[m.user_id] = Person(m.name, m.joined_at, m.left_at)
        keys = {}
        for person in people.values():
            keys.setdefault(name_key(person.name), []).append(person)
        for same in keys.values():
            if len(same) > 1:
                for person in same:
                    person.namesake = True
        return people

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

    def everyone(self):
        """Return (the active memberships, oldest first; the ended ones,
        latest first), with their users: one query for both."""
        rows = list(Membership.of_ledger(self.id).order_by(Membership.joined_at, Membership.id))
        former = sorted(
            (m for m in rows if m.left_at is not None), key=lambda m: m.left_at, reverse=True
        )
        return [m for m in rows if m.left_at is None], former

    def open_removals(self, partners):
        """Return pending removal requests, each with the memberships of the
        partners it waits for.

        One query, however many requests: the requests with their targets,
        one row per confirmation.
        """
        rows = (
            Removal.select(Removal, Membership, User, RemovalConfirmation.user.alias("yes_by"))
            .join(Membership)
            .join(User)
            .switch(Removal)
            .join(
                RemovalConfirmation,
                JOIN.LEFT_OUTER,
                on=(RemovalConfirmation.removal == Removal.id),
                attr="yes",
            )
            .where((Removal.ledger == self) & Removal.resolved_at.is_null())
            .order_by(Removal.created_at, Removal.id)
        )
        removals, confirmed = {}, {}
        for removal in rows:
            removals.setdefault(removal.id, removal)
            yes = confirmed.setdefault(removal.id, set())
            if removal.yes.yes_by is not None:
                yes.add(removal.yes.yes_by)
        return [
            (removal, removal.waiting_for(partners, confirmed[removal.id]))
            for removal in removals.values()
        ]

    def rename(self, user, name, now):
        """Give the ledger a new name and record who renamed it, when, from
        what to what. Returns "renamed", "unchanged" (it has that name
        already: nothing is recorded), or None, with nothing written, when
        under the lock ``user`` is not a partner."""
        with write_transaction():
            Ledger.hold(self.id, now)
            if Membership.active(self.id, user) is None:
                return None
            old = Ledger.select(Ledger.name).where(Ledger.id == self.id).scalar()
            if old == name:
                return "unchanged"
            Ledger.update(name=name).where(Ledger.id == self.id).execute()
            LedgerRename.create(
                ledger=self.id, renamed_by=user, old_name=old, new_name=name, created_at=now
            )
        self.name = name
        return "renamed"

    def remember_as_current(self, device):
        """Make this the ledger the device looks at."""
        (DeviceSession.update(current_ledger=self).where(DeviceSession.id == device.id).execute())
        device.current_ledger_id = self.id


def _xor(data, key):
    """``data`` XOR a one-time ``key`` of the same length."""
    return bytes(a ^ b for a, b in zip(data, key, strict=True))


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
    #: The token XOR a one-time key that only its maker's session holds,
    #: until the page that shows the link once (neither half alone is a link).
    link_sealed = CharField(max_length=128, null=True)

    @classmethod
    def issue(cls, ledger, user, note, lifetime):
        """Create an invitation and return it with its raw ``token`` set, and
        the ``key`` that opens its sealed link once (``reveal_once``)."""
        token, now = new_token(), utcnow()
        key = secrets.token_bytes(len(token.encode()))
        invitation = cls.create(
            ledger=ledger,
            created_by=user,
            note=note,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
            link_sealed=_xor(token.encode(), key).hex(),
        )
        invitation.token, invitation.key = token, key.hex()
        return invitation

    def reveal_once(self, key, now):
        """The link's token, opened with ``key``, the first time it is asked
        for, shortly after the invitation was made; None ever after."""
        if self.link_sealed is None or now - self.created_at > LINK_SHOWN_WITHIN:
            return None
        taken = (
            Invitation.update(link_sealed=None)
            .where((Invitation.id == self.id) & (Invitation.link_sealed == self.link_sealed))
            .execute()
        )
        if not taken:  # another request showed it first
            return None
        try:
            token = _xor(bytes.fromhex(self.link_sealed), bytes.fromhex(key)).decode()
        except (ValueError, TypeError):
            return None
        return token if token_hash(token) == self.token_hash else None

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
            Invitation.update(link_sealed=None, **changes)
            .where(
                (Invitation.id == self.id)
                & Invitation.used_at.is_null()
                & Invitation.revoked_at.is_null()
                & (Invitation.expires_at > now)
            )
            .execute()
        )

    def accept(self, user, now, display_name=None):
        """Join the ledger through this invitation; False if it can't be used.

        An invitation works only while the partner who made it is a partner.
        The name the person joins with (``display_name`` for this ledger, else
        their account's) must not read like the name of anyone who is or was
        a partner there: NameTaken, with nothing written.
        """
        try:
            with write_transaction():
                Ledger.hold(self.ledger_id, now)
                if Membership.active(self.ledger_id, self.created_by_id) is None:
                    return False
                name = display_name or user.display_name
                if Membership.namesake(self.ledger_id, user, name) is not None:
                    raise NameTaken(name)
                if not self._claim(now, used_at=now, used_by=user):
                    return False
                Membership.create(
                    ledger=self.ledger_id,
                    user=user,
                    invitation=self,
                    joined_at=now,
                    display_name=display_name or None,
                )
                Removal.settle_open(self.ledger_id, now)  # a newcomer is asked too
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
            cls.update(revoked_at=now, revoked_by=user_id, link_sealed=None)
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
    #: The name this partner goes by in this ledger, when their account's name
    #: read like another partner's as they joined; None: the account's name.
    display_name = CharField(max_length=80, null=True)

    @property
    def name(self):
        """What the partners of this ledger call this person."""
        return self.display_name or self.user.display_name

    @classmethod
    def of_ledger(cls, ledger_id):
        """Every membership of a ledger, past and present, with its user."""
        return cls.select(cls, User).join(User).where(cls.ledger == ledger_id)

    @classmethod
    def all_of(cls, ledger_id):
        """Every membership of a ledger, past and present, with its user,
        oldest first: a list, from one prepared query."""
        return list(_memberships_of(ledger=ledger_id))

    @classmethod
    def active(cls, ledger, user):
        """Return the user's active membership in a ledger, or None."""
        return (
            cls.select()
            .where((cls.ledger == ledger) & (cls.user == user) & cls.left_at.is_null())
            .first()
        )

    @classmethod
    def namesake(cls, ledger_id, user, name):
        """The membership of someone else, present or past, whose name in this
        ledger reads like ``name`` (``name_key``), or None."""
        key = name_key(name)
        others = cls.of_ledger(ledger_id).where(cls.user != user)
        return next((m for m in others if name_key(m.name) == key), None)

    def end(self, how, now):
        """End this membership ("left" or "removed"); False if it had ended."""
        with write_transaction():
            Ledger.hold(self.ledger_id, now)
            ended = (
                Membership.update(left_at=now, ended_how=how)
                .where((Membership.id == self.id) & Membership.left_at.is_null())
                .execute()
            )
            if ended:
                self.left_at, self.ended_how = now, how
                self._depart(now)
                if (
                    not Membership.select()
                    .where((Membership.ledger == self.ledger_id) & Membership.left_at.is_null())
                    .exists()
                ):
                    # The last partner went: the ledger goes, with everything
                    # in it (its rows cascade; the history is nobody's now).
                    Ledger.delete().where(Ledger.id == self.ledger_id).execute()
        return bool(ended)

    def _depart(self, now):
        """What follows a partner's going, in the same write: their open links
        are withdrawn, their drafts deleted (they can no longer reach them),
        open removal requests settled, and state kept about the ledger follows."""
        Invitation.withdraw_made_by(self.ledger_id, self.user_id, now)
        # Drafts live with the agreements, whose module imports this one:
        # reach their model through its backref instead of importing it back.
        drafts = Ledger.drafts.rel_model
        drafts.delete().where(
            (drafts.ledger == self.ledger_id) & (drafts.author == self.user_id)
        ).execute()
        Removal.settle_open(self.ledger_id, now)
        partners_changed(self.ledger_id, now)


class Removal(BaseModel):
    """A request to remove a partner who no longer takes part.

    It takes the confirmation of every other remaining partner. When that is
    one person alone (a couple: nobody else can confirm it), it takes effect
    after a notice period (``takes_effect_at``), during which the partner it
    would remove stays a partner, is told, and may cancel it. A request lives
    only while the partner who made it is a partner. A partial unique index
    allows one open request per partner.
    """

    id = AutoField()
    ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
    membership = ForeignKeyField(Membership, backref="removals", on_delete="CASCADE")
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    #: Set while in its notice period: when it takes effect.
    takes_effect_at = UTCDateTimeField(null=True, index=True)
    resolved_at = UTCDateTimeField(null=True)
    #: "removed", "withdrawn" (by its author), "cancelled" (by the partner it
    #: would remove, during the notice period) or "lapsed" (either partner
    #: was gone first)
    outcome = CharField(max_length=10, null=True)

    @classmethod
    def open_in(cls, ledger_id):
        return cls.select().where((cls.ledger == ledger_id) & cls.resolved_at.is_null())

    @classmethod
    def in_notice(cls, ledger_id):
        """Open requests of a ledger in their notice period, each with the
        membership it would end: one query."""
        return list(_removals_in_notice(ledger=ledger_id))

    @classmethod
    def request(cls, membership, user, now):
        """Ask to remove a partner, or confirm the open request to; return it.

        None, with nothing written, when under the lock ``user`` or the
        partner is no longer a partner (two partners removing each other at
        the same moment: the second finds itself gone).
        """
        with write_transaction():
            Ledger.hold(membership.ledger_id, now)
            target = Membership.active(membership.ledger_id, membership.user_id)
            if (
                target is None
                or target.id != membership.id
                or target.user_id == user.id
                or Membership.active(membership.ledger_id, user) is None
            ):
                return None
            removal = lock(
                cls.select().where((cls.membership == target) & cls.resolved_at.is_null())
            ).first()
            if removal is None:
                removal = cls.create(ledger=target.ledger_id, membership=target, requested_by=user)
            RemovalConfirmation.insert(removal=removal, user=user).on_conflict_ignore().execute()
            removal.settle(now)
        return removal

    @classmethod
    def settle_open(cls, ledger_id, now, due_only=False):
        """Inside a write that holds the ledger: settle its open requests (or
        only those whose notice period has ended); return how many partners
        were removed."""
        where = (cls.ledger == ledger_id) & cls.resolved_at.is_null()
        if due_only:
            where &= cls.takes_effect_at <= now
        ids = [r.id for r in cls.select(cls.id).where(where).order_by(cls.created_at, cls.id)]
        removed = 0
        for removal_id in ids:
            removal = cls.get_by_id(removal_id)  # as the ones before it left it
            removal.settle(now)
            removed += removal.outcome == "removed"
        return removed

    @classmethod
    def settle_due(cls, ledger_id, now):
        """Inside a write that holds the ledger: carry out its removals whose
        notice period has ended; return how many partners were removed."""
        return cls.settle_open(ledger_id, now, due_only=True)

    @classmethod
    def carry_out_due(cls, now=None, ledger_id=None):
        """Carry out every removal whose notice period has ended (in one
        ledger, or in all), one write per ledger; return how many partners
        were removed."""
        now = now or utcnow()
        where = cls.resolved_at.is_null() & (cls.takes_effect_at <= now)
        if ledger_id is not None:
            where &= cls.ledger == ledger_id
        ledgers = {r.ledger_id for r in cls.select(cls.ledger).where(where)}
        removed = 0
        for ledger_id in sorted(ledgers):
            with write_transaction():
                lock(Ledger.select(Ledger.id).where(Ledger.id == ledger_id)).first()
                removed += cls.settle_due(ledger_id, now)
        return removed

    def confirmed_by(self):
        """Return the ids of the users who confirmed."""
        return {
            c.user_id
            for c in RemovalConfirmation.select().where(RemovalConfirmation.removal == self)
        }

    def waiting_for(self, partners=None, confirmed=None):
        """Return the memberships of the other remaining partners who have not
        confirmed yet."""
        if partners is None:
            partners = Ledger(id=self.ledger_id).partners()
        if confirmed is None:
            confirmed = self.confirmed_by()
        return [m for m in partners if m.id != self.membership_id and m.user_id not in confirmed]

    def settle(self, now):
        """Inside a write that holds the ledger: as the partners are now, let
        the request lapse, carry it out, start its notice period, or wait."""
        if self.resolved_at is not None:
            return
        partners = list(Ledger(id=self.ledger_id).partners())
        target = next((m for m in partners if m.id == self.membership_id), None)
        others = [m for m in partners if m.id != self.membership_id]
        if target is None or not any(m.user_id == self.requested_by_id for m in others):
            self._resolve("lapsed", now)
        elif self.waiting_for(partners):
            if self.takes_effect_at is not None:  # someone joined: they are asked too
                self._notice(None)
        elif len(others) > 1 or (self.takes_effect_at and self.takes_effect_at <= now):
            self._carry_out(target, now)
        elif self.takes_effect_at is None:  # the one who asked is the only other partner
            self._notice(now + REMOVAL_NOTICE)
            notify_removal_requested(self)

    def withdraw(self, user, now):
        """The partner who asked withdraws the request, or, during its notice
        period, the partner it would remove cancels it; checked under the lock.

        Returns "withdrawn" or "cancelled"; "settled" when it was settled
        first; None when ``user`` may do neither (nothing is written).
        """
        with write_transaction():
            Ledger.hold(self.ledger_id, now)
            current = Removal.get_by_id(self.id)
            if current.resolved_at is not None:
                return "settled"
            if Membership.active(self.ledger_id, user) is None:
                return None
            if user.id == current.requested_by_id:
                outcome = "withdrawn"
            elif (
                current.takes_effect_at is not None
                and Membership.get_by_id(current.membership_id).user_id == user.id
            ):
                outcome = "cancelled"
            else:
                return None
            current._resolve(outcome, now)
        self.resolved_at, self.outcome = now, outcome
        return outcome

    def _notice(self, takes_effect_at):
        Removal.update(takes_effect_at=takes_effect_at).where(Removal.id == self.id).execute()
        self.takes_effect_at = takes_effect_at

    def _carry_out(self, target, now):
        self._resolve("removed", now)
        Membership.update(left_at=now, ended_how="removed").where(
            (Membership.id == target.id) & Membership.left_at.is_null()
        ).execute()
        target.left_at, target.ended_how = now, "removed"
        target._depart(now)

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


class LedgerRename(BaseModel):
    """One renaming of a ledger: who, when, and from what to what.

    Append-only: nothing updates or deletes a row (``save`` refuses to
    change one); the rows go only with their ledger, by its cascade.
    """

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE")
    renamed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    old_name = CharField(max_length=80)
    new_name = CharField(max_length=80)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ledger", "created_at"), False),)

    def save(self, *args, **kwargs):
        if self.id is not None and not kwargs.get("force_insert"):
            raise TypeError("ledger renames are append-only")
        return super().save(*args, **kwargs)

    @classmethod
    def of_ledger(cls, ledger_id):
        """A ledger's renames, latest first: one query."""
        return (
            cls.select()
            .where(cls.ledger == ledger_id)
            .order_by(cls.created_at.desc(), cls.id.desc())
        )


class LedgerDeletion(BaseModel):
    """A request to delete a ledger with everything in it.

    It is carried out, in the write of the last yes, once every partner has
    asked for it or confirmed it. It lapses when who is a partner changes
    (a newcomer must be asked too; confirmations given among other partners
    do not carry over), and its author can withdraw it. A partial unique
    index (migration 0012) allows one open request per ledger. A request
    that was carried out leaves no row: it goes with its ledger.
    """

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="+", on_delete="CASCADE")
    requested_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    #: "withdrawn" (by its author) or "lapsed" (who is a partner changed)
    outcome = CharField(max_length=10, null=True)

    @classmethod
    def open_in(cls, ledger_id):
        return cls.select().where((cls.ledger == ledger_id) & cls.resolved_at.is_null())

    @classmethod
    def pending(cls, ledger_id, partners):
        """The open request of a ledger as a ``DeletionRequest``, or None:
        two queries (the request, then its confirmations)."""
        request = cls.open_in(ledger_id).first()
        if request is None:
            return None
        confirmed = {
            c.user_id
            for c in LedgerDeletionConfirmation.select(LedgerDeletionConfirmation.user).where(
                LedgerDeletionConfirmation.request == request
            )
        }
        return DeletionRequest(request, list(partners), confirmed)

    @classmethod
    def ask(cls, ledger_id, user, now):
        """Ask to delete the ledger, or confirm the open request to; delete it
        when this was the last yes. Returns "deleted", "asked" (a new
        request), "confirmed" (still waiting for others), or None, with
        nothing written, when under the lock ``user`` is not a partner."""
        with write_transaction():
            Ledger.hold(ledger_id, now)  # may carry out a removal: the request lapses
            partners = list(Ledger(id=ledger_id).partners())
            if not any(m.user_id == user.id for m in partners):
                return None
            request = lock(cls.open_in(ledger_id)).first()
            outcome = "confirmed"
            if request is None:
                request = cls.create(ledger=ledger_id, requested_by=user, created_at=now)
                outcome = "asked"
            LedgerDeletionConfirmation.insert(
                request=request, user=user, created_at=now
            ).on_conflict_ignore().execute()
            if not cls.pending(ledger_id, partners).waiting:
                # Every partner said yes: the ledger goes with everything in
                # it (its rows cascade, this request's among them).
                Ledger.delete().where(Ledger.id == ledger_id).execute()
                return "deleted"
        return outcome

    @classmethod
    def withdraw(cls, ledger_id, user, now):
        """The partner who asked withdraws the open request; checked under the
        lock. Returns "withdrawn", "settled" when no request is open any
        more, or None when ``user`` did not ask for it (nothing written)."""
        with write_transaction():
            Ledger.hold(ledger_id, now)
            request = lock(cls.open_in(ledger_id)).first()
            if request is None:
                return "settled"
            if request.requested_by_id != user.id or Membership.active(ledger_id, user) is None:
                return None
            request._resolve("withdrawn", now)
        return "withdrawn"

    @classmethod
    def lapse_open(cls, ledger_id, now):
        """Inside a change of who is a partner: the open request lapses."""
        (
            cls.update(resolved_at=now, outcome="lapsed")
            .where((cls.ledger == ledger_id) & cls.resolved_at.is_null())
            .execute()
        )

    def _resolve(self, outcome, now):
        LedgerDeletion.update(resolved_at=now, outcome=outcome).where(
            (LedgerDeletion.id == self.id) & LedgerDeletion.resolved_at.is_null()
        ).execute()
        self.resolved_at, self.outcome = now, outcome


@dataclass
class DeletionRequest:
    """An open request to delete a ledger, as its pages show it."""

    request: LedgerDeletion
    partners: list
    confirmed: set

    @property
    def waiting(self):
        """The memberships of the partners who have not said yes yet."""
        return [m for m in self.partners if m.user_id not in self.confirmed]

    @property
    def requester(self):
        """The membership of the partner who asked (None once they are gone)."""
        return next((m for m in self.partners if m.user_id == self.request.requested_by_id), None)

    def asked_of(self, user):
        """True while ``user`` is a partner who has not said yes yet."""
        return any(m.user_id == user.id for m in self.waiting)

    def can_withdraw(self, user):
        return self.request.requested_by_id == user.id


class LedgerDeletionConfirmation(BaseModel):
    """One partner's yes to deleting a ledger (its author's among them)."""

    id = AutoField()
    request = ForeignKeyField(LedgerDeletion, backref="+", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("request", "user"), True),)


PARTNERS_CHANGED.append(LedgerDeletion.lapse_open)


# Prepared queries (``ledger.db.prepared``): the ones every page makes.


@prepared
def _ledgers_of():
    return (
        Ledger.select()
        .join(Membership)
        .where((Membership.user == slot("user")) & Membership.left_at.is_null())
        .order_by(Ledger.name, Ledger.id)
    )


@prepared
def _memberships_of():
    return (
        Membership.select(Membership, User)
        .join(User)
        .where(Membership.ledger == slot("ledger"))
        .order_by(Membership.joined_at, Membership.id)
    )


@prepared
def _removals_in_notice():
    return (
        Removal.select(Removal, Membership)
        .join(Membership)
        .where(
            (Removal.ledger == slot("ledger"))
            & Removal.resolved_at.is_null()
            & Removal.takes_effect_at.is_null(False)
        )
    )
