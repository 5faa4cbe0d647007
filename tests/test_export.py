"""Export, exact re-import, checking an export without the server, and backup."""

import copy
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from ledger import create_app, exportcheck, portable
from ledger.chain import verify_all
from ledger.db import db, is_sqlite
from ledger.models import Agreement, Ledger, Revision, User

from .conftest import POSTGRES_URL, reset_postgres
from .helpers import PAUSE_SIGNAL, answer, post_form, propose

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "export.schema.json").read_text())


@pytest.fixture
def lived_in(app, couple):
    """Sam and Alex with agreements in force, changed, answered with concerns
    and requests, withdrawn, a pause noted and a topic parked."""
    sam, alex, ledger_id = couple
    signal = propose(sam, ledger_id, "pause_signal", **PAUSE_SIGNAL)
    answer(alex, signal, 1)
    path = propose(sam, ledger_id, title="Sunday check-in", text="Half an hour — ½ ☕")
    answer(alex, path, 1, decision="concern", note="Sundays are busy")
    post_form(
        sam,
        f"{path}/change",
        {"title": "Sunday check-in", "text": "An hour", "base": "1", "action": "propose"},
    )
    answer(alex, path, 2, decision="change", note="Forty minutes?")
    other = propose(alex, ledger_id, title="Withdrawn one")
    post_form(alex, f"{other}/revisions/1/withdraw", {}, page=other)
    post_form(sam, f"/ledgers/{ledger_id}/pauses", {}, page="/pause")
    post_form(sam, f"/ledgers/{ledger_id}/agenda", {"topic": "Money", "note": "later"})
    return sam, alex, ledger_id


def export_of(app, ledger_id):
    with app.app_context():
        return portable.export_ledger(Ledger.get_by_id(ledger_id))


def without_time(export):
    return {k: v for k, v in export.items() if k != "exported_at"}


def test_the_export_has_everything_and_no_row_ids_or_emails(app, lived_in):
    sam, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    jsonschema.validate(export, SCHEMA)
    text = portable.dumps(export)
    assert "example.org" not in text and "pbkdf2" not in text
    assert '"id"' not in text and "_id" not in text
    assert sorted(p["display_name"] for p in export["people"]) == ["Alex", "Sam"]
    assert [p["uuid"] for p in export["people"]] == sorted(p["uuid"] for p in export["people"])
    assert len(export["agreements"]) == 3
    links = [link["type"] for a in export["agreements"] for link in a["links"]]
    assert links.count("revision") == 4 and links.count("consent") == 8
    assert export["pauses"] and export["agenda"][0]["topic"] == "Money"
    assert exportcheck.check(export)[0] == []
    # The same, downloaded by a partner from the Partners page, as JSON and
    # as a readable document.
    partners = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert f'href="/ledgers/{ledger_id}/export.json"' in partners
    response = sam.get(f"/ledgers/{ledger_id}/export.json")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ledger-')
    assert without_time(response.get_json()) == without_time(export)
    # The print view shows each chain head, so a printed page matches the file.
    printed = sam.get(f"/ledgers/{ledger_id}/print").get_data(as_text=True)
    for agreement in export["agreements"][:2]:  # the two in force
        assert f"<code>{agreement['chain_head']}</code>" in printed
    document = sam.get(f"/ledgers/{ledger_id}/export.md").get_data(as_text=True)
    assert "# Sam & Alex" in document and "Sundays are busy" in document
    assert "Chain head `" in document


def test_export_import_export_gives_the_same_file(app, runner, lived_in, tmp_path):
    _, _, ledger_id = lived_in
    first = export_of(app, ledger_id)
    path = tmp_path / "export.json"
    path.write_text(portable.dumps(first))
    with app.app_context():
        Ledger.get_by_id(ledger_id).delete_instance()  # the instance loses it
        assert Revision.select().count() == 0
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported “Sam & Alex”" in result.output
    with app.app_context():
        again = portable.export_ledger(Ledger.get(Ledger.uuid == first["ledger"]["uuid"]))
        checked, _, broken = verify_all()
        assert broken is None and checked == 3
    assert without_time(again) == without_time(first)


def fresh_app(tmp_path):
    """An app on an empty database of its own."""
    if POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
    with app.app_context():
        from ledger.schema import upgrade

        upgrade(db.database)
    return app


def test_import_elsewhere_makes_placeholders_that_are_claimed_by_a_reset_link(
    app, lived_in, tmp_path
):
    _, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    (tmp_path / "export.json").write_text(portable.dumps(export))
    other = fresh_app(tmp_path)
    result = other.test_cli_runner().invoke(args=["import", str(tmp_path / "export.json")])
    assert result.exit_code == 0, result.output
    assert "2 partner(s) had no account here" in result.output
    sam_uuid = next(p["uuid"] for p in export["people"] if p["display_name"] == "Sam")
    client = other.test_client()
    # A placeholder cannot sign in, whatever is typed.
    page = client.get("/login").get_data(as_text=True)
    assert "imported-" not in page
    link = other.test_cli_runner().invoke(args=["reset-link", sam_uuid])
    assert link.exit_code == 0 and "/reset/" in link.output
    with other.app_context():
        sam = User.get(User.uuid == sam_uuid)
        assert sam.password_hash == User.UNCLAIMED
        assert not sam.check_password(User.UNCLAIMED)
        checked, _, broken = verify_all()
        assert broken is None and checked == 3
        again = portable.export_ledger(Ledger.get())
    assert without_time(again) == without_time(export)


def tampered(export, how):
    data = copy.deepcopy(export)
    agreement = next(a for a in data["agreements"] if len(a["links"]) > 4)
    if how == "a changed word":
        link = next(link for link in agreement["links"] if link["type"] == "revision")
        link["content"]["text"] = "Forever"
    elif how == "a removed answer":
        index = next(i for i, link in enumerate(agreement["links"]) if link["type"] == "consent")
        del agreement["links"][index]
    elif how == "a reordered chain":
        agreement["links"][1], agreement["links"][2] = agreement["links"][2], agreement["links"][1]
    elif how == "a removed last link":
        agreement["links"].pop()
    return data


TAMPERING = ["a changed word", "a removed answer", "a reordered chain", "a removed last link"]


@pytest.mark.parametrize("how", TAMPERING)
def test_a_tampered_export_is_refused_and_changes_nothing(app, runner, lived_in, tmp_path, how):
    _, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    with app.app_context():
        Ledger.get_by_id(ledger_id).delete_instance()
    path = tmp_path / "tampered.json"
    path.write_text(portable.dumps(tampered(export, how)))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "Nothing was imported." in result.output
    assert "agreement" in result.output and ("link" in result.output or "links" in result.output)
    with app.app_context():
        assert Ledger.select().count() == 0 and Agreement.select().count() == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not complete JSON"),
        ('{"format": "something else"}', "not a Ledger export"),
        ("TRUNCATED", "not complete JSON"),
        ("WRONG-TYPE", "malformed at agreements[0].links[0]"),
        ("UNKNOWN-PERSON", "a person who is not among the export's people"),
    ],
)
def test_a_malformed_or_truncated_export_says_what_and_where(
    app, runner, lived_in, tmp_path, content, says
):
    _, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    with app.app_context():
        Ledger.get_by_id(ledger_id).delete_instance()
    if content == "TRUNCATED":
        content = portable.dumps(export)[:-200]
    elif content == "WRONG-TYPE":
        data = copy.deepcopy(export)
        data["agreements"][0]["links"][0]["number"] = "one"
        content = json.dumps(data)
    elif content == "UNKNOWN-PERSON":
        data = copy.deepcopy(export)
        data["people"] = data["people"][:1]
        content = json.dumps(data)
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "Nothing was imported." in result.output and says in result.output, result.output
    with app.app_context():
        assert Ledger.select().count() == 0 and User.select().count() == 2


def test_an_oversized_file_is_refused_before_it_is_read(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(portable, "MAX_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text(" " * 100)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "larger than" in result.output


def test_an_export_is_checked_without_the_server(app, runner, lived_in, tmp_path):
    _, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    good = tmp_path / "good.json"
    good.write_text(portable.dumps(export))
    result = runner.invoke(args=["verify", str(good)])
    assert result.exit_code == 0
    assert "All 3 agreement chains in the export verify" in result.output
    # The checker on its own: the standard library, no database, no app.
    standalone = subprocess.run(
        [sys.executable, "-I", str(ROOT / "ledger" / "exportcheck.py"), str(good)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert standalone.returncode == 0, standalone.stderr
    source = (ROOT / "ledger" / "exportcheck.py").read_text()
    assert "from ledger" not in source and "import ledger" not in source
    for how in TAMPERING:
        bad = tmp_path / "bad.json"
        bad.write_text(portable.dumps(tampered(export, how)))
        result = runner.invoke(args=["verify", str(bad)])
        assert result.exit_code == 1, how
        standalone = subprocess.run(
            [sys.executable, "-I", str(ROOT / "ledger" / "exportcheck.py"), str(bad)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert standalone.returncode == 1 and "agreement" in standalone.stderr, how


@pytest.mark.sqlite_only
def test_a_backup_taken_while_a_writer_runs_is_whole(app, runner, lived_in, tmp_path):
    sam, alex, ledger_id = lived_in
    stop = threading.Event()
    acknowledged = []

    def writer():
        with app.app_context():
            ledger = Ledger.get_by_id(ledger_id)
            user = User.get(User.email_key == "sam@example.org")
            n = 0
            while not stop.is_set() and n < 400:
                n += 1
                revision = Agreement.propose_new(
                    ledger, user, "general", {"title": f"W{n}", "text": "x"}, ""
                )
                acknowledged.append(str(revision.uuid))
            db.database.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 20:
        threading.Event().wait(0.01)
    before = list(acknowledged)  # every write acknowledged before the backup began
    copy_path = tmp_path / "backup.sqlite3"
    result = runner.invoke(args=["backup", str(copy_path)])
    stop.set()
    thread.join()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy_path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {row[0] for row in check.execute("SELECT uuid FROM revision")}
    assert {u.replace("-", "") for u in before} <= kept
    # Restoring is serving the copy: it opens, verifies and shows the ledger.
    restored = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{copy_path}"})
    assert restored.test_cli_runner().invoke(args=["verify"]).exit_code == 0
    client = restored.test_client()
    from .helpers import AuthActions

    assert AuthActions(client).login().status_code == 302
    page = client.get(f"/ledgers/{ledger_id}/agreements")
    assert page.status_code == 200 and "Sunday check-in" in page.get_data(as_text=True)


def test_backup_copies_sqlite_and_points_postgresql_to_pg_dump(app, runner, tmp_path):
    target = tmp_path / "copy.sqlite3"
    result = runner.invoke(args=["backup", str(target)])
    if is_sqlite():
        assert result.exit_code == 0 and target.exists()
    else:
        assert result.exit_code != 0 and "pg_dump" in result.output
        assert not target.exists()
