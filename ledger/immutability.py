"""Database triggers that refuse UPDATE and DELETE of revisions, consents and
reaffirmations (the links of every agreement's hash chain).

Both engines get them. A DELETE is allowed only once the row's agreement is
gone, so deleting a whole ledger (which cascades to its agreements) remains
possible; nothing else can remove or change a revision or a consent.
Migrations that rebuild these tables drop and recreate the triggers.
"""

from .db import is_sqlite

APPEND_ONLY = ("revision", "consent", "reaffirmation")

_SQLITE = [
    """CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END""",
    """CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    WHEN EXISTS (SELECT 1 FROM agreement WHERE id = OLD.agreement_id)
    BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END""",
]

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (
      SELECT 1 FROM agreement WHERE id = OLD.agreement_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '%% rows are append-only', TG_TABLE_NAME;
END $$;
"""

_POSTGRES = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""


def _present(database):
    """The append-only tables that exist (an early migration runs before the
    later ones create theirs)."""
    return [table for table in APPEND_ONLY if database.table_exists(table)]


def install(database):
    """Create the append-only triggers (idempotent)."""
    remove(database)
    if is_sqlite(database):
        for table in _present(database):
            for statement in _SQLITE:
                database.execute_sql(statement.format(table=table))
        return
    database.execute_sql(_POSTGRES_FUNCTION)
    for table in _present(database):
        database.execute_sql(_POSTGRES.format(table=table))


def remove(database):
    """Drop the triggers, for a migration that rebuilds these tables."""
    for table in _present(database):
        if is_sqlite(database):
            database.execute_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
            database.execute_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            database.execute_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")


def installed(database):
    """Return the names of the append-only triggers present."""
    if is_sqlite(database):
        rows = database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        )
    else:
        rows = database.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
        )
    return [name for (name,) in rows]
