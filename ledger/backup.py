"""A consistent copy of the SQLite database while the app keeps serving.

SQLite's online backup API copies pages under a read transaction, so the copy
is one consistent moment even while requests write (copying a live WAL
database's file is not a backup: the newest commits may sit in the -wal file).
"""

import sqlite3

from .db import db


def backup_to(path):
    """Copy the bound SQLite database to ``path`` (a new file, or replaced)."""
    target = sqlite3.connect(path)
    try:
        db.database.connection().backup(target)
        target.execute("PRAGMA journal_mode = WAL")
    finally:
        target.close()
