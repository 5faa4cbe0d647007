"""Renaming a ledger, and deleting one when every partner asks for it.

- ledgerrename: who renamed a ledger, when, from what to what (rows are only
  ever added; they go with their ledger).
- ledgerdeletion, ledgerdeletionconfirmation: a request to delete a ledger
  and each partner's yes to it; a partial unique index allows one open
  request per ledger.

New tables only: nothing existing is altered or rebuilt.
"""

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, Model


def up(migrator, db):
    def table(name, **fields):
        meta = type("Meta", (), {"database": db, "table_name": name, **fields.pop("meta", {})})
        return type(name.title(), (Model,), {**fields, "Meta": meta})

    UserAccount = table("user_account", id=AutoField())
    Ledger = table("ledger", id=AutoField())
    LedgerRename = table(
        "ledgerrename",
        id=AutoField(),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE"),
        renamed_by=ForeignKeyField(UserAccount, null=True, on_delete="SET NULL"),
        old_name=CharField(max_length=80),
        new_name=CharField(max_length=80),
        created_at=DateTimeField(),
        meta={"indexes": ((("ledger", "created_at"), False),)},
    )
    LedgerDeletion = table(
        "ledgerdeletion",
        id=AutoField(),
        ledger=ForeignKeyField(Ledger, on_delete="CASCADE"),
        requested_by=ForeignKeyField(UserAccount, null=True, on_delete="SET NULL"),
        created_at=DateTimeField(),
        resolved_at=DateTimeField(null=True),
        outcome=CharField(max_length=10, null=True),
    )
    LedgerDeletionConfirmation = table(
        "ledgerdeletionconfirmation",
        id=AutoField(),
        request=ForeignKeyField(LedgerDeletion, on_delete="CASCADE"),
        user=ForeignKeyField(UserAccount, on_delete="CASCADE"),
        created_at=DateTimeField(),
        meta={"indexes": ((("request", "user"), True),)},
    )
    db.create_tables([LedgerRename, LedgerDeletion, LedgerDeletionConfirmation])
    db.execute_sql(
        "CREATE UNIQUE INDEX ledgerdeletion_open ON ledgerdeletion (ledger_id) "
        "WHERE resolved_at IS NULL"
    )
