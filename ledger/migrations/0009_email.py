"""Email: the outbox, links that prove an address, and reminder choices.

- outbox: one row per email, queued once under a unique key and sent at most
  once (claimed before sending, marked sent after); outboxitem: further keys
  one email covered.
- emailconfirmation: a single-use link sent to an address before it is used
  (to create an account, or to move one to a new address).
- user_account.remind_reviews, remind_answers (NOT NULL DEFAULT FALSE) and
  reminders_offered_at (NULL): plain ALTER TABLE ... ADD COLUMN on both
  engines, so the table is never rebuilt (see TOOLING.md).
"""

from peewee import (
    AutoField,
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

    class Outbox(Model):
        id = AutoField()
        key = CharField(max_length=200, unique=True)
        kind = CharField(max_length=40)
        user = ForeignKeyField(UserAccount, null=True, on_delete="CASCADE")
        recipient = CharField(max_length=254)
        recipient_hash = CharField(max_length=64)
        subject = CharField(max_length=200)
        text = TextField()
        html = TextField()
        stop_url = CharField(max_length=500, default="")
        created_at = DateTimeField()
        expires_at = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        claimed_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        failed_at = DateTimeField(null=True)
        error = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "outbox"
            indexes = (
                (("claimed_at", "failed_at"), False),
                (("recipient_hash", "created_at"), False),
            )

    class OutboxItem(Model):
        key = CharField(max_length=200, primary_key=True)
        outbox = ForeignKeyField(Outbox, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "outboxitem"

    class EmailConfirmation(Model):
        id = AutoField()
        token_hash = CharField(max_length=64, unique=True)
        purpose = CharField(max_length=10)
        user = ForeignKeyField(UserAccount, null=True, on_delete="CASCADE")
        email = CharField(max_length=254)
        display_name = CharField(max_length=80, default="")
        password_hash = CharField(max_length=255, default="")
        time_zone = CharField(max_length=64, default="UTC")
        next_url = CharField(max_length=500, null=True)
        created_at = DateTimeField()
        expires_at = DateTimeField(index=True)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "emailconfirmation"

    db.create_tables([Outbox, OutboxItem, EmailConfirmation])
    for column in ("remind_reviews", "remind_answers"):
        db.execute_sql(
            f"ALTER TABLE user_account ADD COLUMN {column} BOOLEAN NOT NULL DEFAULT FALSE"
        )
    migrator.migrate(
        migrator.add_column("user_account", "reminders_offered_at", DateTimeField(null=True))
    )
