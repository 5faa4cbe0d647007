"""Append-only revisions and consents, and the tamper-evident hash chain."""

import threading

import pytest
from peewee import DatabaseError

from ledger import create_app, immutability
from ledger.db import db
from ledger.models import Agreement, Consent, Ledger, Revision, User

from .helpers import AuthActions, answer, create_ledger, invite, join, post_form, propose

TRIGGERS = {
    "sqlite": [
        "consent_no_delete",
        "consent_no_update",
        "reaffirmation_no_delete",
        "reaffirmation_no_update",
        "revision_no_delete",
        "revision_no_update",
    ],
    "postgres": ["consent_append_only", "reaffirmation_append_only", "revision_append_only"],
}


@pytest.fixture
def history(app):
    """One agreement: revision 1 (accepted by both), revision 2 (pending)."""
    sam, alex = app.test_client(), app.test_client()
    AuthActions(sam).register()
    AuthActions(alex).register(email="alex@example.org", name="Alex")
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {"title": "Our Sunday check-in", "text": "An hour.", "base": "1", "action": "propose"},
    )
    return ledger_id


def test_triggers_exist_after_db_upgrade(database_url, on_postgres):
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url})
    runner = app.test_cli_runner()
    if on_postgres:  # the app fixture upgraded already; start from nothing
        with app.app_context():
            db.database.execute_sql("DROP SCHEMA public CASCADE")
            db.database.execute_sql("CREATE SCHEMA public")
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        assert (
            immutability.installed(db.database) == TRIGGERS["postgres" if on_postgres else "sqlite"]
        )


@pytest.mark.parametrize("model", [Revision, Consent])
def test_revisions_and_consents_refuse_update_and_delete(app, history, model):
    with app.app_context():
        row = model.select().first()
        with pytest.raises(DatabaseError, match="append-only"), db.database.atomic():
            model.update(created_at=row.created_at).where(model.id == row.id).execute()
        with pytest.raises(DatabaseError, match="append-only"), db.database.atomic():
            model.delete().where(model.id == row.id).execute()
        assert model.get_by_id(row.id).chain_hash == row.chain_hash


def test_deleting_a_whole_ledger_remains_possible(app, history):
    with app.app_context():
        Ledger.get_by_id(history).delete_instance()
        assert Revision.select().count() == Consent.select().count() == 0
        assert Agreement.select().count() == 0


def verify(app):
    result = app.test_cli_runner().invoke(args=["verify"])
    return result.exit_code, result.output


def test_verify_passes_on_an_honest_history(app, history):
    code, output = verify(app)
    assert code == 0
    assert output.strip() == (
        "All 1 agreement chains verify (5 links), and every stored state matches its history."
    )


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        ("UPDATE agreementstate SET label = 'retired'", "label: stored 'retired'"),
        ("UPDATE agreementstate SET in_force_id = NULL", "in_force: stored None"),
        ("UPDATE agreementstate SET change_requested = TRUE", "change_requested: stored True"),
        ("DELETE FROM waiting", "waiting for: stored []"),
        ("DELETE FROM agreementstate", "state: stored None"),
    ],
)
def test_verify_names_a_stored_state_that_drifted_from_its_history(app, history, sql, field):
    with app.app_context():
        db.database.execute_sql(sql)
    code, output = verify(app)
    assert code == 1
    assert "Stored state differs from its history: agreement" in output
    assert field in output, output


def tamper(app, sql):
    """Run SQL against the database with the triggers out of the way."""
    with app.app_context():
        immutability.remove(db.database)
        db.database.execute_sql(sql)
        immutability.install(db.database)


@pytest.mark.parametrize(
    ("sql", "position"),
    [
        # Change what revision 1 says (link 1).
        ('UPDATE revision SET content = \'{"text":"Forever.","title":"x"}\' WHERE number = 1', 1),
        # Turn Alex's acceptance (link 3) into a request for a change.
        ("UPDATE consent SET decision = 'change' WHERE chain_seq = 3", 3),
        # Change when revision 2 was proposed (link 4).
        ("UPDATE revision SET created_at = '2020-01-01 00:00:00' WHERE number = 2", 4),
        # Delete a link in the middle.
        ("DELETE FROM consent WHERE chain_seq = 2", 2),
        # Delete the last link: only the recorded length shows it.
        ("DELETE FROM consent WHERE chain_seq = 5", 5),
        # Reorder: swap the positions of links 2 and 3.
        (
            "UPDATE consent SET chain_seq = CASE chain_seq WHEN 2 THEN 3 ELSE 2 END "
            "WHERE chain_seq IN (2, 3)",
            2,
        ),
    ],
)
def test_verify_names_the_first_broken_link(app, history, sql, position):
    tamper(app, sql)
    code, output = verify(app)
    assert code == 1
    assert f", link {position}:" in output
    assert "Broken chain: agreement" in output
    assert "“Sam &amp; Alex”" not in output and "“Sam & Alex”" in output


def test_chain_uses_uuids_not_row_ids(app, history):
    """New row ids (as an import into another database gives) keep the chain valid."""
    with app.app_context():
        immutability.remove(db.database)
        db.database.execute_sql("DELETE FROM activity")  # not part of the chain
        db.database.execute_sql("UPDATE consent SET id = id + 1000")
        immutability.install(db.database)
    assert verify(app)[0] == 0


def test_concurrent_appends_never_fork_a_chain(app, history):
    with app.app_context():
        agreement = Agreement.get()
        users = list(User.select())
    errors = []

    def work(user):
        try:
            with app.app_context(), db.database.connection_context():
                for n in range(10):
                    current = Agreement.get_by_id(agreement.id)
                    base = Revision.select().where(Revision.agreement == current).count()
                    try:
                        current.append_revision(
                            user, "propose", {"title": "t", "text": str(n)}, "", base
                        )
                    except Exception as exc:  # noqa: BLE001
                        if type(exc).__name__ != "Conflict":
                            raise
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        numbers = [r.number for r in Revision.select().order_by(Revision.number)]
        assert numbers == list(range(1, len(numbers) + 1))
        head = Agreement.get()
        assert head.chain_length == Revision.select().count() + Consent.select().count()
    assert verify(app)[0] == 0
