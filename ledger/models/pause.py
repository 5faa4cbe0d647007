"""Pauses that were noted, cooling-off, and topics parked for a session."""

import datetime
from collections import namedtuple

from peewee import AutoField, CharField, ForeignKeyField, IntegerField, TextField

from ..db import UTCDateTimeField, lock, prepared, slot, utcnow, write_transaction
from .accounts import User
from .agreements import Agreement, StoredState
from .base import BaseModel
from .ledgers import Ledger, Membership


class PauseLog(BaseModel):
    """An optional note that a pause was called, for the next review."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, backref="pauses", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    #: The pause signal that was used, when the pause was noted from it.
    agreement = ForeignKeyField(Agreement, null=True, backref="+", on_delete="SET NULL")
    started_at = UTCDateTimeField()
    resumed_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    #: Set when every partner agreed to end this pause's cooling-off early.
    cooling_ended_at = UTCDateTimeField(null=True)

    class Meta:
        # A ledger's latest pause without sorting its pause log (migration 0013).
        indexes = ((("ledger", "started_at"), False),)

    #: A pause comes back to the conversation within a day at the latest.
    LONGEST_HOURS = 24

    @classmethod
    def latest(cls, ledger_id):
        """A ledger's latest noted pause, or None: one prepared query (every
        page of a ledger with cooling-off asks)."""
        return next(iter(_latest_pause(ledger=ledger_id)), None)

    @classmethod
    def maybe_running(cls, ledger_ids, now):
        """Noted pauses of these ledgers that began within the last day and
        have not been marked as resumed, newest first, with who noted them."""
        since = now - datetime.timedelta(hours=cls.LONGEST_HOURS)
        return (
            cls.select(cls, User)
            .join(User)
            .where(cls.ledger.in_(ledger_ids) & (cls.started_at > since) & cls.resumed_at.is_null())
            .order_by(cls.started_at.desc())
        )

    @classmethod
    def maybe_running_for(cls, user, now):
        """The same, in every ledger ``user`` is a partner in: one prepared query."""
        since = now - datetime.timedelta(hours=cls.LONGEST_HOURS)
        found = _maybe_running_for(user=getattr(user, "id", user), since=since)
        # A day of pauses at most: sorted here, where no index spans ledgers.
        return sorted(found, key=lambda p: (p.started_at, p.id), reverse=True)

    @classmethod
    def note(cls, ledger, user, agreement, started_at, now):
        """Note a pause unless one is running in the ledger; return (pause, new).

        Both partners may reach for their phones at once: the second one gets
        the pause already noted, never a second record (which would also move
        cooling-off).
        """
        with write_transaction():
            lock(Ledger.select().where(Ledger.id == ledger.id)).get()
            for pause in cls.maybe_running([ledger.id], now):
                signal = None
                if pause.agreement_id is not None:
                    signal = Agreement.get_by_id(pause.agreement_id).fields_in_force()
                if RunningPause.of(pause, signal, now) is not None:
                    return pause, False
            pause = cls.create(
                ledger=ledger, user=user, agreement=agreement, started_at=min(started_at, now)
            )
        return pause, True

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
    if latest is None or latest.cooling_ended_at is not None:
        return None
    until = latest.started_at + ledger.cooling_off_delta
    return until if until > now else None


class CoolingOffRequest(BaseModel):
    """A partner's request about cooling-off, carried out once every partner
    agreed. Kinds: "end" (end the cooling-off running now; it stays on for
    the next noted pause), "off" (turn the feature off) and "hours" (change
    its length to ``hours``). One open request per kind and ledger."""

    id = AutoField()
    ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
    requested_by = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    #: "agreed", "withdrawn" or "lapsed" (nothing left to do)
    outcome = CharField(max_length=10, null=True)
    kind = CharField(max_length=10, default="off")
    hours = IntegerField(null=True)

    KINDS = ("end", "off", "hours")

    @classmethod
    def open_in(cls, ledger_id):
        """The open requests of a ledger, by kind."""
        return {
            r.kind: r
            for r in cls.select().where((cls.ledger == ledger_id) & cls.resolved_at.is_null())
        }

    @classmethod
    def agree(cls, ledger, user, kind, hours, now):
        """Ask for a change to cooling-off, or agree to the open request of that
        kind; carry it out once every partner agreed. Return the request, or
        None when there was nothing to do (it lapsed).

        Asking for a different length replaces the open request for a length.
        """
        with write_transaction():
            ledger = lock(Ledger.select().where(Ledger.id == ledger.id)).get()
            request = cls.open_in(ledger.id).get(kind)
            if request is not None and kind == "hours" and request.hours != hours:
                request.resolve("withdrawn", now)
                request = None
            if not request_still_makes_sense(ledger, kind, hours, now):
                if request is not None:
                    request.resolve("lapsed", now)
                return None
            if request is None:
                request = cls.create(
                    ledger=ledger, requested_by=user, kind=kind, hours=hours, created_at=now
                )
            CoolingOffConfirmation.insert(request=request, user=user).on_conflict_ignore().execute()
            if not request.waiting_for():
                request.carry_out(ledger, now)
                request.resolve("agreed", now)
        return request

    @classmethod
    def turn_on(cls, ledger, hours, now):
        """Any partner turns cooling-off on, at once: it only protects."""
        with write_transaction():
            Ledger.update(cooling_off=True, cooling_off_hours=hours).where(
                Ledger.id == ledger.id
            ).execute()
            for request in cls.open_in(ledger.id).values():
                request.resolve("lapsed", now)

    def carry_out(self, ledger, now):
        if self.kind == "off":
            Ledger.update(cooling_off=False).where(Ledger.id == ledger.id).execute()
            for request in CoolingOffRequest.open_in(ledger.id).values():
                if request.id != self.id:
                    request.resolve("lapsed", now)
        elif self.kind == "hours":
            Ledger.update(cooling_off_hours=self.hours).where(Ledger.id == ledger.id).execute()
        else:
            latest = PauseLog.latest(ledger.id)
            PauseLog.update(cooling_ended_at=now).where(PauseLog.id == latest.id).execute()

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


def request_still_makes_sense(ledger, kind, hours, now):
    """False when a request about cooling-off has nothing left to change."""
    if not ledger.cooling_off:
        return False
    if kind == "end":
        return cooling_until(ledger, now) is not None
    if kind == "hours":
        return hours != ledger.cooling_off_hours
    return True


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


def pause_page_data(user, current_ledger_id):
    """Everything the pause page shows, in three queries, for every ledger.

    1. The ledgers the user is a partner in (this is also the access check).
    2. The pause signals in force in those ledgers: the columns shown.
    3. The noted pauses of those ledgers that may still be running.
    Returns [PauseLedger], the current ledger first, then the others by name.
    """
    ledgers = {ledger.id: PauseLedger(ledger) for ledger in Ledger.for_user(user)}
    if not ledgers:
        return []
    # Each query reads the memberships again: a ledger joined in between
    # is left for the next visit.
    for ledger_id, agreement_id, uuid, fields in StoredState.signals_of(user):
        if ledger_id in ledgers:
            ledgers[ledger_id].signals.append((Signal(agreement_id, uuid), fields))
    for pause in PauseLog.maybe_running_for(user, utcnow()):
        if pause.ledger_id in ledgers:
            ledgers[pause.ledger_id].pauses.append(pause)
    return sorted(
        ledgers.values(),
        key=lambda pl: (pl.ledger.id != current_ledger_id, pl.ledger.name, pl.ledger.id),
    )


#: A pause signal's agreement, as the pause page names it.
Signal = namedtuple("Signal", "id uuid")


class PauseLedger:
    """One ledger's part of the pause page: its pause signals in force, and
    its noted pauses that may still be running."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.signals = []  # (agreement, fields in force), oldest first
        self.pauses = []

    def running(self, now):
        """The noted pause running now, as a RunningPause, or None."""
        fields = {agreement.id: f for agreement, f in self.signals}
        for pause in self.pauses:
            running = RunningPause.of(pause, fields.get(pause.agreement_id), now)
            if running is not None:
                return running
        return None


class RunningPause:
    """A noted pause that has not come to its way back yet."""

    def __init__(self, pause, signal, ends_at, back_by):
        self.pause, self.signal = pause, signal
        self.ends_at, self.back_by = ends_at, back_by

    @classmethod
    def of(cls, pause, signal, now):
        """Return the pause as running, or None when its way-back time has passed.

        Without its signal (it was noted without one, or the signal was
        retired since), a pause runs for 20 minutes and comes back within two
        hours, like the pause signal Ledger offers as a starting point.
        """
        minimum = int((signal or {}).get("minimum_minutes") or 20)
        hours = int((signal or {}).get("way_back_hours") or 2)
        start = pause.started_at
        back_by = start + datetime.timedelta(hours=min(hours, PauseLog.LONGEST_HOURS))
        ends_at = min(start + datetime.timedelta(minutes=minimum), back_by)
        if pause.resumed_at is not None or back_by <= now:
            return None
        return cls(pause, signal, ends_at, back_by)

    def as_json(self):
        def ms(value):
            return int(value.timestamp() * 1000)

        return {
            "id": self.pause.id,
            "ledger": self.pause.ledger_id,
            "by": self.pause.user.display_name,
            "signal": (self.signal or {}).get("signal", ""),
            "agreement": self.pause.agreement_id,
            "started_ms": ms(self.pause.started_at),
            "ends_ms": ms(self.ends_at),
            "back_ms": ms(self.back_by),
        }


@prepared
def _maybe_running_for():
    mine = Membership.select(Membership.ledger).where(
        (Membership.user == slot("user")) & Membership.left_at.is_null()
    )
    return (
        PauseLog.select(PauseLog, User)
        .join(User)
        .where(
            PauseLog.ledger.in_(mine)
            & (PauseLog.started_at > slot("since", PauseLog.started_at))
            & PauseLog.resumed_at.is_null()
        )
    )


@prepared
def _latest_pause():
    return (
        PauseLog.select()
        .where(PauseLog.ledger == slot("ledger"))
        .order_by(PauseLog.started_at.desc())
        .limit(1)
    )
