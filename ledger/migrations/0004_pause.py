"""Pause logs, cooling-off, the session agenda, and per-person pause settings."""

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


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

    class PauseLog(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        started_at = DateTimeField()
        resumed_at = DateTimeField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "pauselog"

    class CoolingOffRequest(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        requested_by = ForeignKeyField(UserAccount, on_delete="CASCADE")
        created_at = DateTimeField()
        resolved_at = DateTimeField(null=True)
        outcome = CharField(max_length=10, null=True)

        class Meta:
            database = db
            table_name = "coolingoffrequest"

    class CoolingOffConfirmation(Model):
        id = AutoField()
        request = ForeignKeyField(CoolingOffRequest, on_delete="CASCADE")
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "coolingoffconfirmation"
            indexes = ((("request", "user"), True),)

    class AgendaItem(Model):
        id = AutoField()
        ledger = ForeignKeyField(Ledger, on_delete="CASCADE")
        author = ForeignKeyField(UserAccount, on_delete="CASCADE")
        topic = CharField(max_length=120)
        note = TextField(default="")
        created_at = DateTimeField()
        discussed_at = DateTimeField(null=True)
        discussed_by = ForeignKeyField(UserAccount, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "agendaitem"

    db.create_tables([PauseLog, CoolingOffRequest, CoolingOffConfirmation, AgendaItem])
    migrator.migrate(
        migrator.add_column("user_account", "discreet", BooleanField(default=False)),
        migrator.add_column("user_account", "pause_alert", BooleanField(default=False)),
        migrator.add_column("ledger", "cooling_off", BooleanField(default=True)),
        migrator.add_column("ledger", "cooling_off_hours", IntegerField(default=12)),
    )
