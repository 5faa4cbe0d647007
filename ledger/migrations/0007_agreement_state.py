"""Each agreement's state, kept at every write, and the ledger's activity.

- agreementstate: one row per agreement, what the replay of its history
  gives (``ledger.consent``); waiting: one row per agreement and partner whose
  answer it waits for. Both are built here for existing ledgers, with the same
  replay the app runs at every write.
- activity: one row per revision and per answer (not a proposal's own
  acceptance), by ledger and time, so the newest few are read through an
  index instead of sorting a ledger's whole history.

New tables only: the agreement table is never rebuilt (a rebuild on SQLite
cascades away its revisions).
"""

from datetime import UTC, datetime

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
)

from ledger.consent import derive

BATCH = 500


def up(migrator, db):
    def table(name, **fields):
        meta = type("Meta", (), {"database": db, "table_name": name, **fields.pop("meta", {})})
        return type(name.title(), (Model,), {**fields, "Meta": meta})

    UserAccount = table("user_account", id=AutoField())
    Ledger = table("ledger", id=AutoField())
    Agreement = table("agreement", id=AutoField(), ledger=ForeignKeyField(Ledger), kind=CharField())
    Revision = table(
        "revision",
        id=AutoField(),
        agreement=ForeignKeyField(Agreement),
        number=IntegerField(),
        action=CharField(),
        author=ForeignKeyField(UserAccount),
        created_at=DateTimeField(),
    )
    Consent = table(
        "consent",
        id=AutoField(),
        agreement=ForeignKeyField(Agreement),
        revision=ForeignKeyField(Revision),
        user=ForeignKeyField(UserAccount),
        decision=CharField(),
        seq=IntegerField(),
        created_at=DateTimeField(),
    )
    Membership = table(
        "membership",
        id=AutoField(),
        ledger=ForeignKeyField(Ledger),
        user=ForeignKeyField(UserAccount),
        joined_at=DateTimeField(),
        left_at=DateTimeField(null=True),
    )
    StoredState = table(
        "agreementstate",
        agreement=ForeignKeyField(Agreement, primary_key=True, on_delete="CASCADE"),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE"),
        kind=CharField(max_length=20),
        label=CharField(max_length=30),
        current=ForeignKeyField(Revision, on_delete="CASCADE"),
        latest_number=IntegerField(),
        in_force=ForeignKeyField(Revision, null=True, on_delete="CASCADE"),
        in_force_since=DateTimeField(null=True),
        pending=ForeignKeyField(Revision, null=True, on_delete="CASCADE"),
        change_requested=BooleanField(default=False),
        retired_at=DateTimeField(null=True),
        updated_at=DateTimeField(),
        meta={"indexes": ((("ledger", "kind"), False),)},
    )
    Waiting = table(
        "waiting",
        agreement=ForeignKeyField(Agreement, on_delete="CASCADE"),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE"),
        user=ForeignKeyField(UserAccount, on_delete="CASCADE"),
        meta={
            "primary_key": CompositeKey("agreement", "user"),
            "indexes": ((("user", "ledger"), False),),
        },
    )
    Activity = table(
        "activity",
        id=AutoField(),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE", index=False),
        created_at=DateTimeField(),
        revision=ForeignKeyField(Revision, null=True, on_delete="CASCADE"),
        consent=ForeignKeyField(Consent, null=True, on_delete="CASCADE"),
        meta={"indexes": ((("ledger", "created_at"), False),)},
    )
    db.create_tables([StoredState, Waiting, Activity])

    now = datetime.now(UTC).replace(tzinfo=None)  # stored times are naive UTC
    last = 0
    while True:
        batch = list(
            Agreement.select().where(Agreement.id > last).order_by(Agreement.id).limit(BATCH)
        )
        if not batch:
            break
        last = batch[-1].id
        ids = [a.id for a in batch]
        revisions, consents = {i: [] for i in ids}, {i: [] for i in ids}
        for revision in Revision.select().where(Revision.agreement.in_(ids)):
            revisions[revision.agreement_id].append(revision)
        for consent in Consent.select().where(Consent.agreement.in_(ids)):
            consents[consent.agreement_id].append(consent)
        ledger_ids = {a.ledger_id for a in batch}
        memberships = {i: [] for i in ledger_ids}
        for m in Membership.select().where(Membership.ledger.in_(list(ledger_ids))):
            memberships[m.ledger_id].append(m)
        states, waiting, activity = [], [], []
        for agreement in batch:
            if not revisions[agreement.id]:
                continue
            own = memberships[agreement.ledger_id]
            state = derive(revisions[agreement.id], consents[agreement.id], own, now)
            values, waits = state.stored([m.user_id for m in own if m.left_at is None])
            states.append(
                {
                    "agreement": agreement.id,
                    "ledger": agreement.ledger_id,
                    "kind": agreement.kind,
                    "updated_at": now,
                    **values,
                }
            )
            waiting += [
                {"agreement": agreement.id, "ledger": agreement.ledger_id, "user": u} for u in waits
            ]
            by_id = {r.id: r for r in revisions[agreement.id]}
            activity += [
                {
                    "ledger": agreement.ledger_id,
                    "created_at": r.created_at,
                    "revision": r.id,
                    "consent": None,
                }
                for r in revisions[agreement.id]
            ]
            activity += [
                {
                    "ledger": agreement.ledger_id,
                    "created_at": c.created_at,
                    "revision": None,
                    "consent": c.id,
                }
                for c in consents[agreement.id]
                if not (c.seq == 1 and c.user_id == by_id[c.revision_id].author_id)
            ]
        for model, rows in ((StoredState, states), (Waiting, waiting), (Activity, activity)):
            for start in range(0, len(rows), 100):
                model.insert_many(rows[start : start + 100]).execute()
