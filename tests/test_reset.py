"""Forgotten passwords: a single-use link printed by the CLI."""

from datetime import timedelta

import time_machine

from ledger.models import DeviceSession, PasswordReset

from .helpers import PASSWORD, post_form

NEW = "amber meadow violin 77"


def reset_link(runner, email="sam@example.org"):
    result = runner.invoke(args=["reset-link", email])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


def test_cli_prints_a_link_built_from_the_base_url(user_client, runner, app):
    link = reset_link(runner, "SAM@example.org")
    assert link.startswith("http://ledger.test/reset/")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, URL-safe
    with app.app_context():
        assert PasswordReset.get().token_hash != token  # stored hashed only


def test_cli_refuses_an_unknown_email(runner, app):
    result = runner.invoke(args=["reset-link", "nobody@example.org"])
    assert result.exit_code != 0
    assert "No account uses the email nobody@example.org" in result.output


def test_link_sets_a_new_password_once_and_signs_out_everywhere(user_client, runner, app, auth):
    path = reset_link(runner).removeprefix("http://ledger.test")
    stranger = app.test_client()
    page = stranger.get(path)
    assert page.status_code == 200
    assert "For the account of Sam" in page.get_data(as_text=True)

    response = post_form(stranger, path, {"password": NEW})
    assert response.headers["Location"] == "/login"
    assert user_client.get("/account").status_code == 302  # signed out
    with app.app_context():
        assert DeviceSession.select().count() == 0

    assert auth.login(password=PASSWORD).status_code == 422
    assert auth.login(password=NEW).status_code == 302

    again = stranger.get(path)
    assert again.status_code == 404
    assert "This link can't be used" in again.get_data(as_text=True)


def test_link_expires_after_an_hour(user_client, runner, app):
    with time_machine.travel("2026-05-01 09:00Z", tick=False) as traveller:
        path = reset_link(runner).removeprefix("http://ledger.test")
        traveller.shift(timedelta(minutes=59))
        assert app.test_client().get(path).status_code == 200
        traveller.shift(timedelta(minutes=2))
        assert app.test_client().get(path).status_code == 404


def test_link_refuses_a_weak_password_and_stays_usable(user_client, runner, app):
    path = reset_link(runner).removeprefix("http://ledger.test")
    client = app.test_client()
    response = post_form(client, path, {"password": "password1234"})
    assert response.status_code == 422
    assert "This is a very common password" in response.get_data(as_text=True)
    assert client.get(path).status_code == 200


def test_unknown_token_is_a_plain_404(client):
    response = client.get("/reset/not-a-real-token")
    assert response.status_code == 404
    assert "expired or was already used" in response.get_data(as_text=True)
