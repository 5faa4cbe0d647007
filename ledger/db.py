"""The database: one connection per request, and what differs per engine."""

from contextlib import contextmanager
from datetime import UTC, datetime

from peewee import DateTimeField, SqliteDatabase
from playhouse.db_url import connect
from playhouse.flask_utils import FlaskDB

db = FlaskDB()

#: WAL lets readers go on while one partner writes; FULL makes a commit
#: durable on power loss (NORMAL can lose the last ones in WAL mode).
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 5000,
}


def make_database(url):
    """Return a peewee database for ``url`` with the settings Ledger relies on."""
    if url.startswith("sqlite"):
        return connect(url, pragmas=SQLITE_PRAGMAS)
    if url.startswith(("postgres", "psycopg3")):
        return connect(url)
    raise RuntimeError(
        f"LEDGER_DATABASE_URL must be a sqlite:// or postgresql:// URL, not {url!r}."
    )


def _unwrap(database):
    database = database or db.database
    return getattr(database, "obj", None) or database  # a Proxy's target


def is_sqlite(database=None):
    """Tell whether ``database`` (default: the bound one) is SQLite."""
    return isinstance(_unwrap(database), SqliteDatabase)


@contextmanager
def write_transaction():
    """Open a transaction for work that reads, then writes on what it read.

    SQLite: a deferred transaction that reads and then writes fails at once
    with "database is locked" when another writer got there first, whatever
    the busy timeout, so take the write lock up front (BEGIN IMMEDIATE).
    PostgreSQL rejects IMMEDIATE; there a plain transaction is right, and the
    code inside locks the rows it depends on with ``for_update()`` (see
    ``lock``) or relies on a unique constraint to make the loser of a race
    fail cleanly.
    """
    database = db.database
    if is_sqlite():
        with database.atomic("IMMEDIATE") as txn:
            yield txn
    else:
        with database.atomic() as txn:
            yield txn


def lock(query):
    """Add FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE already holds the lock."""
    return query if is_sqlite() else query.for_update()


def utcnow():
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTimeField(DateTimeField):
    """A timestamp stored as naive UTC and read back as aware UTC.

    Both engines then store the same thing (SQLite has no time zone type), and
    nothing in Python ever compares a naive time with an aware one.
    """

    def db_value(self, value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
