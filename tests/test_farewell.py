"""Deleting an account, and a ledger whose last partner goes."""

from ledger.chain import verify_all
from ledger.models import (
    Agreement,
    Consent,
    DeviceSession,
    Draft,
    Ledger,
    Membership,
    Revision,
    User,
)

from .helpers import PASSWORD, AuthActions, answer, create_ledger, post_form, propose


def delete(client, password=PASSWORD):
    return post_form(client, "/account/delete", {"current_password": password})


def test_deleting_an_account_keeps_the_shared_history(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, title="Sunday check-in")
    answer(alex, path, 1, decision="concern", note="Busy Sundays")
    post_form(
        alex,
        f"/ledgers/{ledger_id}/agreements/new/general",
        {"title": "Private", "text": "x", "action": "draft"},
    )
    # First, the export is offered.
    page = alex.get("/account/delete").get_data(as_text=True)
    assert f"/ledgers/{ledger_id}/export.json" in page
    # A wrong password changes nothing.
    response = delete(alex, "not my password")
    assert response.status_code == 422
    with app.app_context():
        assert User.get(User.email_key == "alex@example.org").display_name == "Alex"
    response = delete(alex)
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert alex.get(f"/ledgers/{ledger_id}").headers["Location"].startswith("/login")
    with app.app_context():
        gone = User.get(User.display_name == "Former partner")
        assert gone.email == "" and "pbkdf2" not in gone.password_hash
        assert User.by_email("alex@example.org") is None
        assert DeviceSession.select().where(DeviceSession.user == gone).count() == 0
        assert Draft.select().where(Draft.author == gone).count() == 0
        membership = Membership.get(Membership.user == gone)
        assert membership.left_at is not None and membership.ended_how == "left"
        # Their answer stays, as it was given, and everything still verifies.
        assert (
            Consent.select()
            .where((Consent.user == gone) & (Consent.note == "Busy Sundays"))
            .count()
            == 1
        )
        checked, _, broken = verify_all()
        assert broken is None and checked == 1
    # Sam still sees the whole history, with the former partner's answer.
    history = sam.get(f"{path}/history").get_data(as_text=True)
    assert "Busy Sundays" in history and "Former partner" in history
    # Nobody can log in as the deleted account.
    assert AuthActions(app.test_client()).login(email="alex@example.org").status_code != 302


def test_a_ledger_whose_last_partner_goes_is_deleted_with_everything(app, couple):
    sam, alex, ledger_id = couple
    propose(sam, ledger_id, title="Ours")
    other = create_ledger(sam, "Only Sam")
    propose(sam, other, title="Mine alone")
    assert post_form(alex, f"/ledgers/{ledger_id}/leave", {}).status_code == 302
    with app.app_context():
        assert Ledger.get_or_none(Ledger.id == ledger_id) is not None  # Sam is still there
    assert delete(sam).status_code == 302
    with app.app_context():
        assert Ledger.select().count() == 0
        assert Agreement.select().count() == Revision.select().count() == 0
        assert Consent.select().count() == 0
        checked, _, broken = verify_all()
        assert broken is None and checked == 0
