"""Ledgers and partners: create, invite, join, switch, leave and remove."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playhouse.test_utils import count_queries

from ledger.chain import verify_all
from ledger.db import utcnow
from ledger.models import (
    DeviceSession,
    Draft,
    Invitation,
    Ledger,
    Membership,
    Removal,
    User,
    Waiting,
)
from ledger.models import ledgers as ledger_models
from ledger.models.ledgers import NameTaken

from .helpers import AuthActions, answer, create_ledger, invite, join, post_form, propose


def signed_in(app, name):
    client = app.test_client()
    response = AuthActions(client).register(email=f"{name}@example.org", name=name.title())
    assert response.status_code == 302
    return client


def partners(app, ledger_id):
    with app.app_context():
        return [m.user.display_name for m in Ledger.get_by_id(ledger_id).partners()]


def test_home_explains_ledgers_when_there_is_none(user_client):
    page = user_client.get("/").get_data(as_text=True)
    assert "A ledger is the private space you share" in page
    assert 'href="/ledgers/new"' in page


def test_create_a_ledger(app, user_client):
    response = post_form(
        user_client, "/ledgers/new", {"name": "  Sam & Alex ", "time_zone": "Europe/Lisbon"}
    )
    ledger_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = user_client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<h1 dir="auto">Sam &amp; Alex</h1>' in page
    assert "This ledger is waiting for a partner." in page
    assert "Ledger: <a" in page  # the header shows which ledger this is
    assert user_client.get("/").headers["Location"] == f"/ledgers/{ledger_id}/agreements"
    with app.app_context():
        ledger = Ledger.get_by_id(ledger_id)
        assert (ledger.name, ledger.time_zone) == ("Sam & Alex", "Europe/Lisbon")
        assert DeviceSession.get().current_ledger_id == ledger_id
    assert partners(app, ledger_id) == ["Sam"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "time_zone": "UTC"}, "Please give it a name"),
        ({"name": "x" * 81, "time_zone": "UTC"}, "81 characters long; please shorten it to 80"),
        ({"name": "Us", "time_zone": "Nowhere/Land"}, "Not a valid choice"),
    ],
)
def test_create_refuses_bad_input(app, user_client, data, message):
    response = post_form(user_client, "/ledgers/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Ledger.select().count() == 0


def test_invitation_link_is_secret_hashed_and_from_the_base_url(app, user_client):
    ledger_id = create_ledger(user_client)
    response = post_form(
        user_client,
        f"/ledgers/{ledger_id}/invitations",
        {"note": "for Alex"},
        page=f"/ledgers/{ledger_id}",
    )
    page = user_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="http://ledger.test/join/' in page
    token = page.split('value="http://ledger.test/join/')[1].split('"')[0]
    assert len(token) >= 43  # 256 bits from secrets, URL-safe
    with app.app_context():
        invitation = Invitation.get()
        assert invitation.token_hash != token
        assert token not in str(list(Invitation.select().dicts()))
        assert invitation.note == "for Alex"
        assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_signed_out_partner_registers_and_joins(app, user_client):
    ledger_id = create_ledger(user_client)
    _, path = invite(user_client, ledger_id, note="for Alex")
    alex = app.test_client()
    page = alex.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Join “Sam &amp; Alex”" in text
    assert "Sam\n    invited you" in text
    register_url = f"/register?next={path}"
    assert f'href="{register_url}"' in text

    response = post_form(
        alex,
        register_url,
        {
            "email": "alex@example.org",
            "display_name": "Alex",
            "time_zone": "UTC",
            "password": "quiet harbour lantern 42",
        },
    )
    assert response.headers["Location"] == path
    assert "Join “Sam &amp; Alex”?" in alex.get(path).get_data(as_text=True)
    response = join(alex, path)
    assert response.headers["Location"] == f"/ledgers/{ledger_id}/agreements"
    assert partners(app, ledger_id) == ["Sam", "Alex"]
    page = user_client.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert "waiting for a partner" not in page
    assert "Alex joined through it" in page


def test_existing_account_logs_in_and_joins(app, user_client):
    ledger_id = create_ledger(user_client)
    _, path = invite(user_client, ledger_id)
    alex = signed_in(app, "alex")
    post_form(alex, "/logout", {})
    response = post_form(
        alex,
        f"/login?next={path}",
        {"email": "alex@example.org", "password": "quiet harbour lantern 42"},
    )
    assert response.headers["Location"] == path
    assert join(alex, path).status_code == 302
    assert partners(app, ledger_id) == ["Sam", "Alex"]


def test_invitation_works_once(app, user_client):
    ledger_id = create_ledger(user_client)
    _, path = invite(user_client, ledger_id)
    assert join(signed_in(app, "alex"), path).status_code == 302
    eli = signed_in(app, "eli")
    response = eli.get(path)
    assert response.status_code == 410
    assert "already used" in response.get_data(as_text=True)
    assert eli.post(path).status_code == 410
    assert partners(app, ledger_id) == ["Sam", "Alex"]


def test_invitation_expires_after_seven_days(app, user_client):
    ledger_id = create_ledger(user_client)
    alex = signed_in(app, "alex")
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        _, path = invite(user_client, ledger_id)
        traveller.shift(timedelta(days=6, hours=23))
        assert alex.get(path).status_code == 200
        traveller.shift(timedelta(hours=1, seconds=1))
        response = alex.get(path)
        assert response.status_code == 410
        assert "has expired" in response.get_data(as_text=True)
        assert "Sam &amp; Alex" not in response.get_data(as_text=True)


def test_revoked_invitation_says_so(app, user_client):
    ledger_id = create_ledger(user_client)
    invitation_id, path = invite(user_client, ledger_id)
    response = post_form(
        user_client,
        f"/ledgers/{ledger_id}/invitations/{invitation_id}/revoke",
        {},
        page=f"/ledgers/{ledger_id}/invitations/{invitation_id}",
    )
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    response = signed_in(app, "alex").get(path)
    assert response.status_code == 410
    assert "withdrawn" in response.get_data(as_text=True)
    assert "Withdrawn." in user_client.get(f"/ledgers/{ledger_id}").get_data(as_text=True)


def test_unknown_invitation_is_404(app):
    response = app.test_client().get("/join/not-a-real-token")
    assert response.status_code == 404
    assert "isn't a valid invitation" in response.get_data(as_text=True)


def test_partner_opening_an_invitation_leaves_it_open(app, user_client):
    ledger_id = create_ledger(user_client)
    invitation_id, path = invite(user_client, ledger_id)
    response = user_client.get(path)
    assert "You're already a partner" in response.get_data(as_text=True)
    assert user_client.post(path).status_code == 200
    with app.app_context():
        assert Invitation.get_by_id(invitation_id).status(utcnow()) == "open"


def test_link_is_shown_only_to_its_maker_right_after(app, user_client):
    ledger_id = create_ledger(user_client)
    invitation_id, _ = invite(user_client, ledger_id)
    alex = signed_in(app, "alex")
    _, path = invite(user_client, ledger_id)
    join(alex, path)
    page = alex.get(f"/ledgers/{ledger_id}/invitations/{invitation_id}")
    assert page.status_code == 200
    assert "/join/" not in page.get_data(as_text=True)


def test_accepting_twice_creates_one_membership(app, user_client):
    ledger_id = create_ledger(user_client)
    _, path = invite(user_client, ledger_id)
    token = path.rsplit("/", 1)[1]
    signed_in(app, "alex")
    with app.app_context():
        invitation = Invitation.by_token(token)
        alex = User.by_email("alex@example.org")
        assert invitation.accept(alex, utcnow()) is True
        assert invitation.accept(alex, utcnow()) is False
        assert Membership.select().where(Membership.user == alex).count() == 1


def _three_partners(app):
    sam = signed_in(app, "sam")
    ledger_id = create_ledger(sam)
    clients = {"sam": sam}
    for name in ("alex", "eli"):
        clients[name] = signed_in(app, name)
        join(clients[name], invite(sam, ledger_id)[1])
    with app.app_context():
        ids = {m.user.display_name.lower(): m.id for m in Ledger.get_by_id(ledger_id).partners()}
    return ledger_id, clients, ids


def test_leaving_keeps_history_and_ends_access(app):
    sam = signed_in(app, "sam")
    ledger_id = create_ledger(sam)
    alex = signed_in(app, "alex")
    join(alex, invite(sam, ledger_id)[1])
    page = alex.get(f"/ledgers/{ledger_id}/leave").get_data(as_text=True)
    assert "Without you, the ledger will be waiting for a partner" in page
    response = post_form(alex, f"/ledgers/{ledger_id}/leave", {})
    assert response.headers["Location"] == "/"
    assert alex.get(f"/ledgers/{ledger_id}").status_code == 404
    page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert "waiting for a partner" in page
    assert '<span dir="auto">Alex</span>: joined' in page and "; left on" in page
    with app.app_context():
        membership = Membership.get(Membership.user == User.by_email("alex@example.org"))
        assert membership.ended_how == "left"
        assert Ledger.select().count() == 1


def test_removal_needs_every_remaining_partner(app):
    ledger_id, clients, ids = _three_partners(app)
    url = f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove"
    page = clients["sam"].get(url).get_data(as_text=True)
    assert "every other partner has confirmed it" in page
    post_form(clients["sam"], url, {})
    # Sam alone is not enough: Eli keeps access, Alex is asked.
    assert clients["eli"].get(f"/ledgers/{ledger_id}").status_code == 200
    alex_page = clients["alex"].get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert 'Remove <span dir="auto">Eli</span>' in alex_page
    assert 'Waiting for: <span dir="auto">Alex</span>.' in alex_page
    response = post_form(clients["alex"], url, {})
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    # Eli loses access at once.
    assert clients["eli"].get(f"/ledgers/{ledger_id}").status_code == 404
    assert partners(app, ledger_id) == ["Sam", "Alex"]
    page = clients["sam"].get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert '<span dir="auto">Eli</span>: joined' in page and "; no longer a partner since" in page


def membership_of(app, ledger_id, name):
    with app.app_context():
        return Membership.active(ledger_id, User.by_email(f"{name}@example.org")).id


def log_in_again(*named_clients):
    """After a week, sessions that were not remembered have ended."""
    for name, client in named_clients:
        assert AuthActions(client).login(email=f"{name}@example.org").status_code == 302


def test_in_a_couple_removal_takes_effect_after_seven_days(app, couple):
    sam, alex, ledger_id = couple
    url = f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove"
    page = sam.get(url).get_data(as_text=True)
    assert "it takes effect 7 days from now" in page
    pending = propose(sam, ledger_id, title="Waits for Alex")
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        response = post_form(sam, url, {})
        assert response.headers["Location"] == f"/ledgers/{ledger_id}"
        assert "Alex stays a partner until" in sam.get(response.headers["Location"]).get_data(
            as_text=True
        )
        with app.app_context():
            removal = Removal.get()
            assert removal.resolved_at is None
            assert removal.takes_effect_at - removal.created_at == timedelta(days=7)

        # Alex is told on every page of the ledger, and stays a partner.
        for path in (f"/ledgers/{ledger_id}", f"/ledgers/{ledger_id}/agreements", pending):
            page = alex.get(path).get_data(as_text=True)
            assert "Sam</span> asked to\n      remove you from this ledger" in page, path
            assert "Cancel this removal" in page
        assert "Cancel this removal" not in sam.get(pending).get_data(as_text=True)
        assert answer(alex, pending, 1).status_code == 302
        propose(alex, ledger_id, title="Alex still proposes")

        traveller.shift(timedelta(days=6, hours=23))
        log_in_again(("sam", sam), ("alex", alex))
        assert alex.get(f"/ledgers/{ledger_id}").status_code == 200
        traveller.shift(timedelta(hours=1, seconds=1))
        # The first request that touches the ledger carries it out.
        assert alex.get(f"/ledgers/{ledger_id}").status_code == 404
        assert partners(app, ledger_id) == ["Sam"]
        with app.app_context():
            removal = Removal.get()
            assert removal.outcome == "removed"
            assert Membership.get_by_id(removal.membership_id).ended_how == "removed"
            alex_id = User.by_email("alex@example.org").id
            assert not Waiting.select().where(Waiting.user == alex_id).count()  # not awaited
            assert verify_all()[2] is None


def test_the_partner_told_cancels_the_removal(app, couple):
    sam, alex, ledger_id = couple
    post_form(
        sam, f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove", {}
    )
    with app.app_context():
        removal_id = Removal.get().id
    response = post_form(
        alex,
        f"/ledgers/{ledger_id}/removals/{removal_id}/withdraw",
        {},
        page=f"/ledgers/{ledger_id}/agreements",
    )
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    page = alex.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
    assert "you stay a partner in this ledger" in page
    assert "Cancel this removal" not in page
    with app.app_context():
        assert Removal.get().outcome == "cancelled"
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=False):
        log_in_again(("alex", alex))
        assert alex.get(f"/ledgers/{ledger_id}").status_code == 200
    assert partners(app, ledger_id) == ["Sam", "Alex"]


def test_a_third_partner_cannot_cancel_a_removal_for_its_partner(app):
    ledger_id, clients, ids = _three_partners(app)
    post_form(clients["sam"], f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove", {})
    with app.app_context():
        removal_id = Removal.get().id
    # Still asking Alex (no notice period): Eli can neither cancel nor confirm it.
    url = f"/ledgers/{ledger_id}/removals/{removal_id}/withdraw"
    assert post_form(clients["eli"], url, {}, page=f"/ledgers/{ledger_id}").status_code == 403
    with app.app_context():
        assert Removal.get().resolved_at is None


def test_the_timer_command_carries_out_due_removals(app, couple, runner):
    sam, alex, ledger_id = couple
    post_form(
        sam, f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove", {}
    )
    draft = post_form(
        alex,
        f"/ledgers/{ledger_id}/agreements/new/general",
        {"title": "Alex's own draft", "text": "Not yet.", "action": "draft"},
    )
    assert draft.status_code == 302
    assert "Carried out 0 removal(s)" in runner.invoke(args=["settle-removals"]).output
    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1), tick=False):
        result = runner.invoke(args=["settle-removals"])
        assert result.exit_code == 0
        assert "Carried out 1 removal(s) whose notice period had ended." in result.output
        with app.app_context():
            assert verify_all()[2] is None
            assert Draft.select().count() == 0  # Alex can no longer reach it
    assert partners(app, ledger_id) == ["Sam"]
    assert "Carried out 0 removal(s)" in runner.invoke(args=["settle-removals"]).output


def test_the_notice_hook_is_called_once(app, couple, monkeypatch):
    told = []
    monkeypatch.setattr(ledger_models, "REMOVAL_REQUESTED", [told.append])
    sam, _, ledger_id = couple
    url = f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove"
    post_form(sam, url, {})
    post_form(sam, url, {})  # asking again changes nothing
    assert [removal.outcome for removal in told] == [None]
    with app.app_context():
        assert Removal.select().count() == 1


def test_someone_joining_during_the_notice_period_is_asked_too(app, couple):
    sam, alex, ledger_id = couple
    url = f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove"
    post_form(sam, url, {})
    eli = signed_in(app, "eli")
    join(eli, invite(sam, ledger_id)[1])
    with app.app_context():
        assert Removal.get().takes_effect_at is None
    assert 'Waiting for: <span dir="auto">Eli</span>.' in sam.get(f"/ledgers/{ledger_id}").get_data(
        as_text=True
    )
    post_form(eli, url, {})  # two others confirmed: at once
    assert alex.get(f"/ledgers/{ledger_id}").status_code == 404
    assert partners(app, ledger_id) == ["Sam", "Eli"]


def test_nobody_confirms_their_own_removal(app):
    ledger_id, clients, ids = _three_partners(app)
    url = f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove"
    post_form(clients["sam"], url, {})
    response = clients["eli"].get(url)
    assert response.headers["Location"] == f"/ledgers/{ledger_id}/leave"
    assert clients["eli"].post(url).headers["Location"] == f"/ledgers/{ledger_id}/leave"
    with app.app_context():
        assert Removal.get().resolved_at is None


def test_only_the_requester_withdraws_a_removal(app):
    ledger_id, clients, ids = _three_partners(app)
    post_form(clients["sam"], f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove", {})
    with app.app_context():
        removal_id = Removal.get().id
    url = f"/ledgers/{ledger_id}/removals/{removal_id}/withdraw"
    page = f"/ledgers/{ledger_id}"
    assert post_form(clients["alex"], url, {}, page=page).status_code == 403
    assert post_form(clients["sam"], url, {}, page=page).headers["Location"] == page
    with app.app_context():
        assert Removal.get().outcome == "withdrawn"
    assert partners(app, ledger_id) == ["Sam", "Alex", "Eli"]


def test_leaving_settles_open_removals(app):
    ledger_id, clients, ids = _three_partners(app)
    post_form(clients["sam"], f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove", {})
    # Alex, the only one still asked, leaves: Sam alone now decides, so the
    # notice period starts.
    post_form(clients["alex"], f"/ledgers/{ledger_id}/leave", {})
    with app.app_context():
        removal = Removal.get()
        assert removal.outcome is None and removal.takes_effect_at is not None
    assert partners(app, ledger_id) == ["Sam", "Eli"]


def test_a_request_lapses_when_the_partner_who_made_it_leaves(app, couple):
    sam, _, ledger_id = couple
    post_form(
        sam, f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove", {}
    )
    post_form(sam, f"/ledgers/{ledger_id}/leave", {})
    with app.app_context():
        assert Removal.get().outcome == "lapsed"
    assert partners(app, ledger_id) == ["Alex"]


def test_removal_lapses_when_its_partner_leaves(app):
    ledger_id, clients, ids = _three_partners(app)
    post_form(clients["sam"], f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove", {})
    post_form(clients["eli"], f"/ledgers/{ledger_id}/leave", {})
    with app.app_context():
        assert Removal.get().outcome == "lapsed"
        assert Membership.get_by_id(ids["eli"]).ended_how == "left"


def test_switch_between_ledgers(app):
    sam = signed_in(app, "sam")
    first = create_ledger(sam, "Sam & Alex")
    second = create_ledger(sam, "Sam, Robin & Kit")
    page = sam.get(f"/ledgers/{second}").get_data(as_text=True)
    assert '<label for="switch-ledger">Ledger</label>' in page
    assert f'<option selected value="{second}">' in page
    response = post_form(sam, "/ledgers/switch", {"ledger": str(first)}, page=f"/ledgers/{second}")
    assert response.headers["Location"] == f"/ledgers/{first}"
    assert sam.get("/").headers["Location"] == f"/ledgers/{first}/agreements"
    assert f'<option selected value="{first}">' in sam.get(f"/ledgers/{first}").get_data(
        as_text=True
    )


def test_each_device_keeps_its_own_current_ledger(app):
    sam = signed_in(app, "sam")
    first = create_ledger(sam, "A")
    create_ledger(sam, "B")
    phone = app.test_client()
    AuthActions(phone).login()
    post_form(phone, "/ledgers/switch", {"ledger": str(first)}, page="/ledgers/new")
    assert phone.get("/").headers["Location"] == f"/ledgers/{first}/agreements"
    assert sam.get("/").headers["Location"] != f"/ledgers/{first}/agreements"


def test_ledger_page_has_a_fixed_query_budget(app):
    """Partners, former partners, invitations and removal requests: 3 or many."""
    ledger_id, clients, ids = _three_partners(app)
    sam = clients["sam"]
    post_form(sam, f"/ledgers/{ledger_id}/partners/{ids['eli']}/remove", {})
    counts = []
    for more in (0, 10):
        for n in range(more):
            client = signed_in(app, f"extra{n}")
            join(client, invite(sam, ledger_id)[1])
            invite(sam, ledger_id)
            with app.app_context():
                membership = Membership.active(ledger_id, User.by_email(f"extra{n}@example.org"))
            post_form(sam, f"/ledgers/{ledger_id}/partners/{membership.id}/remove", {})
            if n % 2:
                post_form(client, f"/ledgers/{ledger_id}/leave", {})
        with count_queries() as counter:
            page = sam.get(f"/ledgers/{ledger_id}")
            assert page.status_code == 200
        counts.append(counter.count)
    assert 'Remove <span dir="auto">Extra0</span>' in page.get_data(as_text=True)
    assert '<span dir="auto">Extra1</span>: joined' in page.get_data(as_text=True)
    # 8 for the page, 1 for both counts in the nav (answers waiting, reviews
    # due), 1 for removals in their notice period.
    assert counts[0] == counts[1] == 10


def day(moment):
    """A date as pages write it, in Europe/Berlin (the test accounts' zone)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Berlin")).strftime("%-d %B %Y")


def test_a_new_account_cannot_pass_for_a_removed_partner(app, couple):
    """Removed alone, then replaced by a new account with the same name: every
    acceptance still says who is who, and the newcomer picks another name."""
    sam, alex, ledger_id = couple
    start = datetime.now(UTC)
    path = propose(sam, ledger_id, title="Phones away at dinner")
    assert answer(alex, path, 1).status_code == 302
    remove = f"/ledgers/{ledger_id}/partners/{membership_of(app, ledger_id, 'alex')}/remove"
    post_form(sam, remove, {})
    with time_machine.travel(start + timedelta(days=7, minutes=1), tick=False):
        log_in_again(("sam", sam))
        assert sam.get(f"/ledgers/{ledger_id}").status_code == 200  # carried out
        impostor = app.test_client()
        AuthActions(impostor).register(email="other@example.org", name="ALEX ")
        _, link = invite(sam, ledger_id)
        page = impostor.get(link).get_data(as_text=True)
        assert "goes by a name that\n        reads like yours" in page
        for typed, message in [
            ("", "Please choose a name for this ledger."),
            ("alex", "That reads like “Alex”, who is or was a partner here."),
            ("Ａｌｅｘ", "That reads like “Alex”, who is or was a partner here."),
            ("sam", "That reads like “Sam”, who is or was a partner here."),
        ]:
            response = post_form(impostor, link, {"display_name": typed})
            assert response.status_code == 422, typed
            assert message in response.get_data(as_text=True)
        assert partners(app, ledger_id) == ["Sam"]
        assert post_form(impostor, link, {"display_name": "Alex K."}).status_code == 302
        assert answer(impostor, path, 1).status_code == 302  # accepts what is in force

        joined, left = day(start), day(start + timedelta(days=7, minutes=1))
        former = f"Alex (a former partner: joined {joined}, left {left})"
        printed = sam.get(f"/ledgers/{ledger_id}/print").get_data(as_text=True)
        assert f"accepted by Sam on {joined}, by {former} on {joined}, by Alex K. on" in printed
        shown = sam.get(path).get_data(as_text=True)
        assert f"by {former} on {joined}" in shown
        history = sam.get(f"{path}/history").get_data(as_text=True)
        assert f"<li>{former}\n" in history
        ledger_page = sam.get(f"/ledgers/{ledger_id}").get_data(as_text=True)
        assert '<span dir="auto">Alex K.</span>' in ledger_page
    with app.app_context():
        newcomer = Membership.active(ledger_id, User.by_email("other@example.org"))
        assert (newcomer.display_name, newcomer.user.display_name) == ("Alex K.", "ALEX")


def test_no_name_to_choose_when_nobody_is_called_alike(app, couple):
    sam, _, ledger_id = couple
    eli = signed_in(app, "eli")
    _, link = invite(sam, ledger_id)
    assert "Your name in this ledger" not in eli.get(link).get_data(as_text=True)
    # A name sent anyway is not kept: there was nothing to choose.
    assert post_form(eli, link, {"display_name": "Someone else"}).status_code == 302
    with app.app_context():
        assert Membership.active(ledger_id, User.by_email("eli@example.org")).display_name is None


def test_a_name_taken_a_moment_before_is_refused_under_the_lock(app, couple):
    sam, _, ledger_id = couple
    first, second = signed_in(app, "eli"), signed_in(app, "robin")
    _, first_link = invite(sam, ledger_id)
    _, second_link = invite(sam, ledger_id)
    with app.app_context():
        User.update(display_name="Eli").where(User.email_key == "robin@example.org").execute()
    page = second.get(second_link).get_data(as_text=True)
    assert "Your name in this ledger" not in page  # nobody called Eli yet
    assert join(first, first_link).status_code == 302
    response = join(second, second_link)  # the form was read before Eli joined
    assert response.status_code == 422
    assert "Please choose a name for this ledger." in response.get_data(as_text=True)
    with app.app_context():
        # The write checks again under the lock, whatever the form said.
        invitation = Invitation.by_token(second_link.rsplit("/", 1)[1])
        with pytest.raises(NameTaken):
            invitation.accept(User.by_email("robin@example.org"), utcnow())
        assert Invitation.get_by_id(invitation.id).status(utcnow()) == "open"
    assert partners(app, ledger_id) == ["Sam", "Alex", "Eli"]
    assert post_form(second, second_link, {"display_name": "Robin"}).status_code == 302


def test_names_that_read_alike_after_a_rename_say_when_each_joined(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    with app.app_context():  # an account renamed after joining
        User.update(display_name="sam").where(User.email_key == "alex@example.org").execute()
    page = sam.get(path).get_data(as_text=True)
    assert "by Sam (joined " in page and "by sam (joined " in page
