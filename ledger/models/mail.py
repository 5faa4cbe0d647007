"""The outbox every email goes through, and the links sent to prove an address.

An email is queued once under its key and sent at most once. The exact
guarantee (see ``Outbox``): a run claims a row in a committed write before it
talks to the mail server, and marks it sent afterwards. A run that stops
between the two (a crash, a lost connection while the message was on its way)
leaves the row claimed, and no later run sends it again: an email may then be
lost, never sent twice. A message the mail server clearly refused goes back to
the queue (a temporary refusal, up to ``MAIL_MAX_ATTEMPTS`` tries) or is given
up (a permanent one).
"""

from peewee import (
    JOIN,
    AutoField,
    CharField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
)

from ..db import UTCDateTimeField, db, utcnow, write_transaction
from .accounts import User
from .agreements import StoredState, Waiting
from .base import BaseModel, email_key, new_token, token_hash
from .ledgers import Membership

#: The kinds of email that carry a link to prove an address or set a
#: password: at most MAIL_LINKS_PER_HOUR of them go to one address per hour.
LINK_KINDS = ("reset", "register", "address-in-use", "confirm-email")


def _kind(key):
    return key.split(":", 1)[0][:40]


class Outbox(BaseModel):
    """One email: pending, claimed (being sent), sent, or given up.

    What a sent or given-up email said (its address, words and links) is
    erased; its key stays, so the same email is never queued again.
    """

    id = AutoField()
    key = CharField(max_length=200, unique=True)
    #: The key's first part ("reset", "answers", "review-due", ...).
    kind = CharField(max_length=40)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    recipient = CharField(max_length=254)
    #: The recipient's address, hashed: what limits count after it is erased.
    recipient_hash = CharField(max_length=64)
    subject = CharField(max_length=200)
    text = TextField()
    html = TextField()
    #: The one-click link that stops this kind of email ("" when none).
    stop_url = CharField(max_length=500, default="")
    created_at = UTCDateTimeField(default=utcnow)
    #: Not sent by then: given up (a link in it would no longer work).
    expires_at = UTCDateTimeField(null=True)
    attempts = IntegerField(default=0)
    claimed_at = UTCDateTimeField(null=True)
    sent_at = UTCDateTimeField(null=True)
    failed_at = UTCDateTimeField(null=True)
    error = CharField(max_length=200, default="")

    class Meta:
        indexes = (
            (("claimed_at", "failed_at"), False),
            (("recipient_hash", "created_at"), False),
        )

    @classmethod
    def queue(cls, user, key, subject, text, html, to=None, expires_at=None, items=(), stop_url=""):
        """Queue an email to ``user`` (or to the address ``to``); None if already queued.

        ``key`` names the email (e.g. "review-due:<ledger>:<date>:<user>"):
        queueing the same key again does nothing, sent or not. ``items`` are
        further keys this one email covers (several things in one reminder);
        if any of them was covered before, nothing is queued either.
        """
        recipient = (to or user.email).strip()
        try:
            with db.database.atomic():
                row = cls.create(
                    key=key,
                    kind=_kind(key),
                    user=user,
                    recipient=recipient,
                    recipient_hash=token_hash(email_key(recipient)),
                    subject=subject[:200],
                    text=text,
                    html=html,
                    stop_url=stop_url,
                    expires_at=expires_at,
                )
                if items:
                    OutboxItem.insert_many([{"key": k, "outbox": row.id} for k in items]).execute()
                return row
        except IntegrityError:
            return None

    @classmethod
    def known(cls, keys):
        """The keys among ``keys`` that an email was queued under or covered."""
        keys = list(keys)
        if not keys:
            return set()
        own = {r.key for r in cls.select(cls.key).where(cls.key.in_(keys))}
        covered = {r.key for r in OutboxItem.select(OutboxItem.key).where(OutboxItem.key.in_(keys))}
        return own | covered

    @classmethod
    def links_sent_to(cls, address, since):
        """How many emails with a link were queued for this address since then."""
        return (
            cls.select()
            .where(
                (cls.recipient_hash == token_hash(email_key(address)))
                & (cls.created_at >= since)
                & cls.kind.in_(LINK_KINDS)
            )
            .count()
        )

    @classmethod
    def pending(cls, ids=None):
        """The emails not claimed by any run yet, oldest first, with their users."""
        query = (
            cls.select(cls, User)
            .join(User, JOIN.LEFT_OUTER)
            .where(cls.claimed_at.is_null() & cls.failed_at.is_null())
            .order_by(cls.id)
        )
        return query.where(cls.id.in_(list(ids))) if ids is not None else query

    @classmethod
    def expire(cls, now):
        """Give up the pending emails whose links no longer work; return how many."""
        return (
            cls.update(failed_at=now, error="expired before it could be sent", **_ERASED)
            .where(
                cls.claimed_at.is_null()
                & cls.failed_at.is_null()
                & cls.expires_at.is_null(False)
                & (cls.expires_at <= now)
            )
            .execute()
        )

    @classmethod
    def in_doubt(cls):
        """Claimed but never marked sent: a run stopped while sending them."""
        return cls.select().where(
            cls.claimed_at.is_null(False) & cls.sent_at.is_null() & cls.failed_at.is_null()
        )

    def claim(self, now):
        """Take this email for sending, committed before a byte goes out.

        False when another run took it first. Must run outside any
        transaction: the claim has to be on disk before the send.
        """
        if db.database.in_transaction():
            raise RuntimeError("An email is claimed outside any transaction.")
        claimed = (
            Outbox.update(claimed_at=now, attempts=Outbox.attempts + 1)
            .where(
                (Outbox.id == self.id) & Outbox.claimed_at.is_null() & Outbox.failed_at.is_null()
            )
            .execute()
        )
        if claimed:
            self.claimed_at, self.attempts = now, self.attempts + 1
        return bool(claimed)

    def mark_sent(self, now):
        """The mail server took it: keep the key, erase what it said."""
        Outbox.update(sent_at=now, **_ERASED).where(Outbox.id == self.id).execute()

    def refused(self, error, temporary, max_attempts, now):
        """The mail server refused it: back to the queue when that may pass
        and tries are left, else given up."""
        error = error[:200]
        if temporary and self.attempts < max_attempts:
            update = {"claimed_at": None, "error": error}
        else:
            update = {"failed_at": now, "error": error, **_ERASED}
        Outbox.update(**update).where(Outbox.id == self.id).execute()


#: What is erased from an email once it is sent or given up.
_ERASED = {"recipient": "", "subject": "", "text": "", "html": "", "stop_url": ""}


class OutboxItem(BaseModel):
    """A further thing one email covered, by its key (see ``Outbox.queue``)."""

    key = CharField(max_length=200, primary_key=True)
    outbox = ForeignKeyField(Outbox, backref="items", on_delete="CASCADE")


class EmailConfirmation(BaseModel):
    """A single-use link sent to an address to prove it, before it is used:
    to create an account ("register") or to move one to it ("change").

    Only the hash of the link's secret is stored. A registration keeps what
    the form gave (the password already hashed) until the link is used.
    """

    id = AutoField()
    token_hash = CharField(max_length=64, unique=True)
    purpose = CharField(max_length=10, choices=[("register", "register"), ("change", "change")])
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    email = CharField(max_length=254)
    display_name = CharField(max_length=80, default="")
    password_hash = CharField(max_length=255, default="")
    time_zone = CharField(max_length=64, default="UTC")
    #: Where to go once the account exists (an invitation, say).
    next_url = CharField(max_length=500, null=True)
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField(index=True)
    used_at = UTCDateTimeField(null=True)

    @classmethod
    def issue(cls, purpose, email, now, lifetime, **fields):
        """Create a link for ``email``; return its raw secret. Old, expired
        links are cleared on the way."""
        cls.delete().where(cls.expires_at < now).execute()
        token = new_token()
        cls.create(
            token_hash=token_hash(token),
            purpose=purpose,
            email=email.strip(),
            created_at=now,
            expires_at=now + lifetime,
            **fields,
        )
        return token

    @classmethod
    def usable(cls, token, purpose, now):
        """The unused, unexpired link for this secret and purpose, or None."""
        return (
            cls.select()
            .where(
                (cls.token_hash == token_hash(token))
                & (cls.purpose == purpose)
                & cls.used_at.is_null()
                & (cls.expires_at > now)
            )
            .first()
        )

    def use(self, now):
        """Mark the link used; False if another request used it first."""
        return bool(
            EmailConfirmation.update(used_at=now)
            .where((EmailConfirmation.id == self.id) & EmailConfirmation.used_at.is_null())
            .execute()
        )

    def create_account(self, now):
        """Use a registration link: (True, the new account), (True, None) when
        the address got an account meanwhile, (False, None) when the link was
        used by another request first."""
        with write_transaction():
            if not self.use(now):
                return False, None
            user = User.create_account(
                self.email, self.display_name, self.password_hash, self.time_zone
            )
        return True, user

    def change_email(self, now):
        """Use an email change link: (True, saved?) or (False, None) when used first."""
        with write_transaction():
            if not self.use(now):
                return False, None
            user = User.get_by_id(self.user_id)
            saved = user.set_email(self.email)
        return True, saved


def has_agreement_in_force(user):
    """True when an agreement is in force in a ledger the user is a partner in."""
    return (
        StoredState.select()
        .join(Membership, on=(Membership.ledger == StoredState.ledger))
        .where(
            (Membership.user == user)
            & Membership.left_at.is_null()
            & StoredState.in_force.is_null(False)
            & (StoredState.label != "retired")
        )
        .exists()
    )


def waiting_for_answers():
    """What waits for an answer from partners who asked to hear of it: rows of
    (ledger id, user, agreement id, latest revision number, change requested),
    in one query."""
    return (
        Waiting.select(
            Waiting.ledger,
            Waiting.agreement,
            StoredState.latest_number,
            StoredState.change_requested,
            User,
        )
        .join(StoredState, on=(StoredState.agreement == Waiting.agreement), attr="state")
        .switch(Waiting)
        .join(User)
        .where(User.remind_answers == True)  # noqa: E712 (a SQL comparison)
        .order_by(Waiting.user, Waiting.ledger, Waiting.agreement)
    )
