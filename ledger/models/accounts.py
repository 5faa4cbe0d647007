"""Accounts, signed-in and known devices, login throttling and reset links."""

import hashlib
import uuid
from datetime import timedelta

from flask_login import UserMixin
from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DeferredForeignKey,
    ForeignKeyField,
    IntegrityError,
    UUIDField,
    fn,
)

from .. import passwords
from ..db import UTCDateTimeField, db, is_sqlite, prepared, slot, utcnow, write_transaction
from .base import BaseModel, email_key, new_token, token_hash

#: last_seen_at is written at most this often, not on every request.
SEEN_RESOLUTION = timedelta(days=1)


class User(UserMixin, BaseModel):
    id = AutoField()
    uuid = UUIDField(unique=True, default=uuid.uuid4)
    email = CharField(max_length=254)
    email_key = CharField(max_length=254, unique=True)
    display_name = CharField(max_length=80)
    password_hash = CharField(max_length=255)
    time_zone = CharField(max_length=64, default="UTC")
    created_at = UTCDateTimeField(default=utcnow)
    #: A neutral name and icon in the browser tab and on the home screen.
    discreet = BooleanField(default=False)
    #: A gentle vibration or notification when the minimum pause has passed.
    pause_alert = BooleanField(default=False)
    #: Email reminders, each chosen by the partner (never on by default):
    #: when a review is due, when something waits for their answer. Offered
    #: once, when their first agreement comes into force.
    remind_reviews = BooleanField(default=False)
    remind_answers = BooleanField(default=False)
    reminders_offered_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "user_account"

    # flask-login: the id in the session is the device session's token, set
    # by the loader; it is never the user's row id.
    device = None

    #: Set when check_password refused a password during this request, so a
    #: view can count the wrong guess like a failed login.
    password_refused = False

    def get_id(self):
        return self.device.token if self.device else None

    def check_password(self, password):
        """Tell whether this is the account's password."""
        if passwords.verify(self.password_hash, password):
            return True
        self.password_refused = True
        return False

    def set_password(self, password):
        """Store a new password hash (the caller decides about devices)."""
        self.password_hash = passwords.hash_password(password)
        (User.update(password_hash=self.password_hash).where(User.id == self.id).execute())

    @classmethod
    def by_email(cls, email):
        """Return the user with this email (any case), or None."""
        return cls.get_or_none(cls.email_key == email_key(email))

    #: The password hash of an account nobody can sign in to yet: no
    #: password ever hashes to it.
    UNCLAIMED = "!unclaimed"

    @classmethod
    def placeholder(cls, uuid, display_name, time_zone):
        """An account for a person of an imported ledger who has none here. It
        cannot sign in until its owner claims it through a reset link
        (``flask --app ledger reset-link UUID``) and sets a password."""
        address = f"imported-{uuid}@ledger.invalid"
        return cls.create(
            uuid=uuid,
            email=address,
            email_key=email_key(address),
            display_name=display_name,
            password_hash=cls.UNCLAIMED,
            time_zone=time_zone,
        )

    @classmethod
    def by_email_or_uuid(cls, text):
        """The user with this email (any case) or this UUID, or None."""
        try:
            return cls.get_or_none(cls.uuid == uuid.UUID(text.strip()))
        except ValueError:
            return cls.by_email(text)

    @classmethod
    def create_account(cls, email, display_name, password_hash, time_zone):
        """Create an account; None when the email is already in use."""
        try:
            with db.database.atomic():
                return cls.create(
                    email=email.strip(),
                    email_key=email_key(email),
                    display_name=display_name,
                    password_hash=password_hash,
                    time_zone=time_zone,
                )
        except IntegrityError:
            return None

    def update_profile(self, email, display_name, time_zone, discreet=False, pause_alert=False):
        """Save new profile fields; False when the email belongs to another."""
        self.email = email.strip()
        self.email_key = email_key(email)
        self.display_name = display_name
        self.time_zone = time_zone
        self.discreet = discreet
        self.pause_alert = pause_alert
        try:
            with db.database.atomic():
                self.save()
        except IntegrityError:
            return False
        return True

    def set_email(self, email):
        """Use a new email (proven by a link); False when another account has it."""
        try:
            with db.database.atomic():
                (
                    User.update(email=email.strip(), email_key=email_key(email))
                    .where(User.id == self.id)
                    .execute()
                )
        except IntegrityError:
            return False
        self.email, self.email_key = email.strip(), email_key(email)
        return True

    def wants_reminders(self, kind):
        """True when the partner chose this kind of reminder ("reviews" or "answers")."""
        return bool(getattr(self, REMINDER_CHOICES[kind]))

    def set_reminders(self, reviews, answers, now):
        """Save the reminder choices; the offer is then made, once and for all."""
        (
            User.update(remind_reviews=reviews, remind_answers=answers, reminders_offered_at=now)
            .where(User.id == self.id)
            .execute()
        )
        self.remind_reviews, self.remind_answers = reviews, answers
        self.reminders_offered_at = now

    def stop_reminders(self, kind):
        """Stop one kind of reminder (the link at the foot of each email)."""
        column = REMINDER_CHOICES[kind]
        User.update({getattr(User, column): False}).where(User.id == self.id).execute()
        setattr(self, column, False)


#: Each kind of reminder, and the column that holds the partner's choice.
REMINDER_CHOICES = {"reviews": "remind_reviews", "answers": "remind_answers"}


class KnownDevice(BaseModel):
    """A browser that has logged in to an account with its password.

    The browser keeps a random token in a cookie; only its hash is stored, one
    row per account that logged in there. A token is replaced at every login,
    so an old copy of the cookie stops counting. Login limits treat a known
    device by its own failures only (see ``LoginFailure.reserve``).
    """

    id = AutoField()
    user = ForeignKeyField(User, backref="known_devices", on_delete="CASCADE")
    token_hash = CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("token_hash", "user"), True),)

    @classmethod
    def find(cls, token, user, now, lifetime):
        """Return this browser's record for ``user`` if still valid, else None."""
        if not token or user is None:
            return None
        return (
            cls.select()
            .where(
                (cls.token_hash == token_hash(token))
                & (cls.user == user)
                & (cls.last_login_at > now - lifetime)
            )
            .first()
        )

    @classmethod
    def remember(cls, user, old_token, now, lifetime):
        """Record a login of ``user`` on this browser; return (record, new token).

        The browser's other accounts move to the new token with it.
        """
        token = new_token()
        with db.database.atomic():
            cls.delete().where((cls.user == user) & (cls.last_login_at <= now - lifetime)).execute()
            if old_token:
                (
                    cls.update(token_hash=token_hash(token))
                    .where(cls.token_hash == token_hash(old_token))
                    .execute()
                )
            record = cls.get_or_none((cls.token_hash == token_hash(token)) & (cls.user == user))
            if record is None:
                record = cls.create(user=user, token_hash=token_hash(token), last_login_at=now)
            else:
                record.last_login_at = now
                record.save()
        return record, token

    @classmethod
    def forget_all(cls, user):
        """Forget every browser of the user."""
        return cls.delete().where(cls.user == user).execute()


class DeviceSession(BaseModel):
    """One signed-in device. Deleting the row signs that device out."""

    id = AutoField()
    user = ForeignKeyField(User, backref="devices", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    remember = BooleanField(default=False)
    user_agent = CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    #: The ledger this device looks at; each device keeps its own.
    current_ledger = DeferredForeignKey("Ledger", null=True, on_delete="SET NULL")
    #: The browser this session runs in, as known for its logins.
    known_device = ForeignKeyField(KnownDevice, null=True, on_delete="SET NULL")

    # The raw token, known only during the request that presented it.
    token = None

    @classmethod
    def start(cls, user, remember, user_agent):
        """Create a device session and return it with its raw token set."""
        token = new_token()
        device = cls.create(
            user=user,
            token_hash=token_hash(token),
            remember=remember,
            user_agent=(user_agent or "")[:200],
        )
        device.token = token
        return device

    @classmethod
    def lookup(cls, token):
        """Return the device session (with its user) for a token, or None.

        One query, prepared (every signed-in request makes it): the device
        row joined to its account.
        """
        device = next(iter(_device_by_token(token_hash=token_hash(token))), None)
        if device is not None:
            device.token = token
        return device

    def expired(self, now, config):
        """Tell whether this session has outlived its idle or absolute limit."""
        if self.remember:
            return (
                now - self.last_seen_at > config["REMEMBER_IDLE"]
                or now - self.created_at > config["REMEMBER_ABSOLUTE"]
            )
        return now - self.created_at > config["SESSION_ABSOLUTE"]

    def touch(self, now):
        """Record activity, writing at most once a day; True if written."""
        if now - self.last_seen_at < SEEN_RESOLUTION:
            return False
        (DeviceSession.update(last_seen_at=now).where(DeviceSession.id == self.id).execute())
        self.last_seen_at = now
        return True

    @classmethod
    def for_user(cls, user):
        """Return a user's signed-in devices, most recently used first."""
        return cls.select().where(cls.user == user).order_by(cls.last_seen_at.desc(), cls.id.desc())

    def link(self, known_device):
        """Tie this session to the browser's known-device record."""
        (
            DeviceSession.update(known_device=known_device)
            .where(DeviceSession.id == self.id)
            .execute()
        )
        self.known_device = known_device

    def sign_out(self):
        """Sign this device out and forget it as a known device."""
        with db.database.atomic():
            self.delete_instance()
            if self.known_device_id is not None:
                KnownDevice.delete().where(KnownDevice.id == self.known_device_id).execute()

    @classmethod
    def end_all(cls, user):
        """Sign every device of the user out and forget them all as known."""
        with db.database.atomic():
            KnownDevice.forget_all(user)
            return cls.delete().where(cls.user == user).execute()


class LoginFailure(BaseModel):
    """An attempt with a password, kept only as long as the throttling window.

    Each attempt is counted before its password is checked, and the row is
    dropped again when the password was right. The email is stored hashed: an
    address that someone typed by mistake is not something to keep.
    """

    id = AutoField()
    email_hash = CharField(max_length=64, index=True)
    address = CharField(max_length=64, index=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)
    #: The known device the attempt came from, if any.
    known_device = ForeignKeyField(KnownDevice, null=True, on_delete="SET NULL")

    @classmethod
    def reserve(cls, email, address, now, window, limits, known_device=None):
        """Count one attempt unless a limit is reached; return its row, or None.

        Counting and checking are one step, so parallel attempts can't slip
        past a limit together. ``limits`` is (per email, per address); a
        limit of None is not checked. A known device is held only to its
        own failures for its account, under the per-email limit, so nobody
        else's failures lock it out.
        """
        per_email, per_address = limits
        email_hash = token_hash(email_key(email))
        keys = [f"address:{address}"]
        if per_email is not None or known_device is not None:
            keys.append(f"email:{email_hash}")
        with write_transaction():
            _lock(keys)
            cls.delete().where(cls.created_at < now - window).execute()
            since = now - window
            if known_device is not None:
                own = (
                    cls.select()
                    .where(
                        (cls.known_device == known_device)
                        & (cls.email_hash == email_hash)
                        & (cls.created_at >= since)
                    )
                    .count()
                )
                over = own >= per_email
            else:
                by_email, by_address = cls.counts(email_hash, address, since)
                over = (per_email is not None and by_email >= per_email) or (
                    per_address is not None and by_address >= per_address
                )
            if over:
                return None
            return cls.create(
                email_hash=email_hash, address=address, created_at=now, known_device=known_device
            )

    @classmethod
    def counts(cls, email_hash, address, since):
        """Return (attempts for this email hash, attempts from this address)."""
        row = (
            cls.select(
                fn.COUNT(cls.id).filter(cls.email_hash == email_hash),
                fn.COUNT(cls.id).filter(cls.address == address),
            )
            .where(
                (cls.created_at >= since)
                & ((cls.email_hash == email_hash) | (cls.address == address))
            )
            .tuples()
            .get()
        )
        return row[0] or 0, row[1] or 0

    def release(self):
        """Un-count an attempt whose password was right (or never checked)."""
        LoginFailure.delete().where(LoginFailure.id == self.id).execute()

    @classmethod
    def forget_email(cls, email):
        """Clear an email's failures after a successful login."""
        cls.delete().where(cls.email_hash == token_hash(email_key(email))).execute()


def _lock(keys):
    """Hold the throttling keys until the transaction ends.

    SQLite's write transaction already excludes every other writer;
    PostgreSQL takes an advisory lock per key, in one order (no deadlock).
    """
    if is_sqlite():
        return
    ids = sorted(
        {int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big", signed=True) for k in keys}
    )
    for lock_id in ids:
        db.database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (lock_id,))


class PasswordReset(BaseModel):
    """A single-use link to set a new password, valid for a short time."""

    id = AutoField()
    user = ForeignKeyField(User, backref="resets", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    @classmethod
    def issue(cls, user, lifetime):
        """Create a reset link for the user; return its raw token."""
        token, now = new_token(), utcnow()
        cls.create(
            user=user, token_hash=token_hash(token), created_at=now, expires_at=now + lifetime
        )
        return token

    @classmethod
    def usable(cls, token, now):
        """Return the unused, unexpired reset (with its user) for a token."""
        return (
            cls.select(cls, User)
            .join(User)
            .where(
                (cls.token_hash == token_hash(token))
                & cls.used_at.is_null()
                & (cls.expires_at > now)
            )
            .first()
        )

    def use(self, now):
        """Mark the link used; False if another request used it first."""
        return bool(
            PasswordReset.update(used_at=now)
            .where((PasswordReset.id == self.id) & PasswordReset.used_at.is_null())
            .execute()
        )


@prepared
def _device_by_token():
    return (
        DeviceSession.select(DeviceSession, User)
        .join(User)
        .where(DeviceSession.token_hash == slot("token_hash"))
        .limit(1)
    )
