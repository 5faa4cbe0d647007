"""Fixtures: an app on a fresh database, clients, and an ``auth`` helper.

The suite runs on SQLite by default. With LEDGER_TEST_DATABASE_URL set to a
postgresql:// URL it runs on that server instead, each test in a fresh schema.
"""

import os
import tempfile

import pytest
from peewee import PostgresqlDatabase
from playhouse.db_url import connect

os.environ.setdefault("LEDGER_INSTANCE_PATH", tempfile.mkdtemp(prefix="ledger-instance-"))

from ledger import create_app  # noqa: E402
from ledger.db import db  # noqa: E402
from ledger.schema import upgrade  # noqa: E402

from .helpers import (  # noqa: E402
    AuthActions,
    answer,
    create_ledger,
    invite,
    join,
    person,
    post_form,
    propose,
)

POSTGRES_URL = os.environ.get("LEDGER_TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"ledger database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


def reset_postgres(url):
    """Give the PostgreSQL test database an empty public schema."""
    database = connect(url)
    with database.connection_context():
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql("CREATE SCHEMA public")


@pytest.fixture
def database_url(tmp_path):
    if POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture
def make_app(database_url):
    """Build apps on the test database; the schema is upgraded once."""
    created = []

    def make(**config):
        app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, **config})
        if not created:
            with db.database.connection_context():
                upgrade(db.database)
        created.append(app)
        return app

    yield make
    if not db.database.is_closed():
        db.database.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def on_postgres(app):
    return isinstance(db.database.obj, PostgresqlDatabase)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def user_client(app, auth):
    """A client signed in as Sam (registered through the form)."""
    response = auth.register()
    assert response.status_code == 302
    return auth.client


class World:
    """Two ledgers that must never see each other.

    "Sam & Alex": Sam (A) started it, Alex (B) and Eli joined by invitation;
    Sam asked to remove Eli (waiting for Alex); one invitation is still open.
    "Casey & Dee": the same shape with Casey (C), Dee and Fin.
    """

    def __init__(self, app):
        self.app = app
        self.clients = {}
        self.ids = {}
        self.ids["sam"] = self._ledger("sam", "Sam & Alex", ("alex", "eli"))
        self.ids["casey"] = self._ledger("casey", "Casey & Dee", ("dee", "fin"))

    def client(self, name):
        if name not in self.clients:
            client = self.app.test_client()
            response = AuthActions(client).register(
                email=f"{name}@example.org", name=name.title(), time_zone="UTC"
            )
            assert response.status_code == 302
            self.clients[name] = client
        return self.clients[name]

    def _ledger(self, owner, ledger_name, others):
        from ledger.models import DeviceSession, Membership, Removal, User

        owner_client = self.client(owner)
        ledger_id = create_ledger(owner_client, ledger_name)
        for other in others:
            _, path = invite(owner_client, ledger_id, note=f"for {other.title()}")
            assert join(self.client(other), path).status_code == 302
        # An agreement in force (everyone accepted), with a change proposed.
        agreement = propose(owner_client, ledger_id, title=f"{ledger_name} check-in")
        for other in others:
            assert answer(self.client(other), agreement, 1).status_code == 302
        response = post_form(
            owner_client,
            f"{agreement}/change",
            {
                "title": f"{ledger_name} check-in",
                "text": "Forty minutes.",
                "base": "1",
                "action": "propose",
            },
        )
        assert response.status_code == 302
        draft = post_form(
            owner_client,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "A private draft", "text": "Not yet.", "action": "draft"},
        ).headers["Location"]
        agenda = post_form(
            owner_client, f"/ledgers/{ledger_id}/agenda", {"topic": "Money, again", "note": ""}
        )
        assert agenda.status_code == 302
        invitation_id, path = invite(owner_client, ledger_id, note="still open")
        with self.app.app_context():
            members = {
                m.user.display_name.lower(): m.id
                for m in Membership.select(Membership, User)
                .join(User)
                .where(Membership.ledger == ledger_id)
            }
        last = others[-1]
        response = post_form(
            owner_client,
            f"/ledgers/{ledger_id}/partners/{members[last]}/remove",
            {},
        )
        assert response.status_code == 302
        with self.app.app_context():
            from datetime import timedelta

            from ledger.db import utcnow
            from ledger.models import AgendaItem, PauseLog

            owner_user = User.get(User.email_key == f"{owner}@example.org")
            # A pause noted two days ago: cooling-off is over.
            pause_id = PauseLog.create(
                ledger=ledger_id, user=owner_user, started_at=utcnow() - timedelta(days=2)
            ).id
            agenda_id = AgendaItem.get(AgendaItem.ledger == ledger_id).id
            removal_id = Removal.get(Removal.ledger == ledger_id).id
            device_id = (
                DeviceSession.select()
                .join(User)
                .where(User.email_key == f"{owner}@example.org")
                .get()
                .id
            )
        return {
            "ledger_id": ledger_id,
            "invitation_id": invitation_id,
            "invitation_path": path,
            "membership_id": members[others[0]],
            "removal_id": removal_id,
            "device_id": device_id,
            "agreement_id": int(agreement.rsplit("/", 1)[1]),
            "agreement_path": agreement,
            "number": 2,
            "kind": "general",
            "draft_id": int(draft.rsplit("/", 1)[1]),
            "pause_id": pause_id,
            "item_id": agenda_id,
        }


@pytest.fixture
def world(app):
    return World(app)


@pytest.fixture
def couple(app):
    """Sam and Alex, partners in "Sam & Alex": (sam, alex, ledger id)."""
    sam, alex = person(app, "sam"), person(app, "alex")
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    return sam, alex, ledger_id
