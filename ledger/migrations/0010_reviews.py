"""Reviews: revisiting agreements on a rhythm, and calendar feeds.

- reaffirmation: a review kept an agreement as it is; append-only (the same
  triggers as revisions and answers) and a link of the agreement's hash chain.
- agreementstate.reviewed_at and .next_review: when what is in force came
  into force or was last reaffirmed, and the date (in the ledger's zone) it
  is next revisited. Filled here for every agreement in force: content
  written before cadences existed is reviewed quarterly.
- review, reviewitem, reviewanswer: the reviews, their agreements and each
  partner's answers.
- calendarfeed: the hash of each partner's private calendar feed token.

Nullable columns added with plain ALTER TABLE (no table is rebuilt, so no
child row can cascade away); new tables otherwise.
"""

import json
from datetime import UTC

from peewee import (
    AutoField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    UUIDField,
)

from ledger import immutability
from ledger.cadence import next_review

BATCH = 500


def up(migrator, db):
    def table(name, **fields):
        meta = type("Meta", (), {"database": db, "table_name": name, **fields.pop("meta", {})})
        return type(name.title(), (Model,), {**fields, "Meta": meta})

    UserAccount = table("user_account", id=AutoField())
    Ledger = table("ledger", id=AutoField(), time_zone=CharField())
    Agreement = table("agreement", id=AutoField(), ledger=ForeignKeyField(Ledger))
    Revision = table(
        "revision", id=AutoField(), agreement=ForeignKeyField(Agreement), content=TextField()
    )
    Draft = table("draft", id=AutoField())
    StoredState = table(
        "agreementstate",
        agreement=ForeignKeyField(Agreement, primary_key=True),
        ledger=ForeignKeyField(Ledger),
        label=CharField(),
        in_force=ForeignKeyField(Revision, null=True),
        in_force_since=DateTimeField(null=True),
        reviewed_at=DateTimeField(null=True),  # added below
        next_review=DateField(null=True),  # added below
    )
    Reaffirmation = table(
        "reaffirmation",
        id=AutoField(),
        uuid=UUIDField(unique=True),
        agreement=ForeignKeyField(Agreement, on_delete="CASCADE"),
        revision=ForeignKeyField(Revision, on_delete="CASCADE"),
        content_hash=CharField(max_length=64),
        partners=TextField(),
        created_at=DateTimeField(),
        chain_seq=IntegerField(),
        chain_hash=CharField(max_length=64),
    )
    Review = table(
        "review",
        id=AutoField(),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE"),
        started_by=ForeignKeyField(UserAccount, null=True, on_delete="SET NULL"),
        started_at=DateTimeField(),
        scope=CharField(max_length=10),
        finished_at=DateTimeField(null=True),
        meta={"indexes": ((("ledger", "started_at"), False),)},
    )
    ReviewItem = table(
        "reviewitem",
        id=AutoField(),
        review=ForeignKeyField(Review, on_delete="CASCADE"),
        agreement=ForeignKeyField(Agreement, on_delete="CASCADE"),
        revision=ForeignKeyField(Revision, on_delete="CASCADE"),
        since=DateTimeField(null=True),
        due_on=CharField(max_length=10, null=True),
        position=IntegerField(),
        outcome=CharField(max_length=12, null=True),
        settled_at=DateTimeField(null=True),
        retirement=ForeignKeyField(Revision, null=True, on_delete="SET NULL"),
        parked_at=DateTimeField(null=True),
        parked_by=ForeignKeyField(UserAccount, null=True, on_delete="SET NULL"),
        meta={
            "indexes": (
                (("review", "agreement"), True),
                (("agreement", "settled_at"), False),
            )
        },
    )
    ReviewAnswer = table(
        "reviewanswer",
        id=AutoField(),
        item=ForeignKeyField(ReviewItem, on_delete="CASCADE"),
        user=ForeignKeyField(UserAccount, on_delete="CASCADE"),
        choice=CharField(max_length=10),
        note=TextField(),
        created_at=DateTimeField(),
        draft=ForeignKeyField(Draft, null=True, on_delete="SET NULL"),
        meta={"indexes": ((("item", "user"), True),)},
    )
    CalendarFeed = table(
        "calendarfeed",
        user=ForeignKeyField(UserAccount, primary_key=True, on_delete="CASCADE"),
        token_hash=CharField(max_length=64, unique=True),
        created_at=DateTimeField(),
    )
    db.create_tables([Reaffirmation, Review, ReviewItem, ReviewAnswer, CalendarFeed])
    migrator.migrate(
        migrator.add_column("agreementstate", "reviewed_at", DateTimeField(null=True)),
        migrator.add_column("agreementstate", "next_review", DateField(null=True)),
        migrator.add_index("agreementstate", ("ledger_id", "next_review")),
        migrator.add_index("agreementstate", ("label", "next_review")),
    )
    immutability.install(db)

    # Every agreement in force counts from when it came into force.
    last = 0
    while True:
        batch = list(
            StoredState.select(StoredState, Revision.content, Ledger.time_zone)
            .join(Revision, on=(StoredState.in_force == Revision.id))
            .switch(StoredState)
            .join(Ledger)
            .where(
                (StoredState.agreement > last)
                & StoredState.in_force.is_null(False)
                & (StoredState.label != "retired")
            )
            .order_by(StoredState.agreement)
            .limit(BATCH)
            .objects()
        )
        if not batch:
            break
        last = batch[-1].agreement_id
        for row in batch:
            since = row.in_force_since.replace(tzinfo=UTC)
            due = next_review(json.loads(row.content), since, row.time_zone)
            (
                StoredState.update(reviewed_at=row.in_force_since, next_review=due)
                .where(StoredState.agreement == row.agreement_id)
                .execute()
            )
