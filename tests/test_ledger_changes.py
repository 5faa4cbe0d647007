"""Renaming a ledger, and deleting one when every partner asks for it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from peewee import ForeignKeyField
from playhouse.test_utils import count_queries

from ledger.chain import verify_all
from ledger.db import utcnow
from ledger.models import (
    MODELS,
    Agreement,
    Consent,
    CoolingOffRequest,
    DeviceSession,
    Ledger,
    LedgerDeletion,
    LedgerDeletionConfirmation,
    LedgerRename,
    Removal,
    Review,
    ReviewItem,
    Revision,
    StoredState,
    User,
)

from .helpers import create_ledger, csrf_token, invite, join, person, post_form, propose


def day(moment):
    """A date as pages write it, in Europe/Berlin (the test accounts' zone)."""
    return moment.astimezone(ZoneInfo("Europe/Berlin")).strftime("%-d %B %Y")


def rename(client, ledger_id, name):
    return post_form(
        client, f"/ledgers/{ledger_id}/rename", {"name": name}, page=f"/ledgers/{ledger_id}"
    )


def ask_to_delete(client, ledger_id):
    return post_form(client, f"/ledgers/{ledger_id}/delete", {})


def withdraw(client, ledger_id):
    return post_form(
        client, f"/ledgers/{ledger_id}/delete/withdraw", {}, page=f"/ledgers/{ledger_id}/delete"
    )


def exists(app, ledger_id):
    with app.app_context():
        return Ledger.get_or_none(Ledger.id == ledger_id) is not None


# Renaming


def test_either_partner_renames_and_each_rename_is_recorded(app, couple):
    sam, alex, ledger_id = couple
    response = rename(sam, ledger_id, "  Our home ")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    page = sam.get(response.headers["Location"]).get_data(as_text=True)
    assert "“Sam &amp; Alex” is now called “Our home”." in page
    assert rename(alex, ledger_id, "Home, sweet").status_code == 302

    with app.app_context():
        assert Ledger.get_by_id(ledger_id).name == "Home, sweet"
        rows = [
            (r.renamed_by.display_name, r.old_name, r.new_name)
            for r in LedgerRename.of_ledger(ledger_id)
        ]
        when = LedgerRename.of_ledger(ledger_id).first().created_at
    assert rows == [("Alex", "Our home", "Home, sweet"), ("Sam", "Sam & Alex", "Our home")]
    assert abs((utcnow() - when).total_seconds()) < 60
    # Both partners see the new name, and the list of renames, latest first.
    for client in (sam, alex):
        page = client.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
        assert '<h1 dir="auto">Home, sweet</h1>' in page
        later = (
            'Renamed from “<span dir="auto">Our home</span>” to “<span dir="auto">Home, '
            f'sweet</span>” by <span dir="auto">Alex</span> on {day(when)}.'
        )
        earlier = (
            'Renamed from “<span dir="auto">Sam &amp; Alex</span>” to “<span dir="auto">Our '
            'home</span>” by <span dir="auto">Sam</span> on'
        )
        assert later in page and earlier in page
        assert page.index(later) < page.index(earlier)


def test_a_rename_by_a_partner_who_left_keeps_their_name(app, couple):
    sam, alex, ledger_id = couple
    rename(alex, ledger_id, "Our home")
    assert post_form(alex, f"/ledgers/{ledger_id}/leave", {}).status_code == 302
    page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert 'to “<span dir="auto">Our home</span>” by <span dir="auto">Alex</span> on' in page


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Please give it a name"),
        ("   ", "Please give it a name"),
        ("x" * 81, "81 characters"),
        ("Sam & Alex", "That is its name already"),
        ("Sam\u202e & Alex", "invisible"),
        ("Sam\x00", "invisible"),
    ],
)
def test_a_bad_name_is_explained_and_changes_nothing(app, couple, name, message):
    sam, _, ledger_id = couple
    response = rename(sam, ledger_id, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).name == "Sam & Alex"
        assert LedgerRename.select().count() == 0


def test_a_new_ledger_needs_more_than_spaces_for_a_name(app, user_client):
    response = post_form(user_client, "/ledgers/new", {"name": "   ", "time_zone": "UTC"})
    assert response.status_code == 422
    assert "Please give it a name" in response.get_data(as_text=True)
    with app.app_context():
        assert Ledger.select().count() == 0


def test_the_list_of_renames_is_one_query(app, couple):
    sam, _, ledger_id = couple
    counts = []
    for names in (["One"], ["Two", "Three", "Four", "Five"]):
        for name in names:
            assert rename(sam, ledger_id, name).status_code == 302
        with count_queries() as counter:
            assert sam.get(f"/ledgers/{ledger_id}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
    with app.app_context():
        assert LedgerRename.select().count() == 5


def test_a_recorded_rename_cannot_be_changed_through_the_model(app, couple):
    sam, _, ledger_id = couple
    rename(sam, ledger_id, "Our home")
    with app.app_context():
        row = LedgerRename.get()
        row.new_name = "Something else"
        with pytest.raises(TypeError, match="append-only"):
            row.save()
        assert LedgerRename.get().new_name == "Our home"


# Outsiders


@pytest.mark.parametrize(
    ("path", "method"),
    [("/rename", "POST"), ("/delete", "GET"), ("/delete", "POST"), ("/delete/withdraw", "POST")],
)
def test_an_outsider_gets_404_and_changes_nothing(app, couple, path, method):
    sam, _, ledger_id = couple
    ask_to_delete(sam, ledger_id)
    casey = person(app, "casey")
    create_ledger(casey, "Casey & Dee")
    token = csrf_token(casey, "/ledgers/new")
    response = casey.open(
        f"/ledgers/{ledger_id}{path}", method=method, data={"csrf_token": token, "name": "Ours"}
    )
    assert response.status_code == 404
    assert "Sam &amp; Alex" not in response.get_data(as_text=True)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).name == "Sam & Alex"
        request = LedgerDeletion.get()
        assert request.resolved_at is None
        assert LedgerDeletionConfirmation.select().count() == 1


# Deleting


def test_the_page_offers_the_export_first_and_says_what_deleting_does(couple):
    sam, _, ledger_id = couple
    page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert f'href="/ledgers/{ledger_id}/delete">Delete this ledger…</a>' in page
    page = sam.get(f"/ledgers/{ledger_id}/delete").get_data(as_text=True)
    export = page.index(f'href="/ledgers/{ledger_id}/export.json"')
    assert f'href="/ledgers/{ledger_id}/export.md"' in page
    assert export < page.index("Ask to delete “Sam &amp; Alex”")
    for words in (
        "Every agreement in this ledger is deleted, with its whole history",
        "every review",
        "Noted pauses, cooling-off, the topics parked for a session",
        "It is deleted for every partner, not only for you.",
        "This can't be undone.",
        "If you ask, the others are asked to confirm it",
    ):
        assert words in page, words


def test_a_couple_deletes_a_ledger_only_when_both_ask(app, couple):
    sam, alex, ledger_id = couple
    propose(sam, ledger_id)
    response = ask_to_delete(sam, ledger_id)
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    page = sam.get(response.headers["Location"]).get_data(as_text=True)
    assert "You asked to delete “Sam &amp; Alex”." in page
    assert 'Still asked: <span dir="auto">Alex</span>.' in page
    assert exists(app, ledger_id)
    # Asking again adds nothing: it still waits for Alex.
    assert ask_to_delete(sam, ledger_id).status_code == 302
    assert exists(app, ledger_id)

    page = alex.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert '<span dir="auto">Sam</span> asked on' in page
    assert "Read and confirm…" in page
    page = alex.get(f"/ledgers/{ledger_id}/delete").get_data(as_text=True)
    assert "Confirm: delete “Sam &amp; Alex”" in page
    assert "Yours is the last yes: the ledger is deleted at once." in page
    assert "Withdraw my request" not in page  # only the one who asked can

    response = ask_to_delete(alex, ledger_id)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = alex.get("/").get_data(as_text=True)
    assert "“Sam &amp; Alex” is deleted, with everything in it, as every partner asked." in home
    assert not exists(app, ledger_id)
    for client in (sam, alex):
        assert client.get(f"/ledgers/{ledger_id}").status_code == 404
        assert client.get(f"/ledgers/{ledger_id}/delete").status_code == 404
    with app.app_context():
        assert Agreement.select().count() == Revision.select().count() == 0
        checked, _, broken = verify_all()
        assert broken is None and checked == 0


def test_three_partners_and_one_leaves_midway(app):
    """Sam asks, Alex confirms; Eli leaves: the request lapses, and the two
    who remain are asked again (Eli is no longer waited for)."""
    sam, alex, eli = (person(app, name) for name in ("sam", "alex", "eli"))
    ledger_id = create_ledger(sam)
    for client in (alex, eli):
        join(client, invite(sam, ledger_id)[1])
    stale = csrf_token(alex, f"/ledgers/{ledger_id}/delete")  # a page left open
    ask_to_delete(sam, ledger_id)
    page = ask_to_delete(alex, ledger_id)
    assert "Your yes is recorded." in alex.get(page.headers["Location"]).get_data(as_text=True)
    page = eli.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert 'Still asked: <span dir="auto">Eli</span> (you).' in page
    assert exists(app, ledger_id)

    assert post_form(eli, f"/ledgers/{ledger_id}/leave", {}).status_code == 302
    with app.app_context():
        assert LedgerDeletion.get().outcome == "lapsed"
    assert exists(app, ledger_id)
    page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert "A request to delete this ledger" not in page

    # Alex's page from before: sent now, it asks anew, with Alex's yes alone.
    response = alex.post(f"/ledgers/{ledger_id}/delete", data={"csrf_token": stale})
    assert "You asked to delete" in alex.get(response.headers["Location"]).get_data(as_text=True)
    assert exists(app, ledger_id)
    page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert 'Still asked: <span dir="auto">Sam</span> (you).' in page
    assert ask_to_delete(sam, ledger_id).headers["Location"] == "/"
    assert not exists(app, ledger_id)


def test_someone_joining_midway_is_asked_too(app, couple):
    sam, alex, ledger_id = couple
    ask_to_delete(sam, ledger_id)
    robin = person(app, "robin")
    join(robin, invite(sam, ledger_id)[1])
    with app.app_context():
        assert LedgerDeletion.get().outcome == "lapsed"
    # Alex's yes now opens a new request, which waits for Sam and Robin.
    ask_to_delete(alex, ledger_id)
    page = robin.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert 'Still asked: <span dir="auto">Sam</span>, <span dir="auto">Robin</span> (you).' in page
    ask_to_delete(sam, ledger_id)
    assert exists(app, ledger_id)
    assert ask_to_delete(robin, ledger_id).headers["Location"] == "/"
    assert not exists(app, ledger_id)


def test_the_partner_who_asked_withdraws_it(app, couple):
    sam, alex, ledger_id = couple
    ask_to_delete(sam, ledger_id)
    assert "Withdraw my request" in sam.get(f"/ledgers/{ledger_id}/delete").get_data(as_text=True)
    # Only the partner who asked can withdraw it.
    assert withdraw(alex, ledger_id).status_code == 403
    response = withdraw(sam, ledger_id)
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    page = sam.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your request to delete “Sam &amp; Alex” is withdrawn. Nothing was deleted." in page
    assert "A request to delete this ledger" not in page
    with app.app_context():
        assert LedgerDeletion.get().outcome == "withdrawn"
    # Alex's yes now is a new request, not the last yes of the old one.
    ask_to_delete(alex, ledger_id)
    assert exists(app, ledger_id)
    page = withdraw(sam, ledger_id)  # Alex's request is not Sam's to withdraw
    assert page.status_code == 403
    assert withdraw(alex, ledger_id).status_code == 302
    response = withdraw(alex, ledger_id)  # a second click: nothing open any more
    assert "There is no open request" in alex.get(response.headers["Location"]).get_data(
        as_text=True
    )
    with app.app_context():
        assert LedgerDeletion.select().where(LedgerDeletion.resolved_at.is_null()).count() == 0


def test_the_only_partner_deletes_at_once(app, user_client):
    ledger_id = create_ledger(user_client, "Just me")
    page = user_client.get(f"/ledgers/{ledger_id}/delete").get_data(as_text=True)
    assert "You are the only partner in this ledger, so asking deletes it at once." in page
    assert ask_to_delete(user_client, ledger_id).headers["Location"] == "/"
    assert not exists(app, ledger_id)


# Nothing of a deleted ledger remains


def _belonging(model, ledger_id, seen=()):
    """A query of the rows of ``model`` that belong to the ledger (its own
    ``ledger`` column, or a cascading key to a row that belongs), or None."""
    if model is Ledger:
        return Ledger.select(Ledger.id).where(Ledger.id == ledger_id)
    where = None
    for field in model._meta.sorted_fields:
        if not isinstance(field, ForeignKeyField) or field.rel_model in (User, model, *seen):
            continue
        if field.rel_model is Ledger and field.name != "ledger":
            continue  # a device's current ledger: set to NULL, the device stays
        if field.rel_model is not Ledger and field.on_delete != "CASCADE":
            continue
        parent = _belonging(field.rel_model, ledger_id, (*seen, model))
        if parent is None:
            continue
        term = field.in_(parent.select(field.rel_field))
        where = term if where is None else where | term
    return None if where is None else model.select(model._meta.primary_key).where(where)


def counts(ledger_id):
    found = {}
    for model in MODELS:
        query = _belonging(model, ledger_id)
        if query is not None:
            found[model._meta.table_name] = query.count()
    return found


def test_after_deletion_no_row_of_that_ledger_remains(world):
    app = world.app
    ids, others = world.ids["sam"], world.ids["casey"]
    sam, alex, eli = (world.client(name) for name in ("sam", "alex", "eli"))
    ledger_id = ids["ledger_id"]
    rename(alex, ledger_id, "Our home")
    with app.app_context():
        sam_user, alex_user = (
            User.get(User.email_key == f"{n}@example.org") for n in ("sam", "alex")
        )
        agreement = Agreement.get_by_id(ids["agreement_id"])
        state = StoredState.get(StoredState.agreement == agreement.id)
        review = Review.create(ledger=ledger_id, started_at=utcnow(), scope="all")
        ReviewItem.create(
            review=review, agreement=agreement, revision=state.in_force_id, position=1
        )
        CoolingOffRequest.agree(Ledger.get_by_id(ledger_id), sam_user, "off", None, utcnow())
        CoolingOffRequest.agree(Ledger.get_by_id(ledger_id), alex_user, "hours", 6, utcnow())
        agreements = [a.id for a in Agreement.select().where(Agreement.ledger == ledger_id)]
        other_before = counts(others["ledger_id"])
    ask_to_delete(sam, ledger_id)
    ask_to_delete(alex, ledger_id)
    with app.app_context():
        before = counts(ledger_id)
    # The test can fail: every kind of row the ledger has is there before.
    for table in (
        "ledger",
        "membership",
        "invitation",
        "removal",
        "removalconfirmation",
        "agreement",
        "revision",
        "consent",
        "draft",
        "agreementstate",
        "waiting",
        "activity",
        "pauselog",
        "coolingoffrequest",
        "coolingoffconfirmation",
        "agendaitem",
        "review",
        "reviewitem",
        "ledgerrename",
        "ledgerdeletion",
        "ledgerdeletionconfirmation",
    ):
        assert before[table] > 0, table

    assert ask_to_delete(eli, ledger_id).headers["Location"] == "/"
    with app.app_context():
        after = counts(ledger_id)
        assert after == dict.fromkeys(before, 0)
        assert Revision.select().where(Revision.agreement.in_(agreements)).count() == 0
        assert Consent.select().where(Consent.agreement.in_(agreements)).count() == 0
        assert DeviceSession.select().where(DeviceSession.current_ledger == ledger_id).count() == 0
        assert User.select().count() == 6  # the accounts stay
        # The other couple's ledger is untouched, and every chain verifies.
        assert counts(others["ledger_id"]) == other_before
        checked, links, broken = verify_all()
        assert broken is None, str(broken)
        assert checked == Agreement.select().count() == other_before["agreement"]
    assert world.client("casey").get(f"/ledgers/{others['ledger_id']}").status_code == 200


def test_a_removal_carried_out_makes_the_request_lapse(app, couple):
    """A removal carried out when its notice period ends is a change of
    partners too: the request to delete lapses in the same write."""
    sam, alex, ledger_id = couple
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        with app.app_context():
            alex_membership = list(Ledger.get_by_id(ledger_id).partners())[1].id
        post_form(sam, f"/ledgers/{ledger_id}/partners/{alex_membership}/remove", {})
        ask_to_delete(alex, ledger_id)
        traveller.shift(timedelta(days=8))
        with app.app_context():  # what settle-removals runs
            assert Removal.carry_out_due() == 1
            assert [r.outcome for r in LedgerDeletion.select()] == ["lapsed"]
            assert len(list(Ledger.get_by_id(ledger_id).partners())) == 1
