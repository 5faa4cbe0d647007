"""A large, realistic Ledger database, built fast for the benchmark.

Rows are written in bulk (one prepared INSERT per table, many rows at a time,
in transactions) with ids chosen here, so nothing is read back while
building. Every agreement gets a real hash chain (``ledger.hashchain``, in
the order its rows were written) and the stored state that the app's own
replay gives (``ledger.consent.derive``, then ``stored`` and
``review_stored``, as ``refresh_states`` writes them): ``flask --app ledger
verify`` passes on the result, and pages read exactly what they would read in
production.

Besides the other ledgers it holds the two couples whose pages are measured,
the same at every size:

- the long-lived couple (Sam and Alex): 300 agreements with 20 revisions
  each, 6,000 in all, two years of history, pauses noted and topics parked;
- the new couple (Nia and Ola): 300 agreements with one revision each.

``small=True`` shrinks only the other ledgers, to 1 %.
"""

import argparse
import dataclasses
import json
import random
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

if __name__ == "__main__":  # run as a script: this checkout's ledger package first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.consent import derive
from ledger.db import db, utcnow
from ledger.forms.agreements import AREAS, WHERE
from ledger.hashchain import canonical_json, consent_payload, content_hash, link, revision_payload
from ledger.models import (
    Activity,
    AgendaItem,
    Agreement,
    Consent,
    Draft,
    Ledger,
    Membership,
    PauseLog,
    Revision,
    StoredState,
    User,
    Waiting,
)

#: The other ledgers at full size; ``small`` takes 1 % of each.
FULL = {"ledgers": 2_000, "users": 4_200, "agreements": 60_000, "revisions": 600_000}
#: The measured couples: agreements, and revisions per agreement.
MEASURED_AGREEMENTS = 300
LONG_REVISIONS = 20
#: Agreements of the long-lived couple that the write benchmark changes.
WRITE_AGREEMENTS = 64
#: Every account's password (its hash is computed once, with the real method).
PASSWORD = "quiet harbour lantern 42"  # noqa: S105 - a benchmark's made-up account

KINDS = ("general", "topic", "digital_boundary", "pause_signal")
KIND_WEIGHTS = (40, 25, 25, 10)
SENTENCES = (
    "we both agree to talk about it calmly after dinner and not in front of the "
    "children each of us may ask for a pause when it gets too much money plans "
    "weekends family phones visits holidays chores sleep work friends time care "
    "check in on sunday evening for half an hour say what went well and what was "
    "hard without blame listen first then answer ask before sharing photos online"
)
WORDS = SENTENCES.split()
BATCH = 500
#: Every ledger's calendar (review dates are counted on it).
ZONE = "Europe/Berlin"


@dataclass
class Couple:
    """A measured couple: where its pages are and who signs in."""

    ledger_id: int
    emails: tuple
    #: An agreement in force with no change pending (its page, history, diff).
    agreement_id: int
    latest_number: int
    #: Agreements in force that the write benchmark proposes changes to.
    writes: list = field(default_factory=list)
    #: (agreement id, from, to): two 8,000-character texts differing everywhere.
    worst_diff: tuple = None


@dataclass
class Dataset:
    long: Couple
    new: Couple
    counts: dict
    seconds: float


class Rows:
    """Rows waiting to be inserted, table by table, with the next id of each."""

    #: Parents before children, so every foreign key points at a written row.
    ORDER = (User, Ledger, Membership, Agreement, Revision, Consent, Activity, StoredState, Waiting)

    def __init__(self):
        self.pending = defaultdict(list)
        self.next_id = defaultdict(lambda: 1)
        self.counts = defaultdict(int)

    def id(self, model):
        value = self.next_id[model]
        self.next_id[model] += 1
        return value

    def add(self, model, row):
        self.pending[model].append(row)
        self.counts[model.__name__] += 1

    def maybe_flush(self):
        """Write what is waiting once there is a good batch (between agreements)."""
        if len(self.pending[Consent]) >= 20 * BATCH:
            self.flush()

    def flush(self):
        with db.database.atomic():
            for model in self.ORDER + tuple(m for m in self.pending if m not in self.ORDER):
                insert(model, self.pending.pop(model, []))


def insert(model, rows):
    """Insert ``rows`` (dicts by field name) with one prepared statement.

    peewee's insert_many writes the SQL out value by value, which at millions
    of rows takes longer than everything else together. Each value still goes
    through its field's ``db_value`` and missing ones get the field's
    default, exactly as peewee would write them.
    """
    if not rows:
        return
    fields = model._meta.sorted_fields
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    table, marks = model._meta.table_name, ", ".join("?" * len(fields))
    sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'  # noqa: S608 - names, not values
    plan = [
        (f.name, f.db_value, f.default if callable(f.default) else (lambda d=f.default: d))
        for f in fields
    ]
    values = [
        tuple(convert(row[name] if name in row else default()) for name, convert, default in plan)
        for row in rows
    ]
    for start in range(0, len(values), 10 * BATCH):
        db.database.cursor().executemany(sql, values[start : start + 10 * BATCH])


class Builder:
    def __init__(self, seed, now, password_hash):
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=730)
        self.password_hash = password_hash
        self.rows = Rows()
        self.user_uuids = {}
        #: ledger id -> its memberships, as the replay reads them.
        self.memberships = {}

    # Identity and words ------------------------------------------------------

    def uuid(self):
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def words(self, low, high):
        count = self.rng.randint(low, high)
        text = " ".join(self.rng.choice(WORDS) for _ in range(count))
        return text[:1].upper() + text[1:] + "."

    def content(self, kind, n):
        rng = self.rng
        if kind == "general":
            return {"title": f"{self.words(2, 5)[:-1]} ({n})", "text": self.words(30, 220)}
        if kind == "topic":
            return {
                "topic": f"{self.words(1, 3)[:-1]} ({n})",
                "where": rng.choice(list(WHERE)),
                "guidance": self.words(10, 120),
            }
        if kind == "digital_boundary":
            return {
                "area": rng.choice([a for a in AREAS if a != "other"]),
                "area_other": "",
                "rule": self.words(10, 80),
                "exceptions": self.words(3, 30) if rng.random() < 0.5 else "",
            }
        return {
            "signal": f"{self.words(1, 3)[:-1]} ({n})",
            "meaning": self.words(8, 40),
            "who_may_call": "Any of us",
            "minimum_minutes": rng.choice((20, 30, 45)),
            "grounding": self.words(8, 60),
            "way_back_who": "The one who called the pause",
            "way_back_hours": rng.choice((1, 2, 3)),
        }

    def edited(self, content):
        """The next version of some content: a few words changed in one field."""
        content = dict(content)
        names = [k for k, v in content.items() if isinstance(v, str) and len(v) > 20]
        if names:
            name = self.rng.choice(names)
            words = content[name].split(" ")
            for _ in range(self.rng.randint(1, 4)):
                words[self.rng.randrange(len(words))] = self.rng.choice(WORDS)
            content[name] = " ".join(words)
        return content

    # People and ledgers ------------------------------------------------------

    def user(self, name, email):
        user_id = self.rows.id(User)
        self.user_uuids[user_id] = self.uuid()
        self.rows.add(
            User,
            {
                "id": user_id,
                "uuid": self.user_uuids[user_id],
                "email": email,
                "email_key": email.lower(),
                "display_name": name,
                "password_hash": self.password_hash,
                "time_zone": "Europe/Berlin",
                "created_at": self.start,
            },
        )
        return user_id

    def ledger(self, name, partners, created_at):
        ledger_id = self.rows.id(Ledger)
        self.rows.add(
            Ledger,
            {
                "id": ledger_id,
                "uuid": self.uuid(),
                "name": name,
                "time_zone": ZONE,
                "created_by": partners[0],
                "created_at": created_at,
            },
        )
        self.memberships[ledger_id] = []
        for user_id in partners:
            row = {
                "id": self.rows.id(Membership),
                "ledger": ledger_id,
                "user": user_id,
                "joined_at": created_at,
            }
            self.rows.add(Membership, row)
            self.memberships[ledger_id].append(
                SimpleNamespace(id=row["id"], user_id=user_id, joined_at=created_at, left_at=None)
            )
        return ledger_id

    # One agreement's history -------------------------------------------------

    def agreement(self, ledger_id, partners, kind, begins, revisions, outcome, contents=None):
        """Write an agreement with ``revisions`` revisions between ``begins``
        and now, ending as ``outcome``: "in force", "pending", "change",
        "withdrawn" or "retired". Returns (agreement id, last revision number)."""
        rng = self.rng
        agreement_id, agreement_uuid = self.rows.id(Agreement), self.uuid()
        head, chain = "", 0
        step = (self.now - timedelta(hours=1) - begins) / revisions
        content = self.content(kind, agreement_id)
        in_force = False
        written = {Revision: [], Consent: []}  # as the replay reads them

        def write(model, row, payload):
            nonlocal head, chain
            chain += 1
            head = link(head, payload)
            row["chain_seq"], row["chain_hash"] = chain, head
            self.rows.add(model, row)
            written[model].append(Replayed(row))

        for number in range(1, revisions + 1):
            last = number == revisions
            at = begins + step * (number - 1)
            if contents is not None:
                content = contents[number - 1]
            elif number > 1:
                content = self.edited(content)
            action = "retire" if last and outcome == "retired" and in_force else "propose"
            author = rng.choice(partners)
            revision = SimpleNamespace(
                id=self.rows.id(Revision),
                uuid=self.uuid(),
                number=number,
                action=action,
                content=canonical_json(content),
                content_hash=content_hash(content),
                reason="" if rng.random() < 0.6 else self.words(3, 15),
                created_at=at,
            )
            write(
                Revision,
                {**vars(revision), "agreement": agreement_id, "author": author},
                revision_payload(revision, agreement_uuid, self.user_uuids[author]),
            )
            # How this revision ends: everyone accepts, unless it is the last
            # one with another outcome, or an earlier one that was superseded.
            ending = outcome if last else ("superseded" if rng.random() < 0.1 else "in force")
            others = [p for p in partners if p != author]
            answers = [(author, "accept", 1)]
            if ending in ("in force", "retired"):
                answers += [(p, "concern" if rng.random() < 0.05 else "accept", 1) for p in others]
            elif ending == "pending":
                answered = others[: rng.randrange(len(others))]
                answers += [(p, "accept", 1) for p in answered]
            elif ending in ("change", "superseded"):
                answers += [(others[0], "change", 1)]
            elif ending == "withdrawn":
                answers += [(author, "retract", 2)]
            moment = at
            for user_id, decision, seq in answers:
                moment += min(step / 4, timedelta(hours=rng.uniform(0.01, 6))) / len(answers)
                consent = SimpleNamespace(
                    uuid=self.uuid(),
                    decision=decision,
                    note=self.words(4, 20) if decision in ("concern", "change") else "",
                    content_hash=revision.content_hash,
                    seq=seq,
                    created_at=moment if seq > 1 or user_id != author else at,
                )
                consent_id = self.rows.id(Consent)
                write(
                    Consent,
                    {
                        **vars(consent),
                        "id": consent_id,
                        "agreement": agreement_id,
                        "revision": revision.id,
                        "user": user_id,
                    },
                    consent_payload(
                        consent, agreement_uuid, self.user_uuids[user_id], revision.uuid
                    ),
                )
                if not (seq == 1 and user_id == author):  # as Consent.is_news
                    self.rows.add(
                        Activity,
                        {
                            "id": self.rows.id(Activity),
                            "ledger": ledger_id,
                            "created_at": consent.created_at,
                            "revision": None,
                            "consent": consent_id,
                        },
                    )
            self.rows.add(
                Activity,
                {
                    "id": self.rows.id(Activity),
                    "ledger": ledger_id,
                    "created_at": at,
                    "revision": revision.id,
                    "consent": None,
                },
            )
            in_force = in_force or ending in ("in force", "retired")
        self.rows.add(
            Agreement,
            {
                "id": agreement_id,
                "uuid": agreement_uuid,
                "ledger": ledger_id,
                "kind": kind,
                "created_by": partners[0],
                "created_at": begins,
                "chain_head": head,
                "chain_length": chain,
            },
        )
        self.store_state(ledger_id, agreement_id, kind, written[Revision], written[Consent])
        self.rows.maybe_flush()
        return agreement_id, revisions

    def store_state(self, ledger_id, agreement_id, kind, revisions, consents):
        """The agreement's stored state and whom it waits for, as the app's
        replay gives them (what ``refresh_states`` writes at every write)."""
        memberships = self.memberships[ledger_id]
        state = derive(revisions, consents, memberships, self.now)
        values, waiting = state.stored([m.user_id for m in memberships if m.left_at is None])
        values.update(state.review_stored(ZONE))
        self.rows.add(
            StoredState,
            {"agreement": agreement_id, "ledger": ledger_id, "kind": kind, "updated_at": self.now}
            | values,
        )
        for user_id in waiting:
            self.rows.add(
                Waiting, {"agreement": agreement_id, "ledger": ledger_id, "user": user_id}
            )

    def outcome(self, revisions):
        r = self.rng.random()
        if r < 0.72 or revisions == 1 and r < 0.85:
            return "in force"
        if r < 0.82:
            return "pending"
        if r < 0.87:
            return "change"
        if r < 0.93:
            return "withdrawn"
        return "retired" if revisions > 1 else "pending"

    def extras(self, ledger_id, partners, pauses, topics, drafts, signal=None):
        """Noted pauses (all over), parked topics and private drafts."""
        rng = self.rng
        for _ in range(pauses):
            started = self.start + timedelta(days=rng.uniform(0, 720))
            self.rows.add(
                PauseLog,
                {
                    "id": self.rows.id(PauseLog),
                    "ledger": ledger_id,
                    "user": rng.choice(partners),
                    "agreement": signal,
                    "started_at": started,
                    "resumed_at": started + timedelta(minutes=rng.randint(20, 120)),
                    "created_at": started,
                },
            )
        for n in range(topics):
            created = self.start + timedelta(days=rng.uniform(0, 725))
            discussed = rng.random() < 0.7
            self.rows.add(
                AgendaItem,
                {
                    "id": self.rows.id(AgendaItem),
                    "ledger": ledger_id,
                    "author": rng.choice(partners),
                    "topic": f"{self.words(1, 4)[:-1]} ({n})"[:120],
                    "note": self.words(1, 25),
                    "created_at": created,
                    "discussed_at": created + timedelta(days=3) if discussed else None,
                    "discussed_by": rng.choice(partners) if discussed else None,
                },
            )
        for _ in range(drafts):
            self.rows.add(
                Draft,
                {
                    "id": self.rows.id(Draft),
                    "ledger": ledger_id,
                    "author": rng.choice(partners),
                    "kind": "general",
                    "content": canonical_json(self.content("general", 0)),
                    "created_at": self.now - timedelta(days=rng.uniform(1, 60)),
                    "updated_at": self.now - timedelta(hours=rng.uniform(1, 24)),
                },
            )

    # The couples and the crowd -----------------------------------------------

    def long_lived(self):
        """Sam and Alex: 300 agreements of 20 revisions, two years deep."""
        sam = self.user("Sam", "sam@long.example")
        alex = self.user("Alex", "alex@long.example")
        partners = [sam, alex]
        ledger_id = self.ledger("Sam & Alex", partners, self.start)
        begins = self.start + timedelta(hours=1)
        measured, _ = self.agreement(
            ledger_id, partners, "general", begins, LONG_REVISIONS, "in force"
        )
        writes = [
            self.agreement(ledger_id, partners, "general", begins, LONG_REVISIONS, "in force")[0]
            for _ in range(WRITE_AGREEMENTS)
        ]
        first = self.content("general", 0)
        contents = [first]
        for _ in range(LONG_REVISIONS - 3):
            contents.append(self.edited(contents[-1]))
        old, new = worst_texts(self.rng)
        contents += [{**first, "text": old}, {**first, "text": new}]
        worst, _ = self.agreement(
            ledger_id, partners, "general", begins, LONG_REVISIONS, "in force", contents
        )
        signals = [
            self.agreement(ledger_id, partners, "pause_signal", begins, LONG_REVISIONS, "in force")[
                0
            ]
            for _ in range(3)
        ]
        made = 2 + WRITE_AGREEMENTS + len(signals)
        for _ in range(MEASURED_AGREEMENTS - made):
            kind = self.rng.choices(KINDS, KIND_WEIGHTS)[0]
            began = begins + timedelta(days=self.rng.uniform(0, 300))
            outcome = self.outcome(LONG_REVISIONS)
            self.agreement(ledger_id, partners, kind, began, LONG_REVISIONS, outcome)
        self.extras(ledger_id, partners, pauses=40, topics=30, drafts=3, signal=signals[0])
        return Couple(
            ledger_id,
            ("sam@long.example", "alex@long.example"),
            measured,
            LONG_REVISIONS,
            writes,
            (worst, LONG_REVISIONS - 1, LONG_REVISIONS),
        )

    def new_couple(self):
        """Nia and Ola: 300 agreements, one revision each, made this month."""
        nia = self.user("Nia", "nia@new.example")
        ola = self.user("Ola", "ola@new.example")
        partners = [nia, ola]
        begins = self.now - timedelta(days=30)
        ledger_id = self.ledger("Nia & Ola", partners, begins)
        measured, _ = self.agreement(ledger_id, partners, "general", begins, 1, "in force")
        for n in range(MEASURED_AGREEMENTS - 1):
            kind = "pause_signal" if n < 3 else self.rng.choices(KINDS, KIND_WEIGHTS)[0]
            outcome = "in force" if n < 3 else self.outcome(1)
            self.agreement(ledger_id, partners, kind, begins, 1, outcome)
        self.extras(ledger_id, partners, pauses=1, topics=2, drafts=1)
        return Couple(ledger_id, ("nia@new.example", "ola@new.example"), measured, 1)

    def crowd(self, size):
        """The other ledgers: two, three or four partners each, some people in two."""
        rng = self.rng
        users = [self.user(f"Person {n}", f"person{n}@crowd.example") for n in range(size["users"])]
        shape = [
            4 if r < 0.05 else 3 if r < 0.15 else 2
            for r in (rng.random() for _ in range(size["ledgers"]))
        ]
        fresh, used = iter(users), []
        # Memberships beyond one per person go to people already in a ledger.
        second = max(0, sum(shape) - len(users))
        chance = second / sum(shape)
        per_ledger = size["agreements"] / size["ledgers"]
        per_agreement = size["revisions"] / size["agreements"]
        for n, count in enumerate(shape):
            partners = []
            while len(partners) < count:
                others = [u for u in used[-200:] if u not in partners]
                person = None
                if second and others and rng.random() < chance:
                    person, second = rng.choice(others), second - 1
                person = person or next(fresh, None) or rng.choice(others)
                partners.append(person)
            used += partners
            created = self.start + timedelta(days=rng.uniform(0, 600))
            ledger_id = self.ledger(f"Ledger {n}", partners, created)
            for _ in range(max(1, round(rng.uniform(0.2, 1.8) * per_ledger))):
                kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
                revisions = max(1, min(60, round(rng.expovariate(1 / (per_agreement - 1))) + 1))
                began = created + timedelta(days=rng.uniform(0, 60))
                self.agreement(ledger_id, partners, kind, began, revisions, self.outcome(revisions))
            self.extras(
                ledger_id,
                partners,
                pauses=rng.randint(0, 6),
                topics=rng.randint(0, 5),
                drafts=rng.randint(0, 2),
            )


class Replayed:
    """A revision or answer as the replay reads it: its row's values, with
    foreign keys as ``<name>_id`` (cheaper than a model instance, and
    building millions of those is most of the time otherwise)."""

    def __init__(self, row):
        for name, value in row.items():
            setattr(
                self,
                f"{name}_id" if name in ("agreement", "revision", "author", "user") else name,
                value,
            )

    @property
    def fields(self):
        return Revision.fields.fget(self)


def worst_texts(rng):
    """Two 8,000-character texts that differ at every word (spaces alike)."""
    old = " ".join(f"{rng.choice(WORDS)}{n}" for n in range(2000))[:8000]
    new = " ".join(f"{rng.choice(WORDS).upper()}{n}" for n in range(2000))[:8000]
    return old, new


def build(small=False, seed=20260, password_hash=None):
    """Fill the bound, empty database; return a Dataset. Call inside an app context."""
    started = utcnow()
    size = {k: max(1, v // 100) for k, v in FULL.items()} if small else FULL
    builder = Builder(seed, utcnow(), password_hash)
    with db.database.connection_context():
        # Building is a batch job: a crash means building again, not lost data.
        db.database.execute_sql("PRAGMA synchronous = OFF")
        long, new = builder.long_lived(), builder.new_couple()
        builder.crowd(size)
        builder.rows.flush()
        db.database.execute_sql("PRAGMA synchronous = FULL")
        db.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = dict(builder.rows.counts)
    return Dataset(long, new, counts, (utcnow() - started).total_seconds())


def main():
    """Build into the database of LEDGER_DATABASE_URL (empty); print the Dataset as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--small", action="store_true", help="the other ledgers at 1 %%")
    options = parser.parse_args()

    from ledger import create_app
    from ledger.passwords import hash_password
    from ledger.schema import upgrade

    app = create_app()
    with app.app_context():
        with db.database.connection_context():
            upgrade(db.database)
        # Every account's hash, made once with the app's own (real) method.
        built = build(options.small, password_hash=hash_password(PASSWORD))
    print(json.dumps(dataclasses.asdict(built)))


if __name__ == "__main__":
    main()
