"""Schema versions: playhouse.migrations over the files in ledger/migrations."""

import os

from playhouse.migrations import Runner

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def runner(database, directory=MIGRATIONS_DIR):
    """Return the migration runner for a database."""
    database = getattr(database, "obj", None) or database  # unwrap a Proxy
    return Runner(database, directory=directory)


def upgrade(database, target=None, directory=MIGRATIONS_DIR):
    """Apply pending migrations (up to ``target``); return their names."""
    return runner(database, directory).up(target)


def pending(database, directory=MIGRATIONS_DIR):
    """Return the names of migrations not applied yet."""
    return [m.name for m in runner(database, directory).status() if not m.applied]
