"""Registering, logging in and out, passwords and sessions."""

from datetime import timedelta

import pytest
import time_machine
from werkzeug.security import generate_password_hash
from zxcvbn import matching as zxcvbn_matching

import config
from ledger import passwords
from ledger.db import db
from ledger.forms import auth as auth_forms
from ledger.forms.auth import ESTIMATE_LENGTH
from ledger.models import DeviceSession, User

from .helpers import PASSWORD, cookie_value, post_form


def test_register_signs_in_and_stores_account(client, auth, app):
    response = auth.register(email="  Sam@Example.ORG ", name="Sam")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Hello, Sam" in client.get("/").get_data(as_text=True)
    with app.app_context():
        user = User.get()
        assert user.email == "Sam@Example.ORG"
        assert user.email_key == "sam@example.org"
        assert user.time_zone == "Europe/Berlin"
        assert user.password_hash.startswith("pbkdf2:sha256:1000$")
        assert DeviceSession.select().count() == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Please use 12 to 256 characters."),
        ("x" * 257, "Please use 12 to 256 characters."),
        ("password1234", "This is a very common password."),
        ("aaaaaaaaaaaaaaaa", "Repeats like"),
        ("sam@example.org1", "would be easy to guess"),
    ],
)
def test_register_refuses_weak_passwords_with_advice(client, auth, app, password, message):
    response = auth.register(password=password)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert User.select().count() == 0


def test_the_password_estimator_reads_a_bounded_input(auth, monkeypatch):
    """zxcvbn never sees more than 32 characters, nor does much work on them.

    Its work is its dictionary lookups: one per substring, once more per way
    of reading look-alikes ("@" as "a") back as letters. 72 look-alikes cost
    it two million (seconds of CPU); a bounded input, a few thousand.
    """
    read, lookups = [], []
    estimator, lookup = auth_forms.zxcvbn, zxcvbn_matching.dictionary_match
    monkeypatch.setattr(auth_forms, "zxcvbn", lambda p, **kw: read.append(p) or estimator(p, **kw))
    monkeypatch.setattr(
        zxcvbn_matching,
        "dictionary_match",
        lambda p, *a, **kw: lookups.append(len(p) * (len(p) + 1) // 2) or lookup(p, *a, **kw),
    )
    lookalikes = "!$%(+0123456789<@[{|"  # every one zxcvbn reads as a letter
    for n, password in enumerate(
        [
            ("!@#$%^&*()_+{}|:<>?~`-=[]\\;',./" * 3)[:72],  # the review's example
            (lookalikes * 13)[:256],
            "+17|" * 64,  # the most readings four look-alikes have
            "correct horse battery staple " * 8,
        ]
    ):
        read.clear()
        lookups.clear()
        response = auth.register(email=f"sam{n}@example.org", password=password)
        assert response.status_code in (302, 422)  # judged either way
        assert read and all(len(p) <= ESTIMATE_LENGTH for p in read)
        assert sum(map(len, read)) <= ESTIMATE_LENGTH
        assert sum(lookups) <= 16 * ESTIMATE_LENGTH**2
        if response.status_code == 302:
            auth.logout()


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        (("dragonsunshine" * 5)[:32], False),  # zxcvbn: somewhat guessable
        (("dragonsunshine" * 5)[:64], True),  # read up to 32, the length counts
    ],
)
def test_length_beyond_what_is_read_still_counts(auth, password, accepted):
    assert auth.register(password=password).status_code == (302 if accepted else 422)


def test_password_is_checked_exactly_as_typed(client, auth):
    spaced = "  " + PASSWORD + "  "
    assert auth.register(password=spaced).status_code == 302
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 422
    assert auth.login(password=spaced).status_code == 302


def test_register_with_email_in_use_does_not_sign_in(client, auth, app):
    auth.register()
    auth.logout()
    response = auth.register(email="SAM@example.org", name="Someone else")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "An account can&#39;t be created with this email" in page
    assert "Someone else" in page  # what they typed is kept
    with app.app_context():
        assert User.select().count() == 1
    assert client.get("/account").status_code == 302


def test_register_form_refuses_unknown_time_zone(auth, app):
    response = auth.register(time_zone="Mars/Olympus")
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_login_and_logout(client, auth):
    auth.register()
    response = auth.logout()
    assert response.headers["Location"] == "/login"
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/account").headers["Location"] == "/login?next=/account"

    response = auth.login()
    assert response.status_code == 302
    assert client.get("/account").status_code == 200


def test_logout_needs_post(user_client):
    response = user_client.get("/logout")
    assert response.status_code == 200
    assert "Log out of this device?" in response.get_data(as_text=True)
    assert user_client.get("/account").status_code == 200


def test_unknown_email_and_wrong_password_look_the_same(client, auth, monkeypatch):
    auth.register()
    auth.logout()
    checks = []
    real = passwords.check_password_hash
    monkeypatch.setattr(
        passwords, "check_password_hash", lambda h, p: checks.append(h) or real(h, p)
    )
    wrong = auth.login(password="not the password at all")
    unknown = auth.login(email="nobody@example.org", password="not the password at all")
    assert wrong.status_code == unknown.status_code == 422
    strip = lambda r: r.get_data(as_text=True).replace("nobody@example.org", "sam@example.org")  # noqa: E731
    assert _without_token(strip(wrong)) == _without_token(strip(unknown))
    # Both spent one hash check of the same kind: similar timing.
    assert len(checks) == 2
    assert checks[0].split("$")[0] == checks[1].split("$")[0]


def _without_token(page):
    import re

    return re.sub(r'value="[0-9]{14}##[0-9a-f]+"', "", page)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account", "/account"),
        ("/account?tab=devices", "/account?tab=devices"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("http:/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_only_leads_to_this_site(client, auth, next_url, expected):
    auth.register()
    auth.logout()
    from urllib.parse import quote

    url = "/login?next=" + quote(next_url, safe="")
    response = post_form(client, url, {"email": "sam@example.org", "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_session_is_cleared_at_login(client, auth, app):
    auth.register()
    auth.logout()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["_user_id"] = "forged"
    auth.login()
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] != "forged"


def test_session_id_is_a_device_token_not_a_user_id(user_client, app):
    with user_client.session_transaction() as session:
        token = session["_user_id"]
    with app.app_context():
        user = User.get()
        assert token != str(user.id)
        assert DeviceSession.lookup(token).user.id == user.id
        # Only the hash of the token is stored.
        assert DeviceSession.get().token_hash != token


def _replay(app, cookies):
    """A fresh client carrying copied cookies; return its /account status."""
    other = app.test_client()
    for name, value in cookies.items():
        if value:
            other.set_cookie(name, value)
    return other.get("/account").status_code


def _copy_cookies(client):
    return {name: cookie_value(client, name) for name in ("ledger_session", "ledger_remember")}


def test_copied_cookies_stop_working_after_logout(app, client, auth):
    auth.register()
    auth.logout()
    auth.login(remember=True)
    copied = _copy_cookies(client)
    assert copied["ledger_remember"]
    assert _replay(app, copied) == 200
    auth.logout()
    assert _replay(app, copied) == 302
    assert _replay(app, {"ledger_remember": copied["ledger_remember"]}) == 302


def test_copied_cookies_stop_working_after_logout_everywhere(app, client, auth):
    auth.register()
    auth.logout()
    auth.login(remember=True)
    copied = _copy_cookies(client)
    post_form(client, "/account/sign-out-everywhere", {}, page="/account")
    assert _replay(app, copied) == 302
    assert _replay(app, {"ledger_remember": copied["ledger_remember"]}) == 302
    with app.app_context():
        assert DeviceSession.select().count() == 0


def test_password_change_signs_out_other_devices_and_old_cookies(app, client, auth):
    auth.register()
    other = app.test_client()
    post_form(other, "/login", {"email": "sam@example.org", "password": PASSWORD})
    copied = _copy_cookies(client)
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "amber meadow violin 77"},
        page="/account",
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # this device goes on
    assert other.get("/account").status_code == 302
    assert _replay(app, copied) == 302
    with app.app_context():
        assert DeviceSession.select().count() == 1


def test_remember_cookie_only_when_asked(client, auth):
    auth.register()
    assert cookie_value(client, "ledger_remember") is None
    auth.logout()
    auth.login(remember=False)
    client.get("/account")
    assert cookie_value(client, "ledger_remember") is None
    auth.logout()
    auth.login(remember=True)
    assert cookie_value(client, "ledger_remember")


def _browser_restart(app, client):
    """Drop the session cookie as closing the browser does; keep the rest."""
    remember = cookie_value(client, "ledger_remember")
    fresh = app.test_client()
    if remember:
        fresh.set_cookie("ledger_remember", remember)
    return fresh


def test_remembered_device_survives_browser_restart(app, client, auth):
    auth.register()
    auth.logout()
    auth.login(remember=True)
    assert _browser_restart(app, client).get("/account").status_code == 200


def test_unremembered_session_ends_with_the_browser(app, client, auth):
    auth.register()
    assert _browser_restart(app, client).get("/account").status_code == 302


def test_remembered_device_expires_after_30_idle_days(app, client, auth):
    auth.register()
    auth.logout()
    with time_machine.travel("2026-01-01 12:00Z", tick=False) as traveller:
        auth.login(remember=True)
        browser = _browser_restart(app, client)
        traveller.shift(timedelta(days=29))
        assert browser.get("/account").status_code == 200
        traveller.shift(timedelta(days=29))  # 29 idle days again: still fine
        assert browser.get("/account").status_code == 200
        traveller.shift(timedelta(days=31))
        assert browser.get("/account").status_code == 302
    with app.app_context():
        assert DeviceSession.select().count() == 0


def test_remembered_device_expires_after_90_days_however_active(app, client, auth):
    auth.register()
    auth.logout()
    with time_machine.travel("2026-01-01 12:00Z", tick=False) as traveller:
        auth.login(remember=True)
        for _ in range(89):
            traveller.shift(timedelta(days=1))
            assert client.get("/account").status_code == 200
        traveller.shift(timedelta(days=1, minutes=1))
        assert client.get("/account").status_code == 302


def test_unremembered_session_has_a_server_side_limit(app, client, auth):
    with time_machine.travel("2026-01-01 12:00Z", tick=False) as traveller:
        auth.register()
        traveller.shift(timedelta(hours=23))
        assert client.get("/account").status_code == 200
        traveller.shift(timedelta(hours=2))
        assert client.get("/account").status_code == 302


def test_last_seen_is_written_at_most_once_a_day(app, client, auth):
    auth.register()
    auth.logout()
    with time_machine.travel("2026-01-01 12:00Z", tick=False) as traveller:
        auth.login(remember=True)
        with app.app_context():
            first = DeviceSession.get().last_seen_at
        traveller.shift(timedelta(hours=20))
        client.get("/account")
        with app.app_context():
            assert DeviceSession.get().last_seen_at == first
        traveller.shift(timedelta(hours=5))
        client.get("/account")
        with app.app_context():
            assert DeviceSession.get().last_seen_at == first + timedelta(hours=25)


def test_weaker_stored_hash_is_upgraded_at_login(client, auth, app):
    auth.register()
    auth.logout()
    with app.app_context():
        User.update(password_hash=generate_password_hash(PASSWORD, method="scrypt")).execute()
    assert auth.login().status_code == 302
    with app.app_context():
        assert User.get().password_hash.startswith("pbkdf2:sha256:1000$")


def test_production_hash_parameters(make_app):
    assert config.ProductionConfig.PASSWORD_HASH_METHOD == "pbkdf2:sha256:1000000"
    app = make_app(PASSWORD_HASH_METHOD=config.ProductionConfig.PASSWORD_HASH_METHOD)
    with app.app_context():
        hashed = passwords.hash_password("amber meadow violin 77")
        assert hashed.startswith("pbkdf2:sha256:1000000$")
        assert passwords.needs_rehash("pbkdf2:sha256:600000$salt$hash")
        assert passwords.needs_rehash("scrypt:32768:8:1$salt$hash")
        assert not passwords.needs_rehash(hashed)


def test_login_page_redirects_when_signed_in(user_client):
    assert user_client.get("/login").headers["Location"] == "/"
    assert user_client.get("/register").headers["Location"] == "/"


def test_database_keeps_one_device_row_per_login(app, client, auth):
    auth.register()
    auth.logout()
    auth.login()
    auth.logout()
    auth.login()
    with app.app_context(), db.database.connection_context():
        assert DeviceSession.select().count() == 1


def test_registering_can_remember_the_device(client, auth):
    post_form(
        client,
        "/register",
        {
            "email": "sam@example.org",
            "display_name": "Sam",
            "password": PASSWORD,
            "time_zone": "UTC",
            "remember": "y",
        },
    )
    assert cookie_value(client, "ledger_remember")
