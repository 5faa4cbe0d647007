"""Known devices kept on the server, and the attempts they made.

- knowndevice: a browser that logged in to an account with its password,
  by the hash of the random token in its cookie (one row per account).
- devicesession.known_device_id: the browser a session runs in, so signing
  that session out on the account page forgets the browser too.
- loginfailure.known_device_id: the known device an attempt came from; such a
  device is held to its own failures only.

Plain ALTER TABLE ... ADD COLUMN on both engines (nullable, no default): no
table is rebuilt, so no child row can cascade away (see TOOLING.md).
"""

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, Model


def up(migrator, db):
    class UserAccount(Model):
        id = AutoField()

        class Meta:
            database = db
            table_name = "user_account"

    class KnownDevice(Model):
        id = AutoField()
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        token_hash = CharField(max_length=64)
        created_at = DateTimeField()
        last_login_at = DateTimeField()

        class Meta:
            database = db
            table_name = "knowndevice"
            indexes = ((("token_hash", "user"), True),)

    db.create_tables([KnownDevice])
    for table in ("devicesession", "loginfailure"):
        db.execute_sql(
            f"ALTER TABLE {table} ADD COLUMN known_device_id INTEGER NULL "
            "REFERENCES knowndevice (id) ON DELETE SET NULL"
        )
        db.execute_sql(f"CREATE INDEX {table}_known_device_id ON {table} (known_device_id)")
