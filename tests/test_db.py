"""Database settings and transactions, on SQLite and on PostgreSQL."""

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import session
from flask.sessions import NullSession
from peewee import IntegerField

from ledger.db import db, is_sqlite, lock, prepared, slot, utcnow, write_transaction
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


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-03-29 01:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("2026-03-29 01:30:00.000250", datetime(2026, 3, 29, 1, 30, 0, 250, tzinfo=UTC)),
        ("2026-03-29T01:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("2026-03-29", datetime(2026, 3, 29, tzinfo=UTC)),
        ("2026-03-29 03:30:00+02:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        (None, None),
    ],
)
def test_a_stored_time_is_read_back_as_the_same_moment_in_utc(stored, read):
    """SQLite hands times back as text: every form it may hold reads as the
    moment it names, aware (PostgreSQL hands back datetimes)."""
    value = User.created_at.python_value(stored)
    assert value == read
    assert value is None or value.tzinfo is UTC


# The connection pool: each worker keeps its connections between requests.


def test_requests_share_one_kept_connection_and_give_it_back(app):
    """Each request is handed the pooled connection and returns it after."""
    used = []

    @app.after_request
    def note_connection(response):
        used.append(db.database.connection())
        return response

    client = app.test_client()
    for _ in range(3):
        assert client.get("/login").status_code == 200
    assert used[0] is used[1] is used[2]
    pool = db.database.obj
    assert pool._in_use == {}  # every request gave its connection back
    assert [conn for _, _, conn in pool._connections] == [used[0]]


@pytest.mark.sqlite_only
def test_sqlite_pragmas_are_applied_once_per_connection(app, monkeypatch):
    database = db.database.obj
    applied = []
    original = type(database)._set_pragmas
    monkeypatch.setattr(
        type(database),
        "_set_pragmas",
        lambda self, conn: applied.append(conn) or original(self, conn),
    )
    with app.app_context():
        database.close_all()  # start from a fresh connection
    client = app.test_client()
    for _ in range(5):
        assert client.get("/login").status_code == 200
    assert len(applied) == 1


def test_static_files_open_no_session_and_no_connection(app, auth):
    """A stylesheet costs neither a database connection nor reading the cookie."""
    seen = []

    @app.after_request
    def note(response):
        seen.append(
            (isinstance(session._get_current_object(), NullSession), db.database.is_closed())
        )
        return response

    auth.register()
    seen.clear()
    for path in ("/static/style.css", "/sw.js"):  # the service worker is served from the root
        response = auth.client.get(path)
        response.close()
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert seen == [(True, True), (True, True)]
    # Pages still read the session and use the database.
    assert auth.client.get("/ledgers/new").status_code == 200
    assert seen[-1] == (False, False)


def test_a_connection_is_given_back_without_an_open_transaction(app):
    """What a failed request left uncommitted is rolled back, never carried on."""
    with app.app_context():
        database = db.database
        database.connect()
        database.execute_sql("BEGIN")
        User.create(email="x@y.org", email_key="x@y.org", display_name="X", password_hash="x")
        database.close()  # back to the pool, mid-transaction
        database.connect()
        try:
            assert User.select().count() == 0  # the same connection, rolled back
        finally:
            database.close()


def test_each_app_has_its_own_pool_and_the_last_bound_one_is_used(make_app, tmp_path):
    """Tests create many apps: binding a new one closes the connections the
    previous one kept, and queries then reach the new app's database only."""
    first = make_app()
    first.test_client().get("/login")
    first_pool = first.config["DATABASE"]
    assert first_pool._connections
    second = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'second.sqlite3'}")
    assert second.config["DATABASE"] is not first_pool
    assert first_pool._connections == [] and first_pool._in_use == {}
    with second.app_context(), db.database.connection_context():
        assert db.database.obj is second.config["DATABASE"]


def test_an_app_that_upgrades_its_schema_keeps_no_connection(make_app):
    """A server that forks workers after creating the app must not share one."""
    make_app()  # the fixture's own upgrade happens with the first app
    app = make_app(AUTO_UPGRADE_SCHEMA=True)
    pool = app.config["DATABASE"]
    assert pool._connections == [] and pool._in_use == {}


@prepared
def _named_after():
    """Accounts created after a time, with a name: a prepared query."""
    return (
        User.select(User.display_name)
        .where(
            (User.created_at > slot("after", User.created_at)) & (User.display_name == slot("name"))
        )
        .tuples()
    )


def test_a_prepared_query_runs_with_each_call_s_values(make_app, tmp_path):
    """Its SQL is written once per database, its values are given each time
    (times converted by their field), and a newly bound database gets SQL of
    its own: it reads that database, never the one before."""
    start = utcnow() - timedelta(hours=1)
    first = make_app()
    with first.app_context(), db.database.connection_context():
        for email, name in (("a@example.org", "Ana"), ("b@example.org", "Bo")):
            User.create(email=email, email_key=email, display_name=name, password_hash="x")
        assert list(_named_after(after=start, name="Ana")) == [("Ana",)]
        assert list(_named_after(after=start, name="Bo")) == [("Bo",)]
        assert list(_named_after(after=utcnow() + timedelta(hours=1), name="Bo")) == []
    second = make_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'second.sqlite3'}", AUTO_UPGRADE_SCHEMA=True
    )
    with second.app_context(), db.database.connection_context():
        assert list(_named_after(after=start, name="Ana")) == []


def test_a_prepared_query_takes_exactly_its_values(app):
    """A value missing or one it does not know is a mistake in the code: it
    raises before anything runs, never runs with a value left out."""
    with app.app_context(), db.database.connection_context():
        with pytest.raises(TypeError, match="takes"):
            _named_after(name="Ana")
        with pytest.raises(TypeError, match="takes"):
            _named_after(after=utcnow(), name="Ana", other=1)
