"""Export, exact re-import, checking an export without the server, and backup."""

import copy
import json
import re
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import jsonschema
import pytest

from ledger import create_app, exportcheck, portable
from ledger.chain import verify_all
from ledger.db import db, is_sqlite, utcnow
from ledger.forms.reviews import SCOPES
from ledger.models import Agreement, Ledger, Review, ReviewAnswer, ReviewItem, Revision, User
from ledger.models.reviews import CHOICES, OUTCOMES

from .conftest import POSTGRES_URL, reset_postgres
from .helpers import PAUSE_SIGNAL, answer, post_form, propose
from .test_reviews import ANY_FORM, answer_item, start_review

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


def export_of(app, ledger_id, exporter=None):
    """The export as ``exporter`` (a name, as in ``person``) downloads it, or
    as the command line writes it; checked against the schema."""
    with app.app_context():
        user = User.get(User.email_key == f"{exporter}@example.org") if exporter else None
        export = portable.export_ledger(Ledger.get_by_id(ledger_id), user)
    jsonschema.validate(export, SCHEMA)
    return export


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
    # Each agreement is headed by the line its pages know it by.
    assert "### Sunday check-in (general)" in document
    assert "### A T with both hands (pause_signal)" in document


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


# Reviews in the export.

#: What each partner answers in the first review, and what comes of it.
FIRST_REVIEW = {
    "Keep me": (("keep", "Sam on Keep me"), ("keep", ""), "reaffirmed"),
    "Change me": (("change", "Sam on Change me"), ("keep", ""), "change"),
    "Retire me": (("retire", ""), ("retire", "Alex on Retire me"), "retire"),
    "Undecided": (("keep", "It still helps me"), ("retire", "We never use it"), "undecided"),
}


@pytest.fixture
def reviewed(app, couple):
    """Sam and Alex with a finished review (kept, changed, retired, and an
    undecided agreement Alex parked), then a second review, started by Alex,
    under way: Alex answered about "Keep me" and Sam did not; Sam answered
    about "Change me" and Alex did not."""
    sam, alex, ledger_id = couple
    for title in FIRST_REVIEW:
        path = propose(sam, ledger_id, title=title)
        assert answer(alex, path, 1).status_code == 302
    review = start_review(sam, ledger_id, scope="all")
    for title, ((sams, sams_note), (alexs, alexs_note), _) in FIRST_REVIEW.items():
        assert answer_item(sam, review, title, sams, note=sams_note).status_code == 302
        assert answer_item(alex, review, title, alexs, note=alexs_note).status_code == 302
    park = re.search(r'action="([^"]+/park)"', alex.get(review).get_data(as_text=True))
    assert post_form(alex, park.group(1), {}, page=ANY_FORM).status_code == 302
    second = start_review(alex, ledger_id, scope="all")
    assert second != review
    assert answer_item(alex, second, "Keep me", "keep", note="Alex alone").status_code == 302
    assert answer_item(sam, second, "Change me", "change", note="Sam alone").status_code == 302
    return sam, alex, ledger_id


def answers_in(export):
    """{(review number, agreement title): [(name, choice, note)]} of an export."""
    names = {p["uuid"]: p["display_name"] for p in export["people"]}
    titles = {
        link["uuid"]: link["content"]["title"]
        for a in export["agreements"]
        for link in a["links"]
        if link["type"] == "revision"
    }
    return {
        (number, titles[item["revision"]]): [
            (names[a["person"]], a["choice"], a["note"]) for a in item["answers"]
        ]
        for number, review in enumerate(export["reviews"], start=1)
        for item in review["items"]
    }


def settled_answers():
    """The first review's answers, all revealed: it settled."""
    return {
        (1, title): [("Sam", *sams), ("Alex", *alexs)]
        for title, (sams, alexs, _) in FIRST_REVIEW.items()
    }


@pytest.mark.parametrize(
    ("exporter", "own"),
    [
        ("sam", {(2, "Change me"): [("Sam", "change", "Sam alone")]}),
        ("alex", {(2, "Keep me"): [("Alex", "keep", "Alex alone")]}),
        (None, {}),  # the command line: revealed answers only
    ],
)
def test_reviews_carry_revealed_answers_and_the_exporters_own(app, reviewed, exporter, own):
    sam, alex, ledger_id = reviewed
    export = export_of(app, ledger_id, exporter)
    unfinished = {(2, t): [] for t in ("Keep me", "Change me", "Undecided")}
    assert answers_in(export) == {**settled_answers(), **unfinished, **own}
    first, second = export["reviews"]
    people = {p["display_name"]: p["uuid"] for p in export["people"]}
    assert first["started_by"] == people["Sam"] and first["scope"] == "all"
    assert first["finished_at"] is not None and second["finished_at"] is None
    assert second["started_by"] == people["Alex"] and second["started_at"] > first["started_at"]
    titles = {
        a["uuid"]: next(link for link in a["links"] if link["type"] == "revision")
        for a in export["agreements"]
    }
    outcomes = {titles[i["agreement"]]["content"]["title"]: i for i in first["items"]}
    assert {t: i["outcome"] for t, i in outcomes.items()} == {
        t: outcome for t, (_, _, outcome) in FIRST_REVIEW.items()
    }
    assert [i["position"] for i in first["items"]] == [1, 2, 3, 4]
    assert all(
        i["settled_at"] and i["revision"] == titles[i["agreement"]]["uuid"] for i in first["items"]
    )
    retiring = next(
        a for a in export["agreements"] if a["uuid"] == outcomes["Retire me"]["agreement"]
    )
    retirement = next(
        link
        for link in retiring["links"]
        if link["type"] == "revision" and link["action"] == "retire"
    )
    assert outcomes["Retire me"]["retirement"] == retirement["uuid"]
    assert [i for i in first["items"] if i["retirement"]] == [outcomes["Retire me"]]
    assert (
        outcomes["Undecided"]["parked_by"] == people["Alex"] and outcomes["Undecided"]["parked_at"]
    )
    assert [i for i in first["items"] if i["parked_at"]] == [outcomes["Undecided"]]
    assert all(i["outcome"] is None and i["settled_at"] is None for i in second["items"])
    # No row ids, and nothing of the draft Sam's "change" opened.
    text = portable.dumps(export)
    assert '"id"' not in text and "_id" not in text and "draft" not in text
    if exporter is not None:
        client = {"sam": sam, "alex": alex}[exporter]
        downloaded = client.get(f"/ledgers/{ledger_id}/export.json").get_json()
        assert without_time(downloaded) == without_time(export)


def test_everyone_named_in_a_review_is_among_the_people(app, reviewed):
    _, _, ledger_id = reviewed
    with app.app_context():
        # A stranger to this ledger started the first review (as no one can
        # through the pages): the export still names them among its people.
        eli = User.create_account("eli@example.org", "Eli", "pbkdf2:sha256:1$x$x", "UTC")
        Review.update(started_by=eli).where(
            Review.id == Review.select().order_by(Review.id).first().id
        ).execute()
    export = export_of(app, ledger_id, "sam")
    assert {"uuid": str(eli.uuid), "display_name": "Eli"} in export["people"]
    assert export["reviews"][0]["started_by"] == str(eli.uuid)


@pytest.mark.parametrize("exporter", ["sam", None])
def test_reviews_come_back_exactly_from_an_import_elsewhere(app, reviewed, tmp_path, exporter):
    _, _, ledger_id = reviewed
    first = export_of(app, ledger_id, exporter)
    path = tmp_path / "export.json"
    path.write_text(portable.dumps(first))
    other = fresh_app(tmp_path)
    result = other.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    carried = sum(len(i["answers"]) for r in first["reviews"] for i in r["items"])
    with other.app_context():
        assert [Review.select().count(), ReviewItem.select().count()] == [2, 7]
        assert ReviewAnswer.select().count() == carried == 8 + (exporter is not None)
        checked, _, broken = verify_all()
        assert broken is None and checked == 4
        ledger = Ledger.get()
        sam = User.get(
            User.uuid == next(p["uuid"] for p in first["people"] if p["display_name"] == "Sam")
        )
        again = portable.export_ledger(ledger, sam if exporter else None)
        hidden = portable.export_ledger(ledger)
        # The review under way waits again for the answers that stayed hidden:
        # Sam's answer alone does not settle "Keep me".
        item = next(
            i for i in Review.open_in(ledger.id).items() if i.revision.fields["title"] == "Keep me"
        )
        item.answer(sam, "keep", "", utcnow())
        assert ReviewItem.get_by_id(item.id).outcome is None
    assert without_time(again) == without_time(first)
    # Sam's own answer came back with Sam's file, and is still hidden from the others.
    assert answers_in(hidden)[(2, "Change me")] == []


def tampered_review(export, how):
    data = copy.deepcopy(export)
    items = data["reviews"][0]["items"]
    answers = items[0]["answers"]
    if how == "an unknown agreement":
        items[0]["agreement"] = str(uuid.uuid4())
    elif how == "a time that does not exist":
        data["reviews"][0]["started_at"] = "2026-02-30T10:00:00.000000Z"
    elif how == "a date that does not exist":
        items[0]["due_on"] = "2026-99-99"
    elif how == "a position too large to store":
        items[0]["position"] = 10**20
    elif how == "words of another agreement":
        items[0]["revision"] = items[1]["revision"]
    elif how == "an answer by an unknown person":
        answers[0]["person"] = str(uuid.uuid4())
    elif how == "a duplicated answer":
        answers.append(dict(answers[0]))
    elif how == "an agreement twice":
        items.append(copy.deepcopy(items[0]))
    elif how == "a starter who is unknown":
        data["reviews"][0]["started_by"] = str(uuid.uuid4())
    elif how == "two reviews under way":
        data["reviews"][0]["finished_at"] = None
    elif how == "an outcome without its time":
        items[0]["settled_at"] = None
    elif how == "a retirement of another agreement":
        items[2]["retirement"] = items[0]["revision"]
    elif how == "a finished review still waiting":
        data["reviews"][1]["finished_at"] = data["reviews"][1]["started_at"]
    elif how == "a row id":
        items[0]["id"] = 1
    elif how == "an unknown choice":
        answers[0]["choice"] = "maybe"
    return data


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("an unknown agreement", "review 1, item 1: agreement {agreement} is not in the export."),
        (
            "words of another agreement",
            "review 1, item 1: the words reviewed are not a revision of it.",
        ),
        (
            "an answer by an unknown person",
            "review 1, item 1, answer 1: a person who is not among the export's people.",
        ),
        ("a duplicated answer", "review 1, item 1, answer 3: a second answer by the same person."),
        ("an agreement twice", "review 1, item 5: the same agreement is in this review twice."),
        (
            "a starter who is unknown",
            "review 1: started by a person who is not among the export's people.",
        ),
        ("two reviews under way", "review 2: a second review under way (one at a time)."),
        ("a time that does not exist", "'2026-02-30T10:00:00.000000Z' is not a time that exists."),
        ("a date that does not exist", "review 1, item 1: due on a date that does not exist."),
        (
            "a position too large to store",
            "malformed at reviews[0].items[0].position: 100000000000000000000 is greater than",
        ),
        (
            "an outcome without its time",
            "review 1, item 1: its outcome and the time it settled are not both given",
        ),
        (
            "a retirement of another agreement",
            "review 1, item 3: its retirement is not a revision of it.",
        ),
        (
            "a finished review still waiting",
            "review 2: finished, but an agreement in it has no outcome.",
        ),
        ("a row id", "malformed at reviews[0].items[0]: Additional properties"),
        (
            "an unknown choice",
            "malformed at reviews[0].items[0].answers[0].choice: 'maybe' is not one of",
        ),
    ],
)
def test_a_tampered_review_is_refused_and_changes_nothing(
    app, runner, reviewed, tmp_path, how, says
):
    _, _, ledger_id = reviewed
    export = export_of(app, ledger_id, "sam")
    models = (Ledger, User, Agreement, Revision, Review, ReviewItem, ReviewAnswer)
    with app.app_context():
        Ledger.get_by_id(ledger_id).delete_instance()
        before = [model.select().count() for model in models]
    assert before == [0, 2, 0, 0, 0, 0, 0]  # the ledger took its reviews with it
    data = tampered_review(export, how)
    path = tmp_path / "tampered.json"
    path.write_text(portable.dumps(data))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    said = says.format(agreement=data["reviews"][0]["items"][0]["agreement"])
    assert "Nothing was imported." in result.output and said in result.output, result.output
    with app.app_context():
        assert [model.select().count() for model in models] == before
    # The same file untouched imports.
    path.write_text(portable.dumps(export))
    assert runner.invoke(args=["import", str(path)]).exit_code == 0


def test_the_document_shows_each_review(app, runner, reviewed):
    sam, _, ledger_id = reviewed
    document = sam.get(f"/ledgers/{ledger_id}/export.md").get_data(as_text=True)
    reviews = document.split("## Reviews\n", 1)[1]
    first, second = reviews.split("### Review of ")[1:]
    assert "Started by Sam, of every agreement in force." in first and "Finished " in first
    assert "- Keep me (revision 1): Kept as it is: reaffirmed, " in first
    assert "- Retire me (revision 1): Retiring it was proposed, " in first
    assert "  - Sam: Keep it as it is, " in first and ": “Sam on Keep me”" in first
    assert "  - Alex: Retire it, " in first and ": “We never use it”" in first
    assert "  - parked for the next session by Alex, " in first
    assert "Started by Alex" in second and "Still under way" in second
    assert "- Keep me (revision 1): waiting for answers" in second
    assert "Sam alone" in second and "Alex alone" not in document
    written = runner.invoke(args=["export", str(ledger_id), "--markdown"])
    assert written.exit_code == 0 and "## Reviews" in written.output
    assert "Sam alone" not in written.output and "Alex alone" not in written.output


def test_a_ledger_without_reviews_says_so(app, lived_in):
    _, _, ledger_id = lived_in
    export = export_of(app, ledger_id)
    assert export["reviews"] == []
    assert portable.to_markdown(export).endswith("## Reviews\n\nNo reviews yet.\n")


def test_the_schemas_words_are_the_models():
    item = SCHEMA["properties"]["reviews"]["items"]
    answer_schema = item["properties"]["items"]["items"]["properties"]["answers"]["items"]
    assert item["properties"]["scope"]["enum"] == list(SCOPES)
    assert answer_schema["properties"]["choice"]["enum"] == list(CHOICES)
    outcome = item["properties"]["items"]["items"]["properties"]["outcome"]["enum"]
    assert outcome == [*OUTCOMES, None]


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
