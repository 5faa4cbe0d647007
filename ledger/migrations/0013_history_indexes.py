"""Indexes that read the newest of a growing table without sorting it:

- pauselog (ledger_id, started_at): a ledger's latest pause (cooling-off, on
  every agreement page) and its pause log, newest first.
- reaffirmation (agreement_id, created_at): the reviews that kept an
  agreement, newest first, on its history page.

Only CREATE INDEX: no table is rebuilt.
"""


def up(migrator, db):
    db.execute_sql("CREATE INDEX pauselog_ledger_id_started_at ON pauselog (ledger_id, started_at)")
    db.execute_sql(
        "CREATE INDEX reaffirmation_agreement_id_created_at "
        "ON reaffirmation (agreement_id, created_at)"
    )
