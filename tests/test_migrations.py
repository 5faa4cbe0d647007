"""Schema migrations: the schema matches the models, and no row is lost."""

import shutil
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from playhouse.migrations import Migration

from ledger import create_app, hashchain, schema
from ledger.chain import verify_all
from ledger.db import db, is_sqlite
from ledger.models import MODELS, StoredState

ALL = [m.name for m in Migration.load_directory(schema.MIGRATIONS_DIR)]


@pytest.fixture
def empty_app(database_url):
    """An app on a database with no tables at all."""
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url})
    yield app
    if not db.database.is_closed():
        db.database.close()


def test_upgrade_creates_what_the_models_expect(empty_app):
    with empty_app.app_context():
        assert schema.pending(db.database) == ALL
        schema.upgrade(db.database)
        assert schema.pending(db.database) == []
        for model in MODELS:
            table = model._meta.table_name
            columns = {c.name for c in db.database.get_columns(table)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, table


def test_cli_upgrade_and_status(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["db", "status"])
    assert "pending  0001_accounts" in result.output
    result = runner.invoke(args=["db", "upgrade", "--to", "0001_accounts"])
    assert "Applied 1 migration(s): 0001_accounts." in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert f"Applied {len(ALL) - 1} migration(s): {', '.join(ALL[1:])}." in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert "The database is up to date." in result.output
    assert "applied  0001_accounts" in runner.invoke(args=["db", "status"]).output


# Each seed writes rows, as raw SQL, into the tables as its migration left them.


def seed_0001(database):
    """Rows valid right after 0001_accounts."""
    database.execute_sql(
        "INSERT INTO user_account (uuid, email, email_key, display_name, "
        "password_hash, time_zone, created_at) VALUES "
        "('6a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', 'Sam@Example.org', 'sam@example.org', "
        "'Sam', 'pbkdf2:sha256:1000$s$h', 'Europe/Berlin', '2026-01-01 10:00:00')"
    )
    user_id = database.execute_sql("SELECT id FROM user_account").fetchone()[0]
    for n in range(3):
        database.execute_sql(
            "INSERT INTO devicesession (user_id, token_hash, remember, user_agent, "
            f"created_at, last_seen_at) VALUES ({user_id}, 'hash{n}', {'TRUE' if n else 'FALSE'}, "
            "'Firefox', '2026-01-01 10:00:00', '2026-01-02 10:00:00')"
        )
    database.execute_sql(
        "INSERT INTO passwordreset (user_id, token_hash, created_at, expires_at) "
        f"VALUES ({user_id}, 'reset', '2026-01-01 10:00:00', '2026-01-01 11:00:00')"
    )
    database.execute_sql(
        "INSERT INTO loginfailure (email_hash, address, created_at) "
        "VALUES ('e', '192.0.2.1', '2026-01-01 10:00:00')"
    )


def seed_0002(database):
    """Rows valid right after 0002_ledgers: a ledger with its partners."""
    database.execute_sql(
        "INSERT INTO user_account (uuid, email, email_key, display_name, password_hash, "
        "time_zone, created_at) VALUES ('7a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', 'alex@example.org', "
        "'alex@example.org', 'Alex', 'x', 'UTC', '2026-01-01 10:00:00')"
    )
    sam, alex = (r[0] for r in database.execute_sql("SELECT id FROM user_account ORDER BY id"))
    database.execute_sql(
        "INSERT INTO ledger (uuid, name, time_zone, created_by_id, created_at) VALUES "
        f"('8a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', 'Sam & Alex', 'UTC', {sam}, '2026-01-01 10:00:00')"
    )
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    database.execute_sql(
        "INSERT INTO invitation (ledger_id, token_hash, note, created_by_id, created_at, "
        f"expires_at, used_at, used_by_id) VALUES ({ledger}, 'inv', 'for Alex', {sam}, "
        f"'2026-01-01 10:00:00', '2026-01-08 10:00:00', '2026-01-02 10:00:00', {alex})"
    )
    invitation = database.execute_sql("SELECT id FROM invitation").fetchone()[0]
    database.execute_sql(
        "INSERT INTO membership (ledger_id, user_id, joined_at, invitation_id) VALUES "
        f"({ledger}, {sam}, '2026-01-01 10:00:00', NULL), "
        f"({ledger}, {alex}, '2026-01-02 10:00:00', {invitation})"
    )
    membership = database.execute_sql("SELECT MAX(id) FROM membership").fetchone()[0]
    database.execute_sql(
        "INSERT INTO removal (ledger_id, membership_id, requested_by_id, created_at) "
        f"VALUES ({ledger}, {membership}, {sam}, '2026-01-03 10:00:00')"
    )
    removal = database.execute_sql("SELECT id FROM removal").fetchone()[0]
    database.execute_sql(
        "INSERT INTO removalconfirmation (removal_id, user_id, created_at) "
        f"VALUES ({removal}, {sam}, '2026-01-03 10:00:00')"
    )
    database.execute_sql(f"UPDATE devicesession SET current_ledger_id = {ledger}")


def _seed_chain():
    """The real hash chain of seed_0003's agreement: (link 1, link 2)."""
    revision = SimpleNamespace(
        uuid=uuid.UUID("aa3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d"),
        number=1,
        action="propose",
        content='{"text":"x","title":"t"}',
        content_hash="c",
        reason="",
        created_at=datetime(2026, 1, 4, 10, tzinfo=UTC),
    )
    consent = SimpleNamespace(
        uuid=uuid.UUID("ba3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d"),
        decision="accept",
        note="",
        content_hash="c",
        seq=1,
        created_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
    )
    agreement = uuid.UUID("9a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d")
    sam, alex = uuid.UUID("6a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d"), uuid.UUID(ALEX_UUID)
    first = hashchain.link("", hashchain.revision_payload(revision, agreement, sam))
    return first, hashchain.link(
        first, hashchain.consent_payload(consent, agreement, alex, revision.uuid)
    )


ALEX_UUID = "7a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d"


def seed_0003(database):
    """Rows valid right after 0003_agreements: an agreement with its history
    (with a real hash chain, so ``verify`` passes after every upgrade)."""
    sam, alex = (r[0] for r in database.execute_sql("SELECT id FROM user_account ORDER BY id"))
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    h1, h2 = _seed_chain()
    database.execute_sql(
        "INSERT INTO agreement (uuid, ledger_id, kind, created_by_id, created_at, chain_head, "
        f"chain_length) VALUES ('9a3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', {ledger}, 'general', {sam}, "
        f"'2026-01-04 10:00:00', '{h2}', 2)"
    )
    agreement = database.execute_sql("SELECT id FROM agreement").fetchone()[0]
    database.execute_sql(
        "INSERT INTO revision (uuid, agreement_id, number, action, content, content_hash, "
        "reason, author_id, created_at, chain_seq, chain_hash) VALUES "
        f"('aa3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', {agreement}, 1, 'propose', "
        f"'{{\"text\":\"x\",\"title\":\"t\"}}', 'c', '', {sam}, '2026-01-04 10:00:00', 1, '{h1}')"
    )
    revision = database.execute_sql("SELECT id FROM revision").fetchone()[0]
    database.execute_sql(
        "INSERT INTO consent (uuid, agreement_id, revision_id, user_id, decision, note, "
        "content_hash, seq, created_at, chain_seq, chain_hash) VALUES "
        f"('ba3b0c8e1f2d4a5b9c7d8e9f0a1b2c3d', {agreement}, {revision}, {alex}, 'accept', '', "
        f"'c', 1, '2026-01-05 10:00:00', 2, '{h2}')"
    )
    database.execute_sql(
        "INSERT INTO draft (ledger_id, author_id, kind, content, reason, created_at, updated_at) "
        f"VALUES ({ledger}, {alex}, 'general', '{{}}', '', '2026-01-05 10:00:00', "
        "'2026-01-05 10:00:00')"
    )


def seed_0004(database):
    """Rows valid right after 0004_pause: a noted pause and a parked topic."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    database.execute_sql(
        "INSERT INTO pauselog (ledger_id, user_id, started_at, created_at) VALUES "
        f"({ledger}, {sam}, '2026-01-06 20:00:00', '2026-01-06 20:01:00')"
    )
    database.execute_sql(
        "INSERT INTO agendaitem (ledger_id, author_id, topic, note, created_at) VALUES "
        f"({ledger}, {sam}, 'Money', '', '2026-01-06 20:05:00')"
    )


def seed_0005(database):
    """Rows valid right after 0005_pause_together: a pause noted with its
    signal, and a request to change cooling-off's length."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    agreement = database.execute_sql("SELECT id FROM agreement").fetchone()[0]
    database.execute_sql(
        "INSERT INTO pauselog (ledger_id, user_id, agreement_id, started_at, created_at, "
        f"cooling_ended_at) VALUES ({ledger}, {sam}, {agreement}, '2026-01-07 20:00:00', "
        "'2026-01-07 20:01:00', '2026-01-07 22:00:00')"
    )
    database.execute_sql(
        "INSERT INTO coolingoffrequest (ledger_id, requested_by_id, created_at, kind, hours) "
        f"VALUES ({ledger}, {sam}, '2026-01-07 21:00:00', 'hours', 6)"
    )


def seed_0006(database):
    """Rows valid right after 0006_known_devices: a known phone, its session and
    one of its failed logins."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    database.execute_sql(
        "INSERT INTO knowndevice (user_id, token_hash, created_at, last_login_at) VALUES "
        f"({sam}, 'known', '2026-01-08 10:00:00', '2026-01-08 10:00:00')"
    )
    known = database.execute_sql("SELECT id FROM knowndevice").fetchone()[0]
    database.execute_sql(
        f"UPDATE devicesession SET known_device_id = {known} "
        "WHERE id = (SELECT MIN(id) FROM devicesession)"
    )
    database.execute_sql(
        "INSERT INTO loginfailure (email_hash, address, created_at, known_device_id) "
        f"VALUES ('e', '192.0.2.1', '2026-01-08 10:05:00', {known})"
    )


def seed_0007(database):
    """Rows valid right after 0007_agreement_state: one more activity row."""
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    revision = database.execute_sql("SELECT id FROM revision").fetchone()[0]
    database.execute_sql(
        "INSERT INTO activity (ledger_id, created_at, revision_id) VALUES "
        f"({ledger}, '2026-01-04 10:00:00', {revision})"
    )


def seed_0011(database):
    """Rows valid right after 0011_submissions: the agreement names the form
    that proposed it."""
    database.execute_sql("UPDATE agreement SET submission = 'AbCdEfGhIjKlMnOpQrStUv'")


def seed_0012(database):
    """Rows valid right after 0012_ledger_changes: the ledger was renamed, and
    a request to delete it was withdrawn, with Sam's yes."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    database.execute_sql(
        "INSERT INTO ledgerrename (ledger_id, renamed_by_id, old_name, new_name, created_at) "
        f"VALUES ({ledger}, {sam}, 'Us', 'Sam & Alex', '2026-04-07 10:00:00')"
    )
    database.execute_sql(
        "INSERT INTO ledgerdeletion (ledger_id, requested_by_id, created_at, resolved_at, "
        f"outcome) VALUES ({ledger}, {sam}, '2026-04-08 10:00:00', '2026-04-08 11:00:00', "
        "'withdrawn')"
    )
    request = database.execute_sql("SELECT id FROM ledgerdeletion").fetchone()[0]
    database.execute_sql(
        "INSERT INTO ledgerdeletionconfirmation (request_id, user_id, created_at) "
        f"VALUES ({request}, {sam}, '2026-04-08 10:00:00')"
    )


def seed_0013(database):
    """Rows valid right after 0013_history_indexes: a second pause, resumed."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    database.execute_sql(
        "INSERT INTO pauselog (ledger_id, user_id, started_at, resumed_at, created_at) "
        f"VALUES ({ledger}, {sam}, '2026-05-01 19:00:00', '2026-05-01 19:40:00', "
        "'2026-05-01 19:00:30')"
    )


def seed_0010(database):
    """Rows valid right after 0010_reviews: a review of the seeded agreement
    with one answer, and a calendar feed."""
    sam, alex = (r[0] for r in database.execute_sql("SELECT id FROM user_account ORDER BY id"))
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    agreement = database.execute_sql("SELECT id FROM agreement").fetchone()[0]
    revision = database.execute_sql("SELECT MIN(id) FROM revision").fetchone()[0]
    database.execute_sql(
        "INSERT INTO review (ledger_id, started_by_id, started_at, scope) VALUES "
        f"({ledger}, {sam}, '2026-04-06 10:00:00', 'due')"
    )
    review = database.execute_sql("SELECT id FROM review").fetchone()[0]
    database.execute_sql(
        "INSERT INTO reviewitem (review_id, agreement_id, revision_id, since, due_on, position) "
        f"VALUES ({review}, {agreement}, {revision}, '2026-01-05 10:00:00', '2026-04-05', 1)"
    )
    item = database.execute_sql("SELECT id FROM reviewitem").fetchone()[0]
    database.execute_sql(
        "INSERT INTO reviewanswer (item_id, user_id, choice, note, created_at) VALUES "
        f"({item}, {alex}, 'keep', 'It helps', '2026-04-06 10:05:00')"
    )
    database.execute_sql(
        "INSERT INTO calendarfeed (user_id, token_hash, created_at) VALUES "
        f"({sam}, 'feed', '2026-04-06 10:00:00')"
    )


def seed_0008(database):
    """Rows valid right after 0008_partners: Alex goes by another name in the
    ledger, the request to remove Alex is in its notice period, and a new
    invitation's link is still sealed."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    ledger = database.execute_sql("SELECT id FROM ledger").fetchone()[0]
    database.execute_sql(
        "UPDATE membership SET display_name = 'Alex K.' WHERE id = (SELECT MAX(id) FROM membership)"
    )
    database.execute_sql("UPDATE removal SET takes_effect_at = '2026-01-10 10:00:00'")
    database.execute_sql(
        "INSERT INTO invitation (ledger_id, token_hash, note, created_by_id, created_at, "
        f"expires_at, link_sealed) VALUES ({ledger}, 'sealed', '', {sam}, "
        "'2026-01-09 10:00:00', '2026-01-16 10:00:00', 'ab12')"
    )


def seed_0009(database):
    """Rows valid right after 0009_email: a sent reminder with the item it
    covered, a queued reset email, a pending registration link, and Sam's
    reminder choices."""
    sam = database.execute_sql("SELECT MIN(id) FROM user_account").fetchone()[0]
    database.execute_sql(
        'INSERT INTO outbox ("key", kind, user_id, recipient, recipient_hash, subject, text, '
        "html, stop_url, created_at, attempts, claimed_at, sent_at, error) VALUES "
        f"('answers:1:{sam}:x', 'answers', {sam}, '', 'h', '', '', '', '', "
        "'2026-01-09 10:00:00', 1, '2026-01-09 10:00:01', '2026-01-09 10:00:02', ''), "
        f"('reset:abc', 'reset', {sam}, 'Sam@Example.org', 'h', 'Ledger: Set a new password', "
        "'text', '<p>html</p>', '', '2026-01-09 11:00:00', 0, NULL, NULL, '')"
    )
    outbox = database.execute_sql("SELECT MIN(id) FROM outbox").fetchone()[0]
    database.execute_sql(
        f"INSERT INTO outboxitem (\"key\", outbox_id) VALUES ('waiting:1:1:answer:{sam}', {outbox})"
    )
    database.execute_sql(
        "INSERT INTO emailconfirmation (token_hash, purpose, email, display_name, "
        "password_hash, time_zone, created_at, expires_at) VALUES ('confirm', 'register', "
        "'new@example.org', 'New', 'x', 'UTC', '2026-01-09 12:00:00', '2026-01-10 12:00:00')"
    )
    database.execute_sql(
        "UPDATE user_account SET remind_answers = TRUE, "
        f"reminders_offered_at = '2026-01-09 09:00:00' WHERE id = {sam}"
    )


#: After which migration to seed rows, and how. Add one per migration.
SEEDS = {
    "0001_accounts": seed_0001,
    "0002_ledgers": seed_0002,
    "0003_agreements": seed_0003,
    "0004_pause": seed_0004,
    "0005_pause_together": seed_0005,
    "0006_known_devices": seed_0006,
    "0007_agreement_state": seed_0007,
    "0008_partners": seed_0008,
    "0009_email": seed_0009,
    "0010_reviews": seed_0010,
    "0011_submissions": seed_0011,
    "0012_ledger_changes": seed_0012,
    "0013_history_indexes": seed_0013,
}


def _counts(database):
    tables = set(database.get_tables())
    return {
        m._meta.table_name: database.execute_sql(
            f'SELECT COUNT(*) FROM "{m._meta.table_name}"'
        ).fetchone()[0]
        for m in MODELS
        if m._meta.table_name in tables
    }


def seed_through(database, last, directory=schema.MIGRATIONS_DIR):
    """Upgrade one migration at a time up to ``last``, seeding rows after each."""
    for name in ALL[: ALL.index(last) + 1]:
        schema.upgrade(database, target=name, directory=directory)
        SEEDS[name](database)


def test_every_migration_has_a_seed():
    assert sorted(SEEDS) == ALL


@pytest.mark.parametrize("after", ALL)
def test_upgrade_keeps_every_row(empty_app, after):
    with empty_app.app_context():
        seed_through(db.database, after)
        before = _counts(db.database)
        schema.upgrade(db.database)
        after = _counts(db.database)
        assert {table: after[table] for table in before} == before
        assert before["devicesession"] == 3
        assert sum(before.values()) > 0
        # The stored state built for the seeded history equals its replay,
        # and every chain verifies.
        checked, links, broken = verify_all()
        assert broken is None, str(broken)
        agreements = before.get("agreement", 0)
        assert (checked, links) == (agreements, 2 * agreements)
        assert StoredState.select().count() == agreements


REBUILD = """
from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("user_account", "karma", IntegerField(null=True)),
    )
    db.execute_sql("UPDATE user_account SET karma = 0")
    migrator.migrate(migrator.add_not_null("user_account", "karma"))
"""


def test_table_rebuild_keeps_child_rows(empty_app, tmp_path):
    """Rebuilding a parent table must not cascade-delete its children.

    On SQLite add_not_null copies the table and drops the old one; without
    the runner's migration_context (foreign keys off) ON DELETE CASCADE would
    empty devicesession and passwordreset.
    """
    directory = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, directory)
    (directory / "9999_rebuild_user.py").write_text(REBUILD)
    with empty_app.app_context():
        seed_through(db.database, ALL[-1], directory=str(directory))
        before = _counts(db.database)
        assert schema.upgrade(db.database, directory=str(directory)) == ["9999_rebuild_user"]
        assert _counts(db.database) == before
        if is_sqlite():
            assert db.database.pragma("foreign_keys") == 1  # switched back on
