"""CSRF, bad input, error pages, cookies, hosts and logs."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import abort
from wtforms.widgets import HiddenInput

from ledger import ConfigurationError, create_app
from ledger.forms import CSRF_EXPLANATION
from ledger.forms.auth import ConfirmForm
from ledger.models import MODELS, User
from ledger.security import external_url

from .helpers import CSRF_RE, PASSWORD, csrf_token

# Every POST route: who posts, the page its form is on, what a person typed,
# and a piece of the page that must come back when the token failed.
POST_FORMS = {
    "auth.register": (
        "anonymous",
        "/register",
        "/register",
        {"email": "new@example.org", "display_name": "Robin Typed", "password": PASSWORD},
        "Robin Typed",
    ),
    "auth.login": (
        "anonymous",
        "/login",
        "/login",
        {"email": "typed@example.org", "password": "x"},
        "typed@example.org",
    ),
    "auth.reset_password": (
        "anonymous",
        "/reset/{reset}",
        "/reset/{reset}",
        {"password": "amber meadow violin 77"},
        "Choose a new password",
    ),
    "auth.logout": ("sam", "/logout", "/logout", {}, "Log out of this device?"),
    "settings.profile": (
        "sam",
        "/account/profile",
        "/account",
        {"email": "sam@example.org", "display_name": "Sam Typed Anew", "time_zone": "UTC"},
        "Sam Typed Anew",
    ),
    "settings.password": (
        "sam",
        "/account/password",
        "/account",
        {"current_password": PASSWORD, "new_password": "amber meadow violin 77"},
        "Change your password",
    ),
    "settings.sign_out_device": (
        "sam",
        "/account/devices/{device_id}/sign-out",
        "/account",
        {},
        "(this device)",
    ),
    "settings.sign_out_everywhere": (
        "sam",
        "/account/sign-out-everywhere",
        "/account",
        {},
        "(this device)",
    ),
    "settings.delete": (
        "sam",
        "/account/delete",
        "/account/delete",
        {"current_password": "not echoed"},
        "Delete my account for good",
    ),
    "ledgers.new": (
        "sam",
        "/ledgers/new",
        "/ledgers/new",
        {"name": "Typed Ledger Name", "time_zone": "UTC"},
        "Typed Ledger Name",
    ),
    "ledgers.switch": (
        "sam",
        "/ledgers/switch",
        "/ledgers/{ledger_id}",
        {"ledger": "{ledger_id}"},
        "Sam &amp; Alex",
    ),
    "ledgers.invite": (
        "sam",
        "/ledgers/{ledger_id}/invitations",
        "/ledgers/{ledger_id}",
        {"note": "Typed note for Robin"},
        "Typed note for Robin",
    ),
    "ledgers.revoke": (
        "sam",
        "/ledgers/{ledger_id}/invitations/{invitation_id}/revoke",
        "/ledgers/{ledger_id}/invitations/{invitation_id}",
        {},
        "still open",
    ),
    "ledgers.leave": (
        "sam",
        "/ledgers/{ledger_id}/leave",
        "/ledgers/{ledger_id}/leave",
        {},
        "Leave",
    ),
    "ledgers.remove": (
        "sam",
        "/ledgers/{ledger_id}/partners/{membership_id}/remove",
        "/ledgers/{ledger_id}/partners/{membership_id}/remove",
        {},
        "Confirm: remove Alex",
    ),
    "ledgers.withdraw_removal": (
        "sam",
        "/ledgers/{ledger_id}/removals/{removal_id}/withdraw",
        "/ledgers/{ledger_id}",
        {},
        "Withdraw my request",
    ),
    "ledgers.rename": (
        "sam",
        "/ledgers/{ledger_id}/rename",
        "/ledgers/{ledger_id}",
        {"name": "Typed new ledger name"},
        "Typed new ledger name",
    ),
    "ledgers.delete": (
        "sam",
        "/ledgers/{ledger_id}/delete",
        "/ledgers/{ledger_id}/delete",
        {},
        "Ask to delete “Sam &amp; Alex”",
    ),
    "ledgers.withdraw_deletion": (
        "sam",
        "/ledgers/{ledger_id}/delete/withdraw",
        "/ledgers/{ledger_id}/delete",
        {},
        "Every partner decides",
    ),
    "join.show": ("robin", "{invitation_path}", "{invitation_path}", {}, "Join “Sam &amp; Alex”"),
    "agreements.new": (
        "sam",
        "/ledgers/{ledger_id}/agreements/new/general",
        "/ledgers/{ledger_id}/agreements/new/general",
        {"title": "Typed title words", "text": "x", "action": "propose"},
        "Typed title words",
    ),
    "agreements.draft": (
        "sam",
        "/ledgers/{ledger_id}/drafts/{draft_id}",
        "/ledgers/{ledger_id}/drafts/{draft_id}",
        {"title": "Typed draft title", "text": "x", "action": "draft"},
        "Typed draft title",
    ),
    "agreements.delete_draft": (
        "sam",
        "/ledgers/{ledger_id}/drafts/{draft_id}/delete",
        "/ledgers/{ledger_id}/drafts/{draft_id}",
        {},
        "Delete this draft",
    ),
    "agreements.answer": (
        "alex",
        "{agreement_path}/revisions/{number}/answer",
        "{agreement_path}",
        {"decision": "change", "note": "Typed note asking for a change"},
        "Typed note asking for a change",
    ),
    "agreements.withdraw_answer": (
        "alex",
        "{agreement_path}/revisions/{number}/withdraw-answer",
        "{agreement_path}",
        {},
        "Sam &amp; Alex check-in",
    ),
    "agreements.withdraw_proposal": (
        "sam",
        "{agreement_path}/revisions/{number}/withdraw",
        "{agreement_path}",
        {},
        "Withdraw my proposal",
    ),
    "agreements.change": (
        "sam",
        "{agreement_path}/change",
        "{agreement_path}/change",
        {"title": "Typed change title", "text": "y", "action": "propose", "base": "2"},
        "Typed change title",
    ),
    "pause.note": ("sam", "/ledgers/{ledger_id}/pauses", "/pause", {}, "The pause itself goes on."),
    "pause.resumed": (
        "sam",
        "/ledgers/{ledger_id}/pauses/{pause_id}/resumed",
        "/ledgers/{ledger_id}/pauses",
        {},
        "Noted pauses",
    ),
    "pause.cooling_off": (
        "sam",
        "/ledgers/{ledger_id}/cooling-off",
        "/ledgers/{ledger_id}/pauses",
        {"action": "off", "hours": "12"},
        "Cooling-off",
    ),
    "pause.agenda": (
        "sam",
        "/ledgers/{ledger_id}/agenda",
        "/ledgers/{ledger_id}/agenda",
        {"topic": "Typed topic to park", "note": "Typed note"},
        "Typed topic to park",
    ),
    "pause.discussed": (
        "sam",
        "/ledgers/{ledger_id}/agenda/{item_id}/discussed",
        "/ledgers/{ledger_id}/agenda",
        {},
        "Money, again",
    ),
    "agreements.retire": (
        "sam",
        "{agreement_path}/retire",
        "{agreement_path}/retire",
        {"reason": "Typed retire reason", "base": "2"},
        "Typed retire reason",
    ),
}


#: POST routes whose CSRF cases need what the shared ``world`` has not (a mail
#: server, a link from an email): each file below has them.
CSRF_CASES_ELSEWHERE = {
    "auth.forgot_password": "tests/test_mail.py",
    "auth.confirm_registration": "tests/test_mail.py",
    "settings.confirm_email": "tests/test_mail.py",
    "settings.reminders": "tests/test_mail.py",
    # Its signed, single-purpose link is its own proof (one-click stop, RFC 8058).
    "settings.stop_reminders": "tests/test_mail.py",
    # Reviews need a review under way, with answers: their cases are there.
    "reviews.start": "tests/test_reviews.py",
    "reviews.answer": "tests/test_reviews.py",
    "reviews.park": "tests/test_reviews.py",
    "reviews.confirm_retirement": "tests/test_reviews.py",
    "settings.calendar_feed": "tests/test_reviews.py",
    "settings.stop_calendar_feed": "tests/test_reviews.py",
}


def test_every_post_route_has_a_csrf_case(app):
    posts = {r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods}
    assert posts == set(POST_FORMS) | set(CSRF_CASES_ELSEWHERE)


CSRF_CASES = [
    (endpoint, token)
    for endpoint in sorted(POST_FORMS)
    for token in ("missing", "expired", "foreign")
    # A reset link lives one hour, far less than a token: it can't outlive one.
    if (endpoint, token) != ("auth.reset_password", "expired")
]


@pytest.mark.parametrize(("endpoint", "token"), CSRF_CASES)
def test_csrf_failure_rerenders_with_what_was_typed(world, runner, endpoint, token):
    who, url, page, data, echoed = POST_FORMS[endpoint]
    reset = runner.invoke(args=["reset-link", "sam@example.org"]).stdout.split("/reset/")[1]
    values = {"reset": reset.strip(), **world.ids["sam"]}
    url, page = (u.format(**values) for u in (url, page))
    data = {key: value.format(**values) for key, value in data.items()}
    client = world.app.test_client() if who == "anonymous" else world.client(who)
    before = _snapshot(world.app)

    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        value = {"missing": "", "foreign": csrf_token(world.app.test_client(), "/login")}.get(token)
        if token == "expired":
            value = csrf_token(client, page)
            traveller.shift(timedelta(hours=8, minutes=1))
        response = client.post(url, data={"csrf_token": value, **data})

        assert response.status_code == 400, response.status_code
        text = response.get_data(as_text=True)
        assert CSRF_EXPLANATION.replace("'", "&#39;") in text
        assert echoed in text
        assert _snapshot(world.app) == before  # nothing changed
        fresh = CSRF_RE.search(text)
        assert fresh and fresh.group(1) != value  # a new token to send it again with


def test_token_is_valid_for_several_hours(client, auth):
    user_client = client
    with time_machine.travel("2026-02-01 10:00Z", tick=False) as traveller:
        auth.register()
        token = csrf_token(user_client, "/account")
        traveller.shift(timedelta(hours=7, minutes=50))
        response = user_client.post(
            "/account/profile",
            data={
                "csrf_token": token,
                "email": "sam@example.org",
                "display_name": "Sam",
                "time_zone": "UTC",
            },
        )
        assert response.status_code == 302


def test_csrf_without_session_secret_is_a_400_not_a_500(app):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": "20990101000000##abc", "email": "a@b.org"})
    assert response.status_code == 400


def _snapshot(app):
    """Every row of every table (the clock-driven last_seen_at aside)."""
    with app.app_context():
        return {
            model.__name__: sorted(
                (
                    tuple(sorted((k, str(v)) for k, v in row.items() if k != "last_seen_at"))
                    for row in model.select().dicts()
                ),
            )
            for model in MODELS
        }


@pytest.mark.parametrize(
    "name",
    ["Sam\x00", "Sam\x1b[31m", "Sam\u0007", "Sam\nSmith", "Sam\tSmith", "Al\u202eex"],
)
def test_control_characters_are_refused(auth, app, name):
    response = auth.register(name=name)
    assert response.status_code == 422
    assert "invisible control character" in response.get_data(as_text=True)
    with app.app_context():
        assert User.select().count() == 0


def test_multiline_fields_allow_tabs_and_newlines_only():
    from wtforms import Form, TextAreaField

    from ledger.forms import no_control_characters

    class Note(Form):
        text = TextAreaField(validators=[no_control_characters(multiline=True)])

    assert Note(data={"text": "line one\n\tline two\r\n"}).validate()
    assert not Note(data={"text": "bell\u0007"}).validate()


def test_fields_not_in_the_form_are_ignored(client, app):
    token = csrf_token(client, "/register")
    client.post(
        "/register",
        data={
            "csrf_token": token,
            "email": "sam@example.org",
            "display_name": "Sam",
            "password": PASSWORD,
            "time_zone": "UTC",
            "id": "42",
            "user_id": "42",
            "email_key": "root@example.org",
            "uuid": "0" * 32,
        },
    )
    with app.app_context():
        user = User.get()
        assert user.id != 42
        assert user.email_key == "sam@example.org"


@pytest.mark.parametrize(
    "device_id", ["abc", "0", "-1", "1.5", "99999999999999999999999999", "%00"]
)
def test_malformed_ids_are_404(user_client, device_id):
    token = csrf_token(user_client, "/account")
    response = user_client.post(
        f"/account/devices/{device_id}/sign-out", data={"csrf_token": token}
    )
    assert response.status_code == 404


def test_unknown_large_id_is_404(user_client):
    token = csrf_token(user_client, "/account")
    response = user_client.post(
        "/account/devices/999999999999999999/sign-out", data={"csrf_token": token}
    )
    assert response.status_code == 404


def test_oversized_request_is_413(client):
    response = client.post("/login", data={"email": "a@b.org", "password": "x" * 600_000})
    assert response.status_code == 413
    assert "more than we can take" in response.get_data(as_text=True)


@pytest.fixture
def error_app(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    app.add_url_rule("/test/abort/<int:code>", "abort", lambda code: abort(code))

    def boom():
        raise RuntimeError("secret detail in a traceback")

    app.add_url_rule("/test/boom", "boom", boom)
    return app


@pytest.mark.parametrize(
    ("code", "title"),
    [
        (400, "didn&#39;t make sense"),
        (403, "isn&#39;t open to you"),
        (404, "couldn&#39;t find that page"),
        (405, "can&#39;t be done from here"),
        (413, "more than we can take"),
        (429, "slow down"),
    ],
)
def test_friendly_error_pages(error_app, code, title):
    response = error_app.test_client().get(f"/test/abort/{code}")
    assert response.status_code == code
    text = response.get_data(as_text=True)
    assert title in text
    assert "Traceback" not in text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_500_page_has_no_stack_trace(error_app, caplog):
    response = error_app.test_client().get("/test/boom")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong on our side" in text
    assert "secret detail" not in text
    assert "Traceback" not in text


def test_405_keeps_the_allow_header(user_client):
    response = user_client.get("/account/profile")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_logs_never_contain_what_people_wrote(client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "Unmistakable Marker Words"
    assert auth.register(name=marker).status_code == 302
    auth.logout()
    assert auth.register(name=marker).status_code == 422
    assert auth.login(password=marker).status_code == 422
    assert marker not in caplog.text
    assert PASSWORD not in caplog.text


def test_links_use_the_base_url_never_the_host_header(app):
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert external_url("auth.reset_password", token="t") == "http://ledger.test/reset/t"


def test_links_keep_a_base_url_path(make_app):
    app = make_app(BASE_URL="https://example.org/ledger")
    with app.app_context():
        assert external_url("home.index") == "https://example.org/ledger/"


PRODUCTION = {
    "ENV_NAME": "production",
    "SECRET_KEY": "a production secret of enough length for tests",
    "BASE_URL": "https://ledger.example",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
}


HTTPS = {"base_url": "https://ledger.example"}


def https_post(client, url, data):
    token = CSRF_RE.search(client.get(url, **HTTPS).get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, **data}, **HTTPS)


def test_production_cookies_and_hsts(make_app):
    client = make_app(**PRODUCTION).test_client()
    page = client.get("/login", **HTTPS)
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"

    registered = https_post(
        client,
        "/register",
        {
            "email": "sam@example.org",
            "display_name": "Sam",
            "password": PASSWORD,
            "time_zone": "UTC",
        },
    )
    https_post(client, "/logout", {})
    remembered = https_post(
        client, "/login", {"email": "sam@example.org", "password": PASSWORD, "remember": "y"}
    )
    assert registered.status_code == remembered.status_code == 302
    cookies = registered.headers.getlist("Set-Cookie") + remembered.headers.getlist("Set-Cookie")
    names = {c.split("=", 1)[0] for c in cookies}
    assert names == {"__Host-ledger_session", "__Host-ledger_device", "__Host-ledger_remember"}
    for cookie in cookies:
        assert "; Secure" in cookie
        assert "; HttpOnly" in cookie
        assert "; SameSite=Lax" in cookie
        assert "; Path=/" in cookie
        assert "Domain=" not in cookie


def test_production_refuses_a_forged_host(make_app):
    app = make_app(**PRODUCTION)
    client = app.test_client()
    assert client.get("/", base_url="https://ledger.example").status_code == 200
    assert client.get("/", base_url="https://evil.example").status_code == 400


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({"SECRET_KEY": None}, "Set SECRET_KEY"),
        ({"SECRET_KEY": ""}, "Set SECRET_KEY"),
        ({"BASE_URL": None}, "Set LEDGER_BASE_URL"),
        ({"BASE_URL": "http://ledger.example"}, "Set LEDGER_BASE_URL"),
    ],
)
def test_production_refuses_to_start_without_what_keeps_it_safe(database_url, changes, sentence):
    with pytest.raises(ConfigurationError, match=sentence) as info:
        create_app({**PRODUCTION, "DATABASE_URL": database_url, **changes})
    assert str(info.value).count(". ") <= 1  # one sentence


def test_unknown_environment_is_refused(database_url, monkeypatch):
    monkeypatch.setenv("LEDGER_ENV", "staging")
    with pytest.raises(ConfigurationError, match="LEDGER_ENV must be"):
        create_app({"DATABASE_URL": database_url})


def test_development_keeps_one_secret_key_across_restarts(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_INSTANCE_PATH", str(tmp_path / "instance"))
    first = create_app({"ENV_NAME": "development", "DATABASE_URL": database_url})
    second = create_app({"ENV_NAME": "development", "DATABASE_URL": database_url})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_no_page_loads_anything_from_another_origin(user_client):
    import re

    for url in ["/", "/login", "/register", "/account", "/logout"]:
        text = user_client.get(url).get_data(as_text=True)
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', text):
            assert ref.startswith(("/", "#")), (url, ref)
        assert "style=" not in text
        assert "<style" not in text
        assert "<script>" not in text


#: Invisible format characters (Unicode category Cf) a name refuses.
NAME_INVISIBLES = [
    ("a zero-width space", "Sa\u200bm"),
    ("a right-to-left mark", "\u200fSam"),
    ("an Arabic letter mark", "Sam\u061c"),
    ("a soft hyphen", "Sa\u00adm"),
    ("a byte-order mark", "\ufeffSam"),
    ("a tag character", "Sam\U000e0041"),
    ("a zero-width joiner", "Sa\u200dm"),
]


@pytest.mark.parametrize(("what", "name"), NAME_INVISIBLES)
def test_a_display_name_refuses_invisible_format_characters(auth, app, what, name):
    response = auth.register(name=name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"There is an invisible character ({what})" in page
    with app.app_context():
        assert User.select().count() == 0


@pytest.mark.parametrize("field", ["ledger", "invitation"])
def test_ledger_names_and_invitation_notes_refuse_them_too(app, field):
    from ledger.models import Invitation, Ledger

    from .helpers import create_ledger, person, post_form

    sam = person(app, "sam")
    ledger_id = create_ledger(sam)
    if field == "ledger":
        response = post_form(sam, "/ledgers/new", {"name": "Sam\u200b & Alex", "time_zone": "UTC"})
    else:
        response = post_form(
            sam,
            f"/ledgers/{ledger_id}/invitations",
            {"note": "for\u00adAlex"},
            page=f"/ledgers/{ledger_id}",
        )
    assert response.status_code == 422
    assert "There is an invisible character" in response.get_data(as_text=True)
    with app.app_context():
        assert Ledger.select().count() == 1
        assert Invitation.select().count() == 0


#: What real writing needs, kept in every longer text.
REAL_WRITING = [
    "\u05e9\u05dc\u05d5\u05dd\u200f, Sam",  # Hebrew, a right-to-left mark
    "Sam\u200e (\u05e9\u05dc\u05d5\u05dd)",  # a left-to-right mark
    "\U0001f469\u200d\u2764\ufe0f\u200d\U0001f468",  # an emoji joined by ZWJ
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a ZWNJ
]


@pytest.mark.parametrize("text", REAL_WRITING)
def test_longer_texts_keep_the_marks_real_writing_needs(app, couple, text):
    from ledger.models import Revision

    from .helpers import propose

    sam, _, ledger_id = couple
    propose(sam, ledger_id, title=text, text=f"{text}\n{text}")
    with app.app_context():
        assert Revision.get().fields == {"title": text, "text": f"{text}\n{text}"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sam\u202eexa", "changes the direction of the text"),
        ("Sam \u2066isolated\u2069", "changes the direction of the text"),
        ("Sam\U000e0069\U000e0067", "(a tag character)"),
        ("\ufeffSam", "(a byte-order mark)"),
    ],
)
def test_longer_texts_refuse_characters_that_disguise_them(app, couple, text, message):
    from ledger.models import Agreement, Draft

    from .helpers import post_form

    sam, _, ledger_id = couple
    for action in ("propose", "draft"):
        response = post_form(
            sam,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "Our check-in", "text": f"Every Sunday.\n{text}", "action": action},
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert message in page
        assert "Our check-in" in page  # what was typed is kept
    with app.app_context():
        assert Agreement.select().count() == 0
        assert Draft.select().count() == 0


def test_a_message_says_where_the_invisible_character_is(auth):
    page = auth.register(name="Sam\u200b Smith").get_data(as_text=True)
    assert "There is an invisible character (a zero-width space) right after “Sam”." in page
    page = auth.register(name="\u200bSam").get_data(as_text=True)
    assert "at the very start" in page


def test_a_password_is_refused_no_more_than_it_was(auth, app):
    """Passwords are never shown: a password set with a byte-order mark in it
    before names refused one still works."""
    response = auth.register(password=PASSWORD + "\ufeff")
    assert response.status_code == 302


def test_the_token_input_is_what_wtforms_would_write(app):
    """The CSRF field's direct rendering equals WTForms' own, escaping included."""
    with app.test_request_context("/"):
        form = ConfirmForm()
        form.csrf_token.current_token = 'a"<b>&c'
        fast = form.csrf_token(id=False)
        assert fast == HiddenInput()(form.csrf_token, id=False)
        assert "&#34;&lt;b&gt;&amp;c" in fast
        assert form.csrf_token(id="t") == HiddenInput()(form.csrf_token, id="t")
