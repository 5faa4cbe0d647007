"""What every request to Ledger pays before a page's own work, in microseconds.

    .venv/bin/python bench/overhead.py

In one process, on a fresh SQLite database with one signed-in account: each
piece of per-request work timed alone (a connection opened with its PRAGMAs
against one taken from the pool, opening the session cookie, the CSRF
secret, the device and user lookup), then whole requests through the test
client (a static file, an anonymous page, a signed-in page). Absolute numbers
depend on the machine; compare them with each other.
"""

import os
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LEDGER_INSTANCE_PATH", tempfile.mkdtemp(prefix="ledger-overhead-"))

from peewee import SqliteDatabase

from ledger import create_app
from ledger.auth import ensure_csrf_secret, load_user
from ledger.db import SQLITE_PRAGMAS, db
from ledger.schema import upgrade
from tests.helpers import AuthActions


def per_call_us(function, number=2000):
    return timeit.timeit(function, number=number) / number * 1e6


def main():
    path = Path(os.environ["LEDGER_INSTANCE_PATH"]) / "overhead.sqlite3"
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context(), db.database.connection_context():
        upgrade(db.database)
    client = app.test_client()
    AuthActions(client).register()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value

    unpooled = SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS)

    def open_unpooled():
        unpooled.connect()
        unpooled.close()

    def open_pooled():
        db.database.connect()
        db.database.close()

    rows = [("connection opened, with its 4 PRAGMAs", per_call_us(open_unpooled))]
    with app.app_context():
        rows.append(("connection taken from the pool", per_call_us(open_pooled)))
    headers = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}
    with app.test_request_context("/", headers=headers) as ctx:
        interface = app.session_interface
        rows.append(
            ("session cookie opened", per_call_us(lambda: interface.open_session(app, ctx.request)))
        )
        rows.append(("CSRF secret ensured", per_call_us(ensure_csrf_secret)))
        token = interface.open_session(app, ctx.request)["_user_id"]
        with db.database.connection_context():
            rows.append(
                ("device and user lookup (load_user)", per_call_us(lambda: load_user(token)))
            )

    rows += [
        ("request: the stylesheet", request_us(client, "/static/style.css")),
        ("request: the login page, signed out", request_us(app.test_client(), "/login")),
        ("request: a signed-in page (new ledger form)", request_us(client, "/ledgers/new")),
    ]
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.0f} µs")


def request_us(client, path, number=300):
    def get():
        client.get(path).close()

    get()
    return per_call_us(get, number)


if __name__ == "__main__":
    main()
