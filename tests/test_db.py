"""Database settings and transactions, on SQLite and on PostgreSQL."""

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from peewee import IntegerField

from ledger.db import db, is_sqlite, lock, write_transaction
from ledger.models import BaseModel, User


def test_engine_settings(app, on_postgres):
    with app.app_context():
        if on_postgres:
            # Transactional DDL and READ COMMITTED are what the locking relies on.
            level = db.database.execute_sql("SHOW transaction_isolation").fetchone()[0]
            assert level == "read committed"
            assert not is_sqlite()
        else:
            pragma = db.database.pragma
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000


def test_write_transaction_takes_the_write_lock_up_front(app, on_postgres):
    """SQLite: BEGIN IMMEDIATE, so no other writer can start meanwhile.

    PostgreSQL: a plain transaction, in which ``lock`` reads FOR UPDATE.
    """
    with app.app_context():
        if on_postgres:
            statements = []
            database = db.database.obj
            original = database.execute_sql
            database.execute_sql = lambda sql, *a, **kw: (
                statements.append(sql) or original(sql, *a, **kw)
            )
            try:
                with write_transaction():
                    lock(User.select().where(User.id == 1)).first()
            finally:
                del database.execute_sql
            assert statements[-1].rstrip().endswith("FOR UPDATE"), statements
            return
        other = sqlite3.connect(db.database.database, timeout=0, isolation_level=None)
        try:
            with write_transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN IMMEDIATE")  # free again after the commit
            other.execute("ROLLBACK")
        finally:
            other.close()


class Counter(BaseModel):
    value = IntegerField(default=0)


def test_concurrent_read_then_write_loses_nothing(app):
    """Writers that read, then write what they read, never fail or overwrite."""
    with app.app_context():
        db.database.create_tables([Counter])
        Counter.create(value=0)
    errors = []

    def work():
        try:
            with app.app_context(), db.database.connection_context():
                for _ in range(25):
                    with write_transaction():
                        row = lock(Counter.select().where(Counter.id == 1)).get()
                        Counter.update(value=row.value + 1).where(Counter.id == 1).execute()
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert Counter.get_by_id(1).value == 100
        db.database.drop_tables([Counter])


def test_times_are_stored_as_utc_and_read_back_aware(app):
    local = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    with app.app_context():
        user = User.create(
            email="a@b.org",
            email_key="a@b.org",
            display_name="A",
            password_hash="x",
            created_at=local,
        )
        stored = User.get_by_id(user.id).created_at
    assert stored == local
    assert stored.tzinfo == UTC
    assert stored.hour == 1
