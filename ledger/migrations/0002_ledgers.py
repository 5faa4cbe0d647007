"""Ledgers, partners, invitations, removals, and each device's current ledger."""

import uuid

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, Model, UUIDField


def up(migrator, db):
    class UserAccount(Model):
        id = AutoField()

        class Meta:
            database = db
            table_name = "user_account"

    class Ledger(Model):
        id = AutoField()
        uuid = UUIDField(unique=True, default=uuid.uuid4)
        name = CharField(max_length=80)
        time_zone = CharField(max_length=64, default="UTC")
        created_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "ledger"

    class Invitation(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        token_hash = CharField(max_length=64, unique=True)
        note = CharField(max_length=80, default="")
        created_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        used_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL", backref="+")
        revoked_at = DateTimeField(null=True)
        revoked_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL", backref="+")

        class Meta:
            database = db
            table_name = "invitation"

    class Membership(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        joined_at = DateTimeField()
        invitation = ForeignKeyField(Invitation, null=True, on_delete="SET NULL")
        left_at = DateTimeField(null=True)
        ended_how = CharField(max_length=10, null=True)

        class Meta:
            database = db
            table_name = "membership"

    class Removal(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        membership = ForeignKeyField(Membership, on_delete="CASCADE")
        requested_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        resolved_at = DateTimeField(null=True)
        outcome = CharField(max_length=10, null=True)

        class Meta:
            database = db
            table_name = "removal"

    class RemovalConfirmation(Model):
        id = AutoField()
        removal = ForeignKeyField(Removal, on_delete="CASCADE")
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "removalconfirmation"
            indexes = ((("removal", "user"), True),)

    db.create_tables([Ledger, Invitation, Membership, Removal, RemovalConfirmation])
    # One active membership per user and ledger; one open removal per partner.
    db.execute_sql(
        "CREATE UNIQUE INDEX membership_active ON membership (ledger_id, user_id) "
        "WHERE left_at IS NULL"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX removal_open ON removal (membership_id) WHERE resolved_at IS NULL"
    )
    migrator.migrate(
        migrator.add_column(
            "devicesession",
            "current_ledger_id",
            ForeignKeyField(Ledger, field=Ledger.id, null=True, on_delete="SET NULL"),
        ),
    )
