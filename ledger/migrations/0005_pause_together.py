"""Pauses both partners know about, and cooling-off changed only together.

- pauselog.agreement_id: the pause signal a noted pause was called with.
- pauselog.cooling_ended_at: every partner agreed to end that pause's
  cooling-off early.
- coolingoffrequest.kind and .hours: a request now ends the cooling-off
  running now ("end"), turns the feature off ("off", what every earlier
  request did) or changes its length ("hours").

Plain ALTER TABLE ... ADD COLUMN on both engines: peewee's add_column with a
NOT NULL default rebuilds the table on SQLite, which can cascade away child
rows (see TOOLING.md).
"""

from peewee import SqliteDatabase


def up(migrator, db):
    timestamp = "DATETIME" if isinstance(db, SqliteDatabase) else "TIMESTAMP"
    for sql in (
        "ALTER TABLE pauselog ADD COLUMN agreement_id INTEGER NULL "
        "REFERENCES agreement (id) ON DELETE SET NULL",
        f"ALTER TABLE pauselog ADD COLUMN cooling_ended_at {timestamp} NULL",
        "ALTER TABLE coolingoffrequest ADD COLUMN kind VARCHAR(10) NOT NULL DEFAULT 'off'",
        "ALTER TABLE coolingoffrequest ADD COLUMN hours INTEGER NULL",
        "CREATE INDEX pauselog_agreement_id ON pauselog (agreement_id)",
    ):
        db.execute_sql(sql)
