"""Accounts, signed-in devices, login throttling and password reset links."""

import uuid

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    Model,
    UUIDField,
)


def up(migrator, db):
    class UserAccount(Model):
        id = AutoField()
        uuid = UUIDField(unique=True, default=uuid.uuid4)
        email = CharField(max_length=254)
        email_key = CharField(max_length=254, unique=True)
        display_name = CharField(max_length=80)
        password_hash = CharField(max_length=255)
        time_zone = CharField(max_length=64, default="UTC")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "user_account"

    class DeviceSession(Model):
        id = AutoField()
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        token_hash = CharField(max_length=64, unique=True)
        remember = BooleanField(default=False)
        user_agent = CharField(max_length=200, default="")
        created_at = DateTimeField()
        last_seen_at = DateTimeField()

        class Meta:
            database = db
            table_name = "devicesession"

    class LoginFailure(Model):
        id = AutoField()
        email_hash = CharField(max_length=64, index=True)
        address = CharField(max_length=64, index=True)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "loginfailure"

    class PasswordReset(Model):
        id = AutoField()
        user = ForeignKeyField(UserAccount, on_delete="CASCADE")
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "passwordreset"

    db.create_tables([UserAccount, DeviceSession, LoginFailure, PasswordReset])
