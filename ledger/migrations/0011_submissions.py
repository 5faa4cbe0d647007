"""One form, one proposal: agreement.submission holds the token of the form
that proposed it, unique, so the same form sent twice proposes once.

A nullable column and a unique index (NULLs never collide on either engine):
the agreement table is never rebuilt (a rebuild on SQLite cascades away its
revisions).
"""


def up(migrator, db):
    db.execute_sql("ALTER TABLE agreement ADD COLUMN submission VARCHAR(64) NULL")
    db.execute_sql("CREATE UNIQUE INDEX agreement_submission ON agreement (submission)")
