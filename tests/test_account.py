"""The account page: details, password, and signed-in devices."""

import pytest
import time_machine

from ledger.models import DeviceSession, LoginFailure, User, email_key, token_hash

from .helpers import PASSWORD, AuthActions, post_form


def save_profile(client, **changes):
    data = {"email": "sam@example.org", "display_name": "Sam", "time_zone": "Europe/Berlin"}
    data.update(changes)
    return post_form(client, "/account/profile", data, page="/account")


def test_account_page_shows_details_and_this_device(user_client):
    page = user_client.get(
        "/account", headers={"User-Agent": "Mozilla/5.0 (Android 14) Firefox/130.0"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="sam@example.org"' in text
    assert "(this device)" in text


def test_edit_name_and_time_zone(user_client, app):
    response = save_profile(user_client, display_name="Sam R.", time_zone="America/New_York")
    assert response.headers["Location"] == "/account"
    assert "Your details are saved." in user_client.get("/account").get_data(as_text=True)
    with app.app_context():
        user = User.get()
        assert (user.display_name, user.time_zone) == ("Sam R.", "America/New_York")


def test_times_are_shown_in_the_viewers_zone(client, auth):
    with time_machine.travel("2026-07-01 22:30Z", tick=False):
        auth.register()
        save_profile(client, time_zone="Asia/Tokyo")
        assert "Logged in 2 July 2026, 07:30" in client.get("/account").get_data(as_text=True)
        save_profile(client, time_zone="America/Los_Angeles")
        assert "Logged in 1 July 2026, 15:30" in client.get("/account").get_data(as_text=True)


def test_changing_email_needs_the_current_password(user_client, app, auth):
    response = save_profile(user_client, email="sam@new.example")
    assert response.status_code == 422
    assert "please enter your current password" in response.get_data(as_text=True)
    response = save_profile(user_client, email="sam@new.example", current_password=PASSWORD)
    assert response.status_code == 302
    with app.app_context():
        assert User.get().email_key == "sam@new.example"


def test_email_of_another_account_is_refused(user_client, app):
    assert AuthActions(app.test_client()).register(email="alex@example.org").status_code == 302
    response = save_profile(user_client, email="ALEX@example.org", current_password=PASSWORD)
    assert response.status_code == 422
    assert "can&#39;t be used for your account" in response.get_data(as_text=True)
    with app.app_context():
        assert User.get(User.display_name == "Sam").email_key == "sam@example.org"


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong password here", "amber meadow violin 77", "That is not your current password."),
        (PASSWORD, "password1234", "This is a very common password."),
        (PASSWORD, "short", "Please use 12 to 256 characters."),
    ],
)
def test_password_change_refusals(user_client, app, current, new, message):
    before = _hash(app)
    response = post_form(
        user_client,
        "/account/password",
        {"current_password": current, "new_password": new},
        page="/account",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _hash(app) == before


def _hash(app):
    with app.app_context():
        return User.get().password_hash


def test_sign_out_another_device(user_client, app):
    phone = app.test_client()
    AuthActions(phone).login()
    with app.app_context():
        phone_device = DeviceSession.select().order_by(DeviceSession.id.desc()).get()
    response = post_form(
        user_client, f"/account/devices/{phone_device.id}/sign-out", {}, page="/account"
    )
    assert response.headers["Location"] == "/account"
    assert phone.get("/account").status_code == 302
    assert user_client.get("/account").status_code == 200


def test_sign_out_this_device(user_client, app):
    with app.app_context():
        device = DeviceSession.get()
    response = post_form(user_client, f"/account/devices/{device.id}/sign-out", {}, page="/account")
    assert response.headers["Location"] == "/login"
    assert user_client.get("/account").status_code == 302


def test_cannot_sign_out_someone_elses_device(user_client, app):
    alex = app.test_client()
    AuthActions(alex).register(email="alex@example.org", name="Alex")
    with app.app_context():
        alex_device = DeviceSession.get(DeviceSession.user == User.by_email("alex@example.org"))
    response = post_form(
        user_client, f"/account/devices/{alex_device.id}/sign-out", {}, page="/account"
    )
    assert response.status_code == 404
    assert alex.get("/account").status_code == 200


def _wrong_password_change(client, current="not my password, sorry"):
    return post_form(
        client,
        "/account/password",
        {"current_password": current, "new_password": "amber meadow violin 77"},
        page="/account",
    )


def _wrong_email_change(client, current="not my password, sorry"):
    return save_profile(client, email="sam@new.example", current_password=current)


def _wrong_deletion(client, current="not my password, sorry"):
    return post_form(client, "/account/delete", {"current_password": current})


@pytest.mark.parametrize("guess", [_wrong_password_change, _wrong_email_change, _wrong_deletion])
def test_wrong_current_passwords_count_like_failed_logins(user_client, app, guess):
    before = _hash(app)
    for _ in range(10):
        assert guess(user_client).status_code == 422
    # The 11th is not checked at all, even when it is right.
    response = guess(user_client, current=PASSWORD)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "please wait 15 minutes" in page
    assert 'href="/account"' in page
    with app.app_context():
        assert (User.get().password_hash, User.get().email_key) == (before, "sam@example.org")
    # They count for the account's email, as failed logins do.
    assert AuthActions(app.test_client()).login().status_code == 429


def test_right_or_unneeded_current_passwords_are_not_counted(user_client, app):
    for _ in range(12):
        assert save_profile(user_client, display_name="Sam R.").status_code == 302
        response = _wrong_password_change(user_client, current=PASSWORD)
        assert response.status_code == 302
        response = post_form(
            user_client,
            "/account/password",
            {"current_password": "amber meadow violin 77", "new_password": "password1234"},
            page="/account",
        )
        assert response.status_code == 422  # a weak new password; the current one was right
        # Back to the first password for the next round.
        response = post_form(
            user_client,
            "/account/password",
            {"current_password": "amber meadow violin 77", "new_password": PASSWORD},
            page="/account",
        )
        assert response.status_code == 302
    with app.app_context():
        sam = LoginFailure.email_hash == token_hash(email_key("sam@example.org"))
        assert LoginFailure.select().where(sam).count() == 0


def test_saving_details_without_a_new_email_needs_no_password_check(user_client):
    for _ in range(10):
        _wrong_password_change(user_client)
    assert _wrong_password_change(user_client, current=PASSWORD).status_code == 429
    assert save_profile(user_client, display_name="Sam R.").status_code == 302
