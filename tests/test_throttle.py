"""Login throttling: by email, by address, and known devices."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine

from ledger.forms import auth as auth_forms
from ledger.models import DeviceSession, KnownDevice, LoginFailure, User

from .helpers import PASSWORD, AuthActions, cookie_value, csrf_token, post_form

NEW_PASSWORD = "amber meadow violin 77"


def fail(client, email="sam@example.org", times=1, address="192.0.2.1"):
    for _ in range(times):
        response = post_form(
            client,
            "/login",
            {"email": email, "password": "wrong password, sorry"},
            environ_base={"REMOTE_ADDR": address},
        )
    return response


def login(client, email="sam@example.org", address="192.0.2.1", password=PASSWORD):
    return post_form(
        client,
        "/login",
        {"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def sam(app):
    """Sam has an account; the client that registered it is gone."""
    assert AuthActions(app.test_client()).register().status_code == 302


def known_phone(app, address="192.0.2.1"):
    """Sam's phone: it logged in once with the password, then logged out."""
    phone = app.test_client()
    assert login(phone, address=address).status_code == 302
    post_form(phone, "/logout", {})
    return phone


def copy_of(app, client):
    """Another browser carrying a copy of ``client``'s known-device cookie."""
    copy = app.test_client()
    copy.set_cookie("ledger_device", cookie_value(client, "ledger_device"))
    return copy


def test_ten_failures_for_an_email_lock_it_for_the_window(app, sam):
    attacker, sam_new_phone = app.test_client(), app.test_client()
    with time_machine.travel("2026-03-01 20:00Z", tick=False) as traveller:
        assert fail(attacker, times=10).status_code == 422
        # The 11th attempt, even with the right password and from elsewhere.
        response = login(sam_new_phone, address="198.51.100.7")
        assert response.status_code == 429
        assert "wait 15 minutes" in response.get_data(as_text=True)
        assert response.headers["Retry-After"] == "900"
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert login(sam_new_phone, address="198.51.100.7").status_code == 302


def test_email_limit_is_case_insensitive_and_counts_unknown_emails(app, sam):
    client = app.test_client()
    fail(client, email="Nobody@Example.org", times=5)
    fail(client, email="nobody@example.ORG", times=5)
    assert fail(client, email="NOBODY@example.org").status_code == 429


def test_failures_are_stored_without_the_email(app, sam):
    fail(app.test_client(), email="typo@example.org", address="203.0.113.9")
    with app.app_context():
        row = LoginFailure.get(LoginFailure.address == "203.0.113.9")
        assert "typo" not in row.email_hash
        assert len(row.email_hash) == 64


def test_address_limit_is_higher_and_across_emails(app, sam):
    client = app.test_client()
    for n in range(50):
        assert fail(client, email=f"guess{n}@example.org").status_code == 422
    assert fail(client, email="another@example.org").status_code == 429
    # The same address is refused even for a correct login ...
    assert login(app.test_client()).status_code == 429
    # ... but another address is not.
    assert login(app.test_client(), address="198.51.100.7").status_code == 302


def test_parallel_guesses_get_exactly_the_limit(app, sam):
    """Counting and checking are one step: 30 guesses at once, 10 get through."""
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_token(client, "/login") for client in clients]
    start = threading.Barrier(len(clients))
    statuses = []

    def guess(n):
        start.wait()
        response = clients[n].post(
            "/login",
            data={"csrf_token": tokens[n], "email": "sam@example.org", "password": f"guess {n}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {422: 10, 429: 20}
    with app.app_context():
        assert LoginFailure.select().where(LoginFailure.address != "127.0.0.1").count() == 10


def test_known_device_is_exempt_from_the_email_limit(app, sam):
    phone = known_phone(app, address="198.51.100.7")
    fail(app.test_client(), times=12)  # the other partner, failing on purpose
    assert login(app.test_client(), address="203.0.113.9").status_code == 429
    assert login(phone, address="198.51.100.7").status_code == 302


def test_a_partner_on_the_same_network_cannot_lock_out_a_known_device(app, sam):
    phone = known_phone(app)
    partner = app.test_client()  # same home Wi-Fi, same address
    fail(partner, times=12)
    for n in range(40):
        fail(partner, email=f"guess{n}@example.org")
    assert fail(partner, email="another@example.org").status_code == 429
    assert login(app.test_client()).status_code == 429  # any other browser there
    assert login(phone).status_code == 302


def test_a_known_device_is_held_to_its_own_failures(app, sam):
    phone, laptop = known_phone(app), known_phone(app, address="198.51.100.7")
    assert fail(phone, times=10).status_code == 422
    assert login(phone).status_code == 429
    # Its failures are its own: Sam's laptop, also known, logs in.
    assert login(laptop, address="198.51.100.7").status_code == 302


def test_known_device_is_only_for_its_own_account(app, sam):
    other = app.test_client()
    assert AuthActions(other).register(email="alex@example.org", name="Alex").status_code == 302
    post_form(other, "/logout", {})
    fail(app.test_client(), times=10)
    # Alex's device is known for Alex, not for Sam.
    assert login(other, address="198.51.100.7").status_code == 429


def test_an_unknown_device_token_is_not_a_known_device(app, sam):
    phone = app.test_client()
    phone.set_cookie("ledger_device", "a-value-the-server-never-issued")
    fail(app.test_client(), times=10)
    assert login(phone, address="198.51.100.7").status_code == 429


def test_only_the_device_tokens_hash_is_stored(app, sam):
    phone = known_phone(app)
    token = cookie_value(phone, "ledger_device")
    with app.app_context():
        stored = {d.token_hash for d in KnownDevice.select()}
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def _change_password(app, phone):
    response = post_form(
        phone,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        page="/account",
    )
    assert response.status_code == 302


def _log_out_everywhere(app, phone):
    post_form(phone, "/account/sign-out-everywhere", {}, page="/account")


def _sign_out_from_another_device(app, phone):
    with phone.session_transaction() as session:
        token = session["_user_id"]
    laptop = app.test_client()
    login(laptop, address="198.51.100.7")
    with app.app_context():
        device = DeviceSession.lookup(token)
    response = post_form(laptop, f"/account/devices/{device.id}/sign-out", {}, page="/account")
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize(
    "revoke", [_change_password, _log_out_everywhere, _sign_out_from_another_device]
)
def test_a_copied_device_cookie_stops_counting_when_the_device_is_revoked(app, sam, revoke):
    phone = app.test_client()
    assert login(phone).status_code == 302
    copied = copy_of(app, phone)  # taken while the phone is signed in
    revoke(app, phone)
    fail(app.test_client(), times=10)
    password = NEW_PASSWORD if revoke is _change_password else PASSWORD
    assert login(copied, password=password).status_code == 429


def test_a_password_change_keeps_this_device_known_on_a_new_token(app, sam):
    phone = app.test_client()
    login(phone)
    copied = copy_of(app, phone)
    _change_password(app, phone)
    post_form(phone, "/logout", {})
    fail(app.test_client(), times=10)
    assert login(copied, password=NEW_PASSWORD).status_code == 429
    assert login(phone, password=NEW_PASSWORD).status_code == 302


def test_logging_out_keeps_the_device_known(app, sam):
    phone = known_phone(app)
    fail(app.test_client(), times=10)
    assert login(phone).status_code == 302


def test_the_device_token_changes_at_every_login(app, sam):
    phone = known_phone(app)
    copied = copy_of(app, phone)
    known_phone_again = login(phone)
    assert known_phone_again.status_code == 302
    post_form(phone, "/logout", {})
    fail(app.test_client(), times=10)
    assert login(copied).status_code == 429
    assert login(phone).status_code == 302


def test_a_device_is_forgotten_a_year_after_its_last_login(app, sam):
    with time_machine.travel("2027-03-01 20:00Z", tick=False) as traveller:
        phone = known_phone(app)
        traveller.shift(timedelta(days=366))
        fail(app.test_client(), times=10)
        assert login(phone).status_code == 429


def test_success_clears_the_email_failures(app, sam):
    client = app.test_client()
    fail(client, times=9)
    assert login(client).status_code == 302
    post_form(client, "/logout", {})
    assert fail(client, times=9).status_code == 422
    assert login(app.test_client(), address="198.51.100.7").status_code == 302


def test_every_registration_attempt_counts_against_the_address(app, sam):
    # Sam's own registration came from 127.0.0.1, the test client's address.
    for n in range(49):
        response = AuthActions(app.test_client()).register(email=f"new{n}@example.org")
        assert response.status_code in (302, 422)
    assert AuthActions(app.test_client()).register().status_code == 429
    # The account owner's email is not locked by this.
    assert login(app.test_client(), address="198.51.100.7").status_code == 302


def test_registrations_are_counted_before_the_password_is_judged(app, monkeypatch):
    judged = []
    real = auth_forms.zxcvbn
    monkeypatch.setattr(auth_forms, "zxcvbn", lambda p, **kw: judged.append(p) or real(p, **kw))
    for _ in range(50):
        response = AuthActions(app.test_client()).register(password="password1234")
        assert response.status_code == 422
    judged.clear()
    response = AuthActions(app.test_client()).register(password="password1234")
    assert response.status_code == 429
    assert "create an account from here" in response.get_data(as_text=True)
    assert judged == []
    with app.app_context():
        assert User.select().count() == 0


def test_old_failures_are_forgotten(app):
    with time_machine.travel("2026-03-01 20:00Z", tick=False) as traveller:
        fail(app.test_client(), times=5)
        traveller.shift(timedelta(hours=1))
        fail(app.test_client(), email="other@example.org")
        with app.app_context():
            assert LoginFailure.select().count() == 1
