"""The database: a connection per request from a pool kept per worker, and
what differs per engine."""

import atexit
from contextlib import contextmanager
from datetime import UTC, datetime

from peewee import DateTimeField, Proxy, SqliteDatabase, Value
from playhouse.db_url import connect
from playhouse.flask_utils import FlaskDB
from playhouse.pool import PooledDatabase

#: Static files (and the service worker, one served from the root) are
#: answered without a database connection.
db = FlaskDB(excluded_routes=("static", "pause.service_worker"))

#: WAL lets readers go on while one partner writes; FULL makes a commit
#: durable on power loss (NORMAL can lose the last ones in WAL mode).
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 5000,
}


#: Each process keeps the connections it opened and hands one to each request
#: (FlaskDB connects before and closes after it: closing returns it here).
#: Opening a SQLite connection and applying its PRAGMAs cost more than most
#: pages' own work; a pooled connection gets its PRAGMAs once, when opened.
#: A connection is replaced after five minutes, so a database file restored
#: in place is picked up without a restart; a request waits up to ten
#: seconds for a free connection rather than failing.
POOL = {"max_connections": 20, "stale_timeout": 300, "timeout": 10}

POOLED_SCHEMES = {
    "sqlite": "sqlite+pool",
    "postgres": "postgres+pool",
    "postgresql": "postgresql+pool",
    "psycopg3": "psycopg3+pool",
}


def make_database(url):
    """Return a pooled peewee database for ``url`` with the settings Ledger relies on."""
    scheme, _, rest = url.partition("://")
    if scheme not in POOLED_SCHEMES:
        raise RuntimeError(
            f"LEDGER_DATABASE_URL must be a sqlite:// or postgresql:// URL, not {url!r}."
        )
    pooled = f"{POOLED_SCHEMES[scheme]}://{rest}"
    if scheme == "sqlite":
        # A pooled connection serves one request at a time, but not always
        # in the thread that opened it (the development server's threads).
        return connect(pooled, pragmas=SQLITE_PRAGMAS, check_same_thread=False, **POOL)
    return connect(pooled, **POOL)


def bind(app):
    """Bind ``db`` to the app's database (``app.config["DATABASE"]``).

    Models reach the database through one proxy, so the app created last in
    a process is the one they use; the connections kept by the database bound
    before (tests create many apps) are closed rather than left open.
    """
    previous = _bound()
    db.init_app(app)
    if previous is not None and previous is not _bound():
        previous.close_all()


def _bound():
    database = db.database.obj if isinstance(db.database, Proxy) else db.database
    return database if isinstance(database, PooledDatabase) else None


@atexit.register
def _close_pool():
    """Close the kept connections when the process ends (SQLite checkpoints its WAL)."""
    database = _bound()
    if database is not None:
        database.close_all()


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


class Slot:
    """A value of a prepared query, given each time it runs (see ``prepared``)."""

    def __init__(self, name, field=None):
        self.name = name
        self.convert = field.db_value if field is not None else None


def slot(name, field=None):
    """A place in a prepared query for the value ``name``, converted for the
    database by ``field`` (e.g. a time for a UTCDateTimeField) when given."""
    return Value(Slot(name, field), converter=False)


def prepared(build):
    """Turn ``build``, which returns a query of fixed shape whose varying
    values are ``slot()``s, into a function that runs it with those values
    given by name and returns its rows (models, joined ones included, or
    whatever its row type is).

    peewee writes a query's SQL anew each time it runs, which costs more than
    running it for the small indexed queries that every request makes (who
    is signed in, their ledgers, the header's counts). A prepared query's SQL
    is written once per database: only SQL text is kept, never a result, so
    nothing it returns can be stale. A slot stands for a value (``= NULL``
    never matches: write ``is_null()`` in the query itself). The rows come
    from peewee's own ``_get_cursor_wrapper``, as for any query it runs;
    tests/test_db.py checks rows, joined models and conversions.
    """
    compiled = [None]  # (database, query, its SQL, its parameters, slot names)

    def run(**values):
        database = _unwrap(None)
        entry = compiled[0]  # read once: the pieces always belong together
        if entry is None or entry[0] is not database:
            query = build().bind(database)
            sql, params = query.sql()
            names = {p.name for p in params if isinstance(p, Slot)}
            entry = compiled[0] = (database, query, sql, params, names)
        _, query, sql, params, names = entry
        if values.keys() != names:
            raise TypeError(f"{build.__name__} takes {sorted(names)}, not {sorted(values)}")
        given = [
            (p.convert(values[p.name]) if p.convert else values[p.name])
            if isinstance(p, Slot)
            else p
            for p in params
        ]
        return query._get_cursor_wrapper(database.execute_sql(sql, given))

    run.__doc__ = build.__doc__
    run.__name__ = build.__name__
    return run


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
        if isinstance(value, datetime):
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value
