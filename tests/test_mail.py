"""Email: settings, the outbox (at most once), reminders, forgotten passwords,
addresses proven by a link. Every email goes to a real SMTP server (aiosmtpd)
that the test starts on 127.0.0.1."""

import email
import importlib
import re
import socket
import ssl
import subprocess
from email import policy

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from itsdangerous import URLSafeSerializer

import config
from ledger import mail
from ledger.db import utcnow
from ledger.forms import CSRF_EXPLANATION
from ledger.models import EmailConfirmation, Outbox, PasswordReset, User, Waiting

from .helpers import (
    PASSWORD,
    AuthActions,
    answer,
    create_ledger,
    csrf_token,
    invite,
    join,
    post_form,
    propose,
)

SENDER = "Ledger <ledger@example.org>"
LINK_RE = re.compile(r"http://ledger\.test/\S+")


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; it can also turn
    recipients away or hang up in the middle of a message."""

    def __init__(self):
        self.envelopes = []
        self.rcpt_reply = None
        self.hang_up = False
        self.logins = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_up:
            server.transport.close()
            return "250 never heard"
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"ledger", b"s3cret"))

    @property
    def messages(self):
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]

    def last(self):
        return self.messages[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """Start aiosmtpd servers on free ports: ``start(**controller options)``."""
    started = []

    def start(**options):
        inbox = Inbox()
        if options.pop("auth", False):
            options["authenticator"] = inbox.authenticate
        inbox.port = free_port()
        controller = Controller(
            inbox, hostname="127.0.0.1", port=inbox.port, server_hostname="smtp.test", **options
        )
        controller.start()
        started.append(controller)
        return inbox

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def inbox(smtp_server):
    return smtp_server()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with openssl: (cert, key)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def enable_mail(app, inbox, **settings):
    """Point the app at the test's SMTP server (plain, on 127.0.0.1)."""
    defaults = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": inbox.port,
        "SMTP_SECURITY": "none",
        "MAIL_FROM": SENDER,
        "SMTP_TIMEOUT": 5,
    }
    app.config.update({**defaults, **settings})


def sent(response):
    """Close a response: what it queued is sent once it has gone out."""
    response.close()
    return response


def register(client, email="sam@example.org", name="Sam", next_url=None):
    url = "/register" + (f"?next={next_url}" if next_url else "")
    return sent(
        post_form(
            client,
            url,
            {"email": email, "display_name": name, "password": PASSWORD, "time_zone": "UTC"},
            page="/register",
        )
    )


def link_in(message):
    """The one link of ours in an email's plain text, as a path."""
    text = message.get_body(("plain",)).get_content()
    links = [link for link in LINK_RE.findall(text) if "/reminders/stop/" not in link]
    assert len(links) == 1, text
    return links[0].removeprefix("http://ledger.test")


def partners(app):
    """Sam and Alex, partners in one ledger, registered without email: (sam, alex, id)."""
    sam, alex = app.test_client(), app.test_client()
    assert AuthActions(sam).register(name="Sam & Co").status_code == 302
    assert AuthActions(alex).register(email="alex@example.org", name="Alex").status_code == 302
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    return sam, alex, ledger_id


def choose_reminders(client, **choices):
    data = {name: "y" for name, on in choices.items() if on}
    return post_form(client, "/account/reminders", {**data, "save": "y"}, page="/account")


def run(app):
    return app.test_cli_runner().invoke(args=["send-reminders"])


# Settings.


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SMTP_SECURITY": "ssl"}, "LEDGER_SMTP_SECURITY must be starttls, tls or none"),
        ({"SMTP_PORT": "smtp"}, "LEDGER_SMTP_PORT must be a port number"),
        ({"SMTP_PORT": "70000"}, "LEDGER_SMTP_PORT must be a port number"),
        ({"MAIL_FROM": None}, "Set LEDGER_MAIL_FROM"),
        ({"MAIL_FROM": "Ledger"}, "Set LEDGER_MAIL_FROM"),
        ({"SMTP_USER": "ledger"}, "Set both LEDGER_SMTP_USER and LEDGER_SMTP_PASSWORD"),
    ],
)
def test_wrong_settings_are_named_and_nothing_is_queued(app, inbox, settings, message):
    enable_mail(app, inbox, **settings)
    result = run(app)
    assert result.exit_code == 1
    assert message in result.output
    assert "Nothing was sent" in result.output
    with app.app_context():
        assert Outbox.select().count() == 0


@pytest.mark.parametrize(
    ("security", "port", "expected"),
    [("starttls", None, 587), ("tls", None, 465), ("none", None, 25), ("TLS", "2525", 2525)],
)
def test_the_port_follows_the_security(app, security, port, expected):
    config = {
        "SMTP_HOST": "mail.example.org",
        "SMTP_SECURITY": security,
        "SMTP_PORT": port,
        "MAIL_FROM": SENDER,
    }
    settings = mail.smtp_settings({**app.config, **config})
    assert (settings.port, settings.security) == (expected, security.lower())


def test_configuration_reads_the_environment(monkeypatch):
    values = {
        "LEDGER_SMTP_HOST": "mail.example.org",
        "LEDGER_SMTP_PORT": "465",
        "LEDGER_SMTP_SECURITY": "tls",
        "LEDGER_SMTP_USER": "ledger",
        "LEDGER_SMTP_PASSWORD": "s3cret",
        "LEDGER_MAIL_FROM": SENDER,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    try:
        fresh = importlib.reload(config).ProductionConfig
        assert (fresh.SMTP_HOST, fresh.SMTP_PORT, fresh.SMTP_SECURITY) == (
            "mail.example.org",
            "465",
            "tls",
        )
        credentials = (fresh.SMTP_USER, fresh.SMTP_PASSWORD, fresh.MAIL_FROM)
        assert credentials == ("ledger", "s3cret", SENDER)
        assert importlib.reload(config).TestingConfig.SMTP_HOST is None
    finally:
        for name in values:
            monkeypatch.delenv(name)
        importlib.reload(config)


# Sending: STARTTLS, TLS, and the outbox's guarantee.


def queue_one(app, key="test:1", to="sam@example.org"):
    with app.app_context():
        user = User.by_email(to)
        return Outbox.queue(user, key, "Ledger: A test", "Plain words.", "<p>Plain words.</p>").id


def test_starttls_with_a_login(app, smtp_server, certificate, monkeypatch):
    """A self-signed certificate (made with openssl) that the client trusts
    through SSL_CERT_FILE; the server refuses mail before STARTTLS."""
    inbox = smtp_server(tls_context=server_context(certificate), require_starttls=True, auth=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox, SMTP_SECURITY="starttls", SMTP_USER="ledger", SMTP_PASSWORD="s3cret")
    queue_one(app)
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "sent 1 email(s)" in result.output
    assert inbox.logins == [(b"ledger", b"s3cret")]
    assert inbox.last()["Subject"] == "Ledger: A test"


def test_starttls_refuses_a_certificate_it_cannot_trust(app, smtp_server, certificate):
    inbox = smtp_server(tls_context=server_context(certificate), require_starttls=True)
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox, SMTP_SECURITY="starttls")
    queue_one(app)
    result = run(app)
    assert result.exit_code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.output
    assert inbox.envelopes == []
    with app.app_context():  # nothing claimed: it goes at the next run
        assert Outbox.pending().count() == 1


def test_tls_from_the_start(app, smtp_server, certificate, monkeypatch):
    inbox = smtp_server(ssl_context=server_context(certificate), auth=True, auth_require_tls=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox, SMTP_SECURITY="tls", SMTP_USER="ledger", SMTP_PASSWORD="s3cret")
    queue_one(app)
    assert run(app).exit_code == 0
    assert inbox.logins == [(b"ledger", b"s3cret")]
    assert len(inbox.envelopes) == 1


def test_a_wrong_password_claims_nothing(app, smtp_server, certificate, monkeypatch):
    inbox = smtp_server(tls_context=server_context(certificate), require_starttls=True, auth=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox, SMTP_SECURITY="starttls", SMTP_USER="ledger", SMTP_PASSWORD="wrong")
    queue_one(app)
    result = run(app)
    assert result.exit_code == 1
    assert "Could not use the mail server at 127.0.0.1" in result.output
    with app.app_context():
        assert Outbox.pending().count() == 1


def test_an_unreachable_server_leaves_the_queue_as_it_was(app):
    AuthActions(app.test_client()).register()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), MAIL_FROM=SENDER)
    app.config["SMTP_SECURITY"] = "none"
    queue_one(app)
    result = run(app)
    assert result.exit_code == 1
    assert "the emails wait for the next run" in result.output
    with app.app_context():
        assert Outbox.pending().count() == 1


class Crash(BaseException):
    """The process dies here (nothing after it runs)."""


def test_a_crash_after_handing_over_never_sends_twice(app, inbox, monkeypatch):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    first, second = queue_one(app, "test:1"), queue_one(app, "test:2")

    def crash(self, now):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "mark_sent", crash)
        with pytest.raises(Crash), app.app_context():
            mail.send_pending()
    assert len(inbox.envelopes) == 1  # the server has the first one
    with app.app_context():
        assert Outbox.get_by_id(first).claimed_at is not None
        assert Outbox.get_by_id(first).sent_at is None
    result = run(app)
    assert result.exit_code == 0
    assert "sent 1 email(s)" in result.output
    assert len(inbox.envelopes) == 2  # the second one; never the first again
    with app.app_context():
        assert [row.id for row in Outbox.in_doubt()] == [first]
        assert Outbox.get_by_id(second).sent_at is not None


def test_a_crash_before_handing_over_loses_it_rather_than_risk_twice(app, inbox, monkeypatch):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    queue_one(app)

    def crash(self, msg):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr("smtplib.SMTP.send_message", crash)
        with pytest.raises(Crash), app.app_context():
            mail.send_pending()
    assert run(app).exit_code == 0
    assert inbox.envelopes == []
    with app.app_context():
        assert Outbox.in_doubt().count() == 1


def test_a_broken_connection_while_sending_is_in_doubt_and_not_retried(app, inbox):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    queue_one(app, "test:1")
    queue_one(app, "test:2")
    inbox.hang_up = True
    result = run(app)
    assert result.exit_code == 1
    assert "1 email(s) may or may not have gone out" in result.output
    inbox.hang_up = False
    assert "sent 1 email(s)" in run(app).output  # only the one never tried
    assert "sent 0 email(s)" in run(app).output
    assert len(inbox.envelopes) == 1


def test_two_runs_cannot_claim_the_same_email(app):
    AuthActions(app.test_client()).register()
    row_id = queue_one(app)
    with app.app_context():
        mine, theirs = Outbox.get_by_id(row_id), Outbox.get_by_id(row_id)
        assert mine.claim(utcnow()) is True
        assert theirs.claim(utcnow()) is False
        with pytest.raises(RuntimeError), User._meta.database.atomic():
            Outbox.get_by_id(row_id).claim(utcnow())


def test_queueing_the_same_key_twice_does_nothing(app):
    AuthActions(app.test_client()).register()
    queue_one(app, "review-due:1:2026-03-01:1")
    with app.app_context():
        sam = User.get()
        assert Outbox.queue(sam, "review-due:1:2026-03-01:1", "s", "t", "h") is None
        assert Outbox.queue(sam, "other:1", "s", "t", "h", items=["a", "b"]) is not None
        assert Outbox.queue(sam, "other:2", "s", "t", "h", items=["b", "c"]) is None
        assert Outbox.known(["a", "c", "other:1", "review-due:1:2026-03-01:1"]) == {
            "a",
            "other:1",
            "review-due:1:2026-03-01:1",
        }
        assert Outbox.select().count() == 2
        assert Outbox.get(Outbox.key == "review-due:1:2026-03-01:1").kind == "review-due"


@pytest.mark.parametrize(
    ("reply", "retried"), [("450 Mailbox busy", True), ("550 No such user", False)]
)
def test_a_refused_email_is_retried_or_given_up(app, inbox, reply, retried):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    row_id = queue_one(app)
    inbox.rcpt_reply = reply
    result = run(app)
    assert result.exit_code == 0
    assert ("tried again at the next run" if retried else "they are given up") in result.output
    inbox.rcpt_reply = None
    assert ("sent 1 email(s)" if retried else "sent 0 email(s)") in run(app).output
    assert len(inbox.envelopes) == (1 if retried else 0)
    with app.app_context():
        row = Outbox.get_by_id(row_id)
        assert row.error.startswith("SMTPRecipientsRefused")
        assert (row.text, row.recipient) == ("", "")  # erased once sent or given up


def test_a_temporary_refusal_is_given_up_after_the_last_try(app, inbox):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox, MAIL_MAX_ATTEMPTS=2)
    row_id = queue_one(app)
    inbox.rcpt_reply = "451 Try later"
    assert "tried again" in run(app).output
    assert "given up" in run(app).output
    with app.app_context():
        assert Outbox.get_by_id(row_id).failed_at is not None


# Forgotten password.


def test_forgot_password_emails_a_single_use_link(app, inbox):
    AuthActions(app.test_client()).register(name="Sam & Co")
    enable_mail(app, inbox)
    client = app.test_client()
    assert 'href="/forgot-password"' in client.get("/login").get_data(as_text=True)
    response = sent(post_form(client, "/forgot-password", {"email": "SAM@example.org"}))
    assert response.headers["Location"] == "/forgot-password?sent=1"
    page = client.get("/forgot-password?sent=1").get_data(as_text=True)
    assert "If an account here uses that address" in page

    message = inbox.last()
    assert inbox.envelopes[-1].rcpt_tos == ["sam@example.org"]
    assert message["From"] == SENDER
    assert message["Subject"] == "Ledger: Set a new password"
    assert "List-Unsubscribe" not in message  # asked for, not a reminder
    html = message.get_body(("html",)).get_content()
    assert "Hello Sam &amp; Co," in html
    path = link_in(message)
    assert path in html
    assert path.startswith("/reset/")
    with app.app_context():  # only the hash of the link is kept, and the email's words go
        row = Outbox.get()
        assert (row.kind, row.text, row.html, row.recipient) == ("reset", "", "", "")
        assert PasswordReset.get().token_hash in row.key
        assert path.split("/")[-1] not in row.key

    assert post_form(client, path, {"password": "a new calm harbour 77"}).status_code == 302
    assert AuthActions(app.test_client()).login(password="a new calm harbour 77").status_code == 302
    assert client.get(path).status_code == 404  # once


def test_forgot_password_answers_the_same_for_an_unknown_address(app, inbox):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    answers = []
    for address in ("sam@example.org", "nobody@example.org"):
        response = sent(post_form(app.test_client(), "/forgot-password", {"email": address}))
        answers.append((response.status_code, response.headers["Location"]))
    assert answers[0] == answers[1]
    assert [e.rcpt_tos for e in inbox.envelopes] == [["sam@example.org"]]
    with app.app_context():
        assert PasswordReset.select().count() == 1


def test_forgot_password_sends_at_most_three_links_an_hour(app, inbox):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    client = app.test_client()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        for _ in range(5):
            sent(post_form(client, "/forgot-password", {"email": "sam@example.org"}))
        assert len(inbox.envelopes) == 3
        traveller.shift(3700)
        sent(post_form(client, "/forgot-password", {"email": "sam@example.org"}))
        assert len(inbox.envelopes) == 4


def test_forgot_password_refuses_a_malformed_address(app, inbox):
    enable_mail(app, inbox)
    response = post_form(app.test_client(), "/forgot-password", {"email": "not an address"})
    assert response.status_code == 422
    assert "look like an email address" in response.get_data(as_text=True)


def test_a_reset_email_not_sent_within_the_hour_is_given_up(app, inbox):
    AuthActions(app.test_client()).register()
    enable_mail(app, inbox)
    inbox.rcpt_reply = "451 Try later"
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sent(post_form(app.test_client(), "/forgot-password", {"email": "sam@example.org"}))
        inbox.rcpt_reply = None
        traveller.shift(3601)
        result = run(app)
    assert "not sent before their links expired" in result.output
    assert inbox.envelopes == []


def test_without_email_the_page_says_whom_to_ask(app, runner):
    AuthActions(app.test_client()).register()
    page = app.test_client().get("/forgot-password").get_data(as_text=True)
    assert "This Ledger doesn't send email" in page
    assert 'name="email"' not in page
    assert "reset/" in runner.invoke(args=["reset-link", "sam@example.org"]).output


# Registration and changing one's email.


def test_registration_is_confirmed_by_a_link(app, inbox):
    enable_mail(app, inbox)
    client = app.test_client()
    response = register(client, next_url="/ledgers/new")
    assert response.headers["Location"] == "/register/check-your-inbox"
    assert "Check your inbox" in client.get("/register/check-your-inbox").get_data(as_text=True)
    with app.app_context():
        assert User.select().count() == 0
    message = inbox.last()
    assert message["Subject"] == "Ledger: Confirm your email to create your account"
    assert "Sam" not in message.get_body(("plain",)).get_content()  # nothing typed by a stranger
    path = link_in(message)

    assert "Create your account" in client.get(path).get_data(as_text=True)
    with app.app_context():
        assert User.select().count() == 0  # opening the link changes nothing
    response = post_form(client, path, {"remember": "y"})
    assert response.headers["Location"] == "/ledgers/new"
    assert client.get("/account").status_code == 200
    with app.app_context():
        user = User.get()
        assert (user.email, user.display_name, user.time_zone) == ("sam@example.org", "Sam", "UTC")
    assert app.test_client().get(path).status_code == 404  # once
    assert AuthActions(app.test_client()).login().status_code == 302


def test_registration_does_not_tell_whether_an_address_has_an_account(app, inbox):
    AuthActions(app.test_client()).register(name="Sam")
    enable_mail(app, inbox)
    new = register(app.test_client(), email="new@example.org")
    taken = register(app.test_client(), email="SAM@example.org", name="Someone")
    assert (new.status_code, new.headers["Location"]) == (
        taken.status_code,
        taken.headers["Location"],
    )
    note = inbox.last()
    assert inbox.envelopes[-1].rcpt_tos == ["sam@example.org"]
    assert note["Subject"] == "Ledger: You already have an account"
    text = note.get_body(("plain",)).get_content()
    assert "http://ledger.test/login" in text and "http://ledger.test/forgot-password" in text
    with app.app_context():
        assert User.select().count() == 1
        assert [c.email for c in EmailConfirmation.select()] == ["new@example.org"]


def test_an_address_that_got_an_account_meanwhile_is_not_used_twice(app, inbox):
    enable_mail(app, inbox)
    register(app.test_client())
    path = link_in(inbox.last())
    app.config["SMTP_HOST"] = None
    assert AuthActions(app.test_client()).register().status_code == 302
    app.config["SMTP_HOST"] = "127.0.0.1"
    response = post_form(app.test_client(), path, {})
    assert response.status_code == 409
    assert "This email already has an account" in response.get_data(as_text=True)
    with app.app_context():
        assert User.select().count() == 1


def test_a_registration_link_expires_after_a_day(app, inbox):
    enable_mail(app, inbox)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        register(app.test_client())
        path = link_in(inbox.last())
        traveller.shift(24 * 3600 + 1)
        assert app.test_client().get(path).status_code == 404


def test_without_email_registration_stays_as_it_was(app):
    assert AuthActions(app.test_client()).register().headers["Location"] == "/"
    response = AuthActions(app.test_client()).register(email="SAM@example.org")
    assert response.status_code == 422
    assert "An account can&#39;t be created with this email" in response.get_data(as_text=True)


def test_a_new_email_is_used_once_its_link_is_opened(app, inbox):
    sam = app.test_client()
    AuthActions(sam).register()
    enable_mail(app, inbox)
    data = {
        "email": "sam@new.example",
        "display_name": "Sam R.",
        "time_zone": "UTC",
        "current_password": PASSWORD,
    }
    response = sent(post_form(sam, "/account/profile", data, page="/account"))
    assert response.headers["Location"] == "/account"
    assert "open the link we are sending there" in sam.get("/account").get_data(as_text=True)
    with app.app_context():
        assert (User.get().email, User.get().display_name) == ("sam@example.org", "Sam R.")
    assert inbox.envelopes[-1].rcpt_tos == ["sam@new.example"]
    path = link_in(inbox.last())
    assert "Use this email?" in sam.get(path).get_data(as_text=True)
    assert post_form(sam, path, {}).headers["Location"] == "/account"
    with app.app_context():
        assert User.get().email_key == "sam@new.example"
    assert sam.get(path).status_code == 404


def test_moving_to_an_address_in_use_tells_its_owner_and_changes_nothing(app, inbox):
    sam = app.test_client()
    AuthActions(sam).register()
    AuthActions(app.test_client()).register(email="alex@example.org", name="Alex")
    enable_mail(app, inbox)
    data = {"email": "ALEX@example.org", "display_name": "Sam", "time_zone": "UTC"}
    response = sent(
        post_form(sam, "/account/profile", {**data, "current_password": PASSWORD}, page="/account")
    )
    assert response.status_code == 302  # as for any address
    assert inbox.envelopes[-1].rcpt_tos == ["alex@example.org"]
    assert inbox.last()["Subject"] == "Ledger: You already have an account"
    with app.app_context():
        assert User.by_email("sam@example.org") is not None
        assert EmailConfirmation.select().count() == 0


# Reminders.


def test_send_reminders_without_email_prints_and_writes_nothing(app):
    sam, alex, ledger_id = partners(app)
    choose_reminders(alex, remind_answers=True)
    propose(sam, ledger_id, title="Money talks on Sundays")
    result = run(app)
    assert result.exit_code == 0
    assert "Email is not set up (LEDGER_SMTP_HOST is empty)" in result.output
    assert "would send 1 email(s)" in result.output
    assert "To: alex@example.org" in result.output
    assert "Money talks" not in result.output
    with app.app_context():
        assert Outbox.select().count() == 0
    assert "would send 1 email(s)" in run(app).output


def test_a_waiting_answer_is_emailed_once_to_who_chose_it(app, inbox):
    sam, alex, ledger_id = partners(app)
    enable_mail(app, inbox)
    choose_reminders(alex, remind_answers=True)
    choose_reminders(sam, remind_reviews=True)  # not this kind
    agreement = propose(sam, ledger_id, title="Money talks on Sundays")
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "Queued 1 reminder(s); sent 1 email(s)." in result.output
    message = inbox.last()
    assert inbox.envelopes[-1].rcpt_tos == ["alex@example.org"]
    assert message["Subject"] == "Ledger: Something waits for your answer"
    text = message.get_body(("plain",)).get_content()
    assert "Money talks" not in message.as_string()  # no agreement content
    assert f"http://ledger.test/ledgers/{ledger_id}/agreements" in text
    stop = re.search(r"http://ledger\.test/account/reminders/stop/\S+", text).group(0)
    assert message["List-Unsubscribe"] == f"<{stop}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("html",)) is not None

    assert "Queued 0 reminder(s); sent 0 email(s)." in run(app).output  # idempotent
    propose(sam, ledger_id, title="Phones away at dinner")
    propose(sam, ledger_id, title="A walk after work")
    run(app)
    assert len(inbox.envelopes) == 2  # one more email for both new ones
    assert "3 things" in inbox.last().get_body(("plain",)).get_content()
    assert answer(alex, agreement, 1).status_code == 302
    assert "Queued 0 reminder(s)" in run(app).output  # less waiting is no news


def test_a_request_for_a_change_is_news_to_the_author(app, inbox):
    sam, alex, ledger_id = partners(app)
    enable_mail(app, inbox)
    choose_reminders(sam, remind_answers=True)
    agreement = propose(sam, ledger_id)
    assert answer(alex, agreement, 1, "change", note="Shorter, please").status_code == 302
    run(app)
    assert [e.rcpt_tos for e in inbox.envelopes] == [["sam@example.org"]]
    assert "Shorter" not in inbox.last().as_string()


def test_a_discreet_partner_gets_the_neutral_name(app, inbox):
    sam, alex, ledger_id = partners(app)
    post_form(
        alex,
        "/account/profile",
        {"email": "alex@example.org", "display_name": "Alex", "time_zone": "UTC", "discreet": "y"},
        page="/account",
    )
    enable_mail(app, inbox)
    choose_reminders(alex, remind_answers=True)
    propose(sam, ledger_id)
    run(app)
    message = inbox.last()
    assert message["From"] == "Notes <ledger@example.org>"
    assert message["Subject"] == "Notes: Something waits for your answer"
    assert "Ledger" not in message.get_body(("plain",)).get_content()
    assert "Ledger" not in message.get_body(("html",)).get_content()


def test_the_stop_link_asks_first_and_stops_by_post(app, inbox):
    sam, alex, ledger_id = partners(app)
    enable_mail(app, inbox)
    choose_reminders(alex, remind_answers=True, remind_reviews=True)
    propose(sam, ledger_id)
    run(app)
    stop = re.search(r"/account/reminders/stop/\S+", inbox.last()["List-Unsubscribe"]).group(0)
    stop = stop.rstrip(">")
    stranger = app.test_client()  # a mail app, or a browser not logged in
    page = stranger.get(stop)
    assert page.status_code == 200
    assert "Stop these emails?" in page.get_data(as_text=True)
    with app.app_context():
        assert User.by_email("alex@example.org").remind_answers  # a GET changes nothing
    assert stranger.post(stop, data={}).status_code == 400  # no form, no change
    response = post_form(stranger, stop, {})
    assert response.headers["Location"] == stop
    assert "These emails are stopped" in stranger.get(stop).get_data(as_text=True)
    with app.app_context():
        alex_user = User.by_email("alex@example.org")
        assert (alex_user.remind_answers, alex_user.remind_reviews) == (False, True)
    propose(sam, ledger_id, title="Another")
    assert "Queued 0 reminder(s)" in run(app).output


def test_the_stop_link_works_in_one_click_from_a_mail_app(app, inbox):
    sam, alex, ledger_id = partners(app)
    choose_reminders(alex, remind_answers=True)
    with app.app_context():
        url = mail.stop_url(User.by_email("alex@example.org"), "answers")
    path = url.removeprefix("http://ledger.test")
    response = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 204
    with app.app_context():
        assert not User.by_email("alex@example.org").remind_answers


@pytest.mark.parametrize("tamper", ["x", "signature", "kind"])
def test_a_changed_stop_link_is_refused(app, tamper):
    AuthActions(app.test_client()).register()
    with app.app_context():
        sam = User.get()
        path = mail.stop_url(sam, "answers").removeprefix("http://ledger.test")
        if tamper == "kind":
            forged = URLSafeSerializer(app.config["SECRET_KEY"], salt="ledger.stop-reminders")
            path = path.rsplit("/", 1)[0] + "/" + forged.dumps([sam.uuid.hex, "remind_answers"])
    if tamper == "x":
        path += "x"
    if tamper == "signature":
        path = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    client = app.test_client()
    assert client.get(path).status_code == 404
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_a_reminder_source_adds_emails_without_touching_the_command(app, inbox, monkeypatch):
    monkeypatch.setattr(mail, "_SOURCES", list(mail._SOURCES))
    sam, alex, ledger_id = partners(app)
    enable_mail(app, inbox)
    choose_reminders(sam, remind_reviews=True)
    choose_reminders(alex, remind_answers=True)  # not reviews

    @mail.register_reminder_source
    def reviews_due(now):
        for user in User.select():
            yield mail.Reminder(
                user=user,
                kind="reviews",
                key=f"review-due:{ledger_id}:2026-03-01:{user.id}",
                template="answers",
                context={"count": 1, "url": "http://ledger.test/"},
                subject="Time to revisit your agreements",
            )

    assert mail.register_reminder_source(reviews_due) is reviews_due  # once only
    assert "Queued 1 reminder(s)" in run(app).output
    assert [e.rcpt_tos for e in inbox.envelopes] == [["sam@example.org"]]
    assert inbox.last()["Subject"] == "Ledger: Time to revisit your agreements"
    assert "/account/reminders/stop/" in inbox.last()["List-Unsubscribe"]
    assert "Queued 0 reminder(s)" in run(app).output


# The offer, once, and the choices.


def test_the_offer_comes_once_when_the_first_agreement_is_in_force(make_app, smtp_server):
    inbox = smtp_server()
    app = make_app()
    sam, alex, ledger_id = partners(app)
    board = f"/ledgers/{ledger_id}/agreements"  # the dashboard includes the offer
    assert "Reminders by email" not in sam.get(board).get_data(as_text=True)
    enable_mail(app, inbox)
    agreement = propose(sam, ledger_id)
    assert "Reminders by email" not in sam.get(board).get_data(as_text=True)  # proposed only
    assert answer(alex, agreement, 1).status_code == 302
    for client in (sam, alex):
        page = client.get(board).get_data(as_text=True)
        assert "Reminders by email, if you like" in page
        assert 'name="remind_reviews"' in page and "checked" not in page  # nothing pre-chosen
    choice = {"remind_answers": "y", "save": "y", "next": board}
    response = post_form(sam, "/account/reminders", choice, page=board)
    assert response.headers["Location"] == board
    choice = {"remind_reviews": "y", "decline": "y", "next": board}
    post_form(alex, "/account/reminders", choice, page=board)
    with app.app_context():
        sam_user, alex_user = User.by_email("sam@example.org"), User.by_email("alex@example.org")
        assert (sam_user.remind_reviews, sam_user.remind_answers) == (False, True)
        assert (alex_user.remind_reviews, alex_user.remind_answers) == (False, False)
        assert sam_user.reminders_offered_at and alex_user.reminders_offered_at
    for client in (sam, alex):
        assert "Reminders by email" not in client.get(board).get_data(as_text=True)


def test_the_choices_change_on_the_account_page(app, inbox):
    sam = app.test_client()
    AuthActions(sam).register()
    assert "Reminders by email" not in sam.get("/account").get_data(as_text=True)
    enable_mail(app, inbox)
    assert "Reminders by email" in sam.get("/account").get_data(as_text=True)
    response = choose_reminders(sam, remind_reviews=True)
    assert response.headers["Location"] == "/account"
    page = sam.get("/account").get_data(as_text=True)
    assert re.search(r'checked[^>]*id="remind_reviews"|id="remind_reviews"[^>]*checked', page)
    choice = {"next": "https://evil.example/"}
    response = post_form(sam, "/account/reminders", choice, page="/account")
    assert response.headers["Location"] == "/account"  # only back to this site
    with app.app_context():
        assert not User.get().remind_reviews


def test_waiting_rows_are_what_the_reminder_reads(app):
    """The reminder reads the stored Waiting rows: one per agreement and partner."""
    sam, alex, ledger_id = partners(app)
    propose(sam, ledger_id)
    with app.app_context():
        assert [w.user.email for w in Waiting.select()] == ["alex@example.org"]


def test_a_form_without_its_token_changes_nothing(app, inbox):
    """Every new form: a missing or foreign CSRF token is a 400 that keeps
    what was typed and changes nothing."""
    explanation = CSRF_EXPLANATION.replace("'", "&#39;")
    sam = app.test_client()
    AuthActions(sam).register()
    enable_mail(app, inbox)
    register(app.test_client(), email="new@example.org")
    confirm_registration = link_in(inbox.last())
    data = {"email": "sam@new.example", "display_name": "Sam", "time_zone": "UTC"}
    sent(post_form(sam, "/account/profile", {**data, "current_password": PASSWORD}, "/account"))
    confirm_email = link_in(inbox.last())
    foreign = csrf_token(app.test_client(), "/login")
    cases = [
        (app.test_client(), "/forgot-password", {"email": "typed@ex.org"}, "typed@ex.org"),
        (app.test_client(), confirm_registration, {"remember": "y"}, "Create my account"),
        (sam, "/account/reminders", {"remind_answers": "y", "save": "y"}, "checked"),
        (sam, confirm_email, {}, "Use this email"),
    ]
    emails = len(inbox.envelopes)
    for client, url, data, echoed in cases:
        for token in ("", foreign):
            response = sent(client.post(url, data={"csrf_token": token, **data}))
            assert response.status_code == 400, url
            text = response.get_data(as_text=True)
            assert explanation in text and echoed in text, url
    assert len(inbox.envelopes) == emails
    with app.app_context():
        assert [u.email for u in User.select()] == ["sam@example.org"]
        assert not User.get().remind_answers
