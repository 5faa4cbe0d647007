"""Agreements, their append-only revisions and consents, and private drafts."""

import uuid

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    UUIDField,
)

from ledger import immutability


def up(migrator, db):
    class UserAccount(Model):
        id = AutoField()

        class Meta:
            database = db
            table_name = "user_account"

    class Ledger(Model):
        id = AutoField()

        class Meta:
            database = db
            table_name = "ledger"

    class Agreement(Model):
        id = AutoField()
        uuid = UUIDField(unique=True, default=uuid.uuid4)
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        kind = CharField(max_length=20)
        created_by = ForeignKeyField(UserAccount)
        created_at = DateTimeField()
        chain_head = CharField(max_length=64, default="")
        chain_length = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "agreement"

    class Revision(Model):
        id = AutoField()
        uuid = UUIDField(unique=True, default=uuid.uuid4)
        agreement = ForeignKeyField(Agreement, on_delete="CASCADE")
        number = IntegerField()
        action = CharField(max_length=10)
        content = TextField()
        content_hash = CharField(max_length=64)
        reason = TextField(default="")
        author = ForeignKeyField(UserAccount)
        created_at = DateTimeField()
        chain_seq = IntegerField()
        chain_hash = CharField(max_length=64)

        class Meta:
            database = db
            table_name = "revision"
            indexes = ((("agreement", "number"), True),)

    class Consent(Model):
        id = AutoField()
        uuid = UUIDField(unique=True, default=uuid.uuid4)
        agreement = ForeignKeyField(Agreement, on_delete="CASCADE")
        revision = ForeignKeyField(Revision, on_delete="CASCADE")
        user = ForeignKeyField(UserAccount)
        decision = CharField(max_length=10)
        note = TextField(default="")
        content_hash = CharField(max_length=64)
        seq = IntegerField()
        created_at = DateTimeField()
        chain_seq = IntegerField()
        chain_hash = CharField(max_length=64)

        class Meta:
            database = db
            table_name = "consent"
            indexes = ((("revision", "user", "seq"), True),)

    class Draft(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        author = ForeignKeyField(UserAccount, on_delete="CASCADE")
        kind = CharField(max_length=20)
        content = TextField()
        reason = TextField(default="")
        agreement = ForeignKeyField(Agreement, null=True, on_delete="CASCADE")
        base_number = IntegerField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "draft"

    db.create_tables([Agreement, Revision, Consent, Draft])
    immutability.install(db)
