"""Login throttling: by email, by address, and the known-device exemption."""

from datetime import timedelta

import pytest
import time_machine

from ledger.models import LoginFailure

from .helpers import PASSWORD, post_form


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
    from .helpers import AuthActions

    assert AuthActions(app.test_client()).register().status_code == 302


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
    fail(app.test_client(), email="typo@example.org")
    with app.app_context():
        row = LoginFailure.get()
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


def test_known_device_is_exempt_from_the_email_limit(app, sam):
    phone = app.test_client()
    assert login(phone, address="198.51.100.7").status_code == 302
    post_form(phone, "/logout", {})
    fail(app.test_client(), times=12)  # the other partner, failing on purpose
    assert login(app.test_client(), address="203.0.113.9").status_code == 429
    assert login(phone, address="198.51.100.7").status_code == 302


def test_known_device_cookie_is_only_for_its_own_account(app, sam):
    from .helpers import AuthActions

    other = app.test_client()
    assert AuthActions(other).register(email="alex@example.org", name="Alex").status_code == 302
    post_form(other, "/logout", {})
    fail(app.test_client(), times=10)
    # Alex's device is known for Alex, not for Sam.
    assert login(other, address="198.51.100.7").status_code == 429


def test_known_device_cookie_must_be_signed(app, sam):
    phone = app.test_client()
    phone.set_cookie("ledger_device", "forged-value")
    fail(app.test_client(), times=10)
    assert login(phone, address="198.51.100.7").status_code == 429


def test_known_device_is_still_under_the_address_limit(app, sam):
    phone = app.test_client()
    login(phone)
    post_form(phone, "/logout", {})
    for n in range(50):
        fail(app.test_client(), email=f"guess{n}@example.org")
    assert login(phone).status_code == 429


def test_success_clears_the_email_failures(app, sam):
    client = app.test_client()
    fail(client, times=9)
    assert login(client).status_code == 302
    post_form(client, "/logout", {})
    assert fail(client, times=9).status_code == 422
    assert login(app.test_client(), address="198.51.100.7").status_code == 302


def test_registration_attempts_with_taken_emails_count_against_the_address(app, sam):
    from .helpers import AuthActions

    for _ in range(50):
        response = AuthActions(app.test_client()).register()
        assert response.status_code == 422
    assert AuthActions(app.test_client()).register().status_code == 429
    # The account owner's email is not locked by this.
    assert login(app.test_client(), address="198.51.100.7").status_code == 302


def test_old_failures_are_forgotten(app, sam):
    with time_machine.travel("2026-03-01 20:00Z", tick=False) as traveller:
        fail(app.test_client(), times=5)
        traveller.shift(timedelta(hours=1))
        fail(app.test_client(), email="other@example.org")
        with app.app_context():
            assert LoginFailure.select().count() == 1
