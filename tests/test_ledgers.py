"""Ledgers and partners: create, invite, join, switch, leave and remove."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playhouse.test_utils import count_queries

from ledger.db import utcnow
from ledger.models import DeviceSession, Invitation, Ledger, Membership, Removal, User

from .helpers import AuthActions, create_ledger, invite, join, post_form


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
    assert "Alex: left on" in page
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
    assert "Remove Eli" in alex_page
    assert 'Waiting for: <span dir="auto">Alex</span>.' in alex_page
    response = post_form(clients["alex"], url, {})
    assert response.headers["Location"] == f"/ledgers/{ledger_id}"
    # Eli loses access at once.
    assert clients["eli"].get(f"/ledgers/{ledger_id}").status_code == 404
    assert partners(app, ledger_id) == ["Sam", "Alex"]
    assert "Eli: no longer a partner" in clients["sam"].get(f"/ledgers/{ledger_id}").get_data(
        as_text=True
    )


def test_in_a_couple_the_other_partner_alone_confirms(app):
    sam = signed_in(app, "sam")
    ledger_id = create_ledger(sam)
    alex = signed_in(app, "alex")
    join(alex, invite(sam, ledger_id)[1])
    with app.app_context():
        alex_membership = Membership.get(Membership.user == User.by_email("alex@example.org"))
    post_form(sam, f"/ledgers/{ledger_id}/partners/{alex_membership.id}/remove", {})
    assert alex.get(f"/ledgers/{ledger_id}").status_code == 404


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
    # Alex, the only one still asked, leaves: nobody else needs to confirm.
    post_form(clients["alex"], f"/ledgers/{ledger_id}/leave", {})
    with app.app_context():
        assert Removal.get().outcome == "removed"
    assert partners(app, ledger_id) == ["Sam"]


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
    assert "Remove Extra0" in page.get_data(as_text=True)
    assert "Extra1: left on" in page.get_data(as_text=True)
    assert counts[0] == counts[1] == 9  # 8 for the page, 1 for the count in the nav
