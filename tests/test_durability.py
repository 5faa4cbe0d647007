"""Nothing lost under load and when the server is killed.

The app runs under gunicorn with four workers on 127.0.0.1 (on PostgreSQL,
two app servers on two ports share one database, with the load spread over
both). Several clients send proposals, answers, take-backs, withdrawals and
changes on the same few agreements for a fixed time, each from a fresh form.
Every write must answer a redirect (it happened) or 409 (a visible conflict,
nothing written); afterwards no 5xx was answered, no "database is locked" was
logged, every write that was answered with success exists exactly once,
revision numbers are contiguous, and every chain and stored state verify.
The crash test kills the SQLite server with SIGKILL in the middle of a write
load, starts it again, and finds every acknowledged write.
"""

import http.client
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from ledger.chain import verify_all
from ledger.db import db
from ledger.models import Agreement, Consent, Revision, User

from .conftest import POSTGRES_URL
from .helpers import PASSWORD, AuthActions, answer, create_ledger, invite, join, propose

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HIDDEN = re.compile(r'name="(content_hash|submission|base)" type="hidden" value="([^"]*)"')
#: How long each load runs; the whole module stays well under two minutes.
LOAD_SECONDS = float(os.environ.get("LEDGER_LOAD_SECONDS", "12"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the app on one port, its log in a file."""

    def __init__(self, url, instance, log):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.output = open(log, "ab")  # noqa: SIM115 - closed in stop()/kill()
        env = {
            **os.environ,
            "LEDGER_ENV": "testing",
            "LEDGER_DATABASE_URL": url,
            "LEDGER_INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "ledger:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/login", timeout=10).close()  # noqa: S310
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise AssertionError("gunicorn did not start:\n" + Path(log).read_text()[-3000:])

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.output.close()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.output.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _body(response):
    """An answer's body, or what arrived of it: the crash test can kill the
    server after the status and headers went out (the answer was given, and
    counts) but before the whole body did."""
    try:
        return response.read().decode()
    except (http.client.IncompleteRead, ConnectionError, TimeoutError) as cut:
        return getattr(cut, "partial", b"").decode(errors="replace")


class Browser:
    """A person's browser: its own cookies; redirects are not followed."""

    def __init__(self, base):
        self.base = base
        self.read_statuses = []  # what every page read answered (never a 5xx)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def open(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                return response.status, response.headers.get("Location"), _body(response)
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location"), _body(error)
        except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException):
            return 0, None, ""  # the server is gone (the crash test): no answer

    def form(self, path):
        """GET a page: its CSRF token and hidden fields, or None when it has no form."""
        status, _, page = self.open(path)
        if status:
            self.read_statuses.append(status)
        token = CSRF.search(page)
        if status != 200 or not token:
            return None
        return {"csrf_token": token.group(1), **dict(HIDDEN.findall(page)), "page": page}

    def log_in(self, email):
        fields = self.form("/login")
        status, location, _ = self.open(
            "/login", {"csrf_token": fields["csrf_token"], "email": email, "password": PASSWORD}
        )
        assert status == 302, (status, location)


@pytest.fixture
def couple_with_agreements(app):
    """Sam and Alex with three agreements in force; return (ledger id, paths)."""
    sam, alex = app.test_client(), app.test_client()
    AuthActions(sam).register(email="sam@example.org", name="Sam")
    AuthActions(alex).register(email="alex@example.org", name="Alex")
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    paths = []
    for n in range(3):
        path = propose(sam, ledger_id, title=f"Shared {n}")
        answer(alex, path, 1)
        paths.append(path)
    if not db.database.is_closed():
        db.database.close()
    return ledger_id, paths


class Load:
    """Clients doing writes until a deadline; every answer is recorded."""

    def __init__(self, servers, ledger_id, paths):
        self.servers, self.ledger_id, self.paths = servers, ledger_id, paths
        self.done = []  # (kind, who, marker, location) for every success
        self.statuses = []
        self.reads = []  # the statuses of the pages read between writes
        self.lock = threading.Lock()

    def record(self, status, kind=None, who=None, marker=None, location=None):
        if status == 0:
            return  # no answer: not acknowledged, so nothing is promised
        with self.lock:
            self.statuses.append(status)
            if status == 302 and kind:
                self.done.append((kind, who, marker, location))

    def client(self, index, email, seconds, stop=None):
        server = self.servers[index % len(self.servers)]
        browser = Browser(server.base)
        browser.log_in(email)
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            n += 1
            marker = f"m{index}x{n}"
            path = self.paths[n % len(self.paths)]
            action = (n + index) % 4
            if action == 0:  # a new proposal
                url = f"/ledgers/{self.ledger_id}/agreements/new/general"
                fields = browser.form(url)
                if fields is None:
                    continue
                data = {
                    "csrf_token": fields["csrf_token"],
                    "title": marker,
                    "text": "x",
                    "submission": fields["submission"],
                    "action": "propose",
                }
                status, location, _ = browser.open(url, data)
                self.record(status, "propose", email, marker, location)
                # The dashboard, read while the others write.
                browser.form(f"/ledgers/{self.ledger_id}/agreements")
            elif action == 1:  # a change, from the form as read
                fields = browser.form(f"{path}/change")
                if fields is None:
                    continue
                data = {
                    "csrf_token": fields["csrf_token"],
                    "title": "Shared",
                    "text": marker,
                    "base": fields.get("base", ""),
                    "submission": fields["submission"],
                    "action": "propose",
                }
                status, location, _ = browser.open(f"{path}/change", data)
                self.record(status, "change", email, marker, location)
            elif action == 2:  # an answer to what is on the page
                fields = browser.form(path)
                number = re.search(r"/revisions/(\d+)/answer", fields["page"]) if fields else None
                if not number or "content_hash" not in fields:
                    continue
                data = {
                    "csrf_token": fields["csrf_token"],
                    "decision": "change",
                    "note": marker,
                    "content_hash": fields["content_hash"],
                }
                status, location, _ = browser.open(f"{path}/revisions/{number[1]}/answer", data)
                self.record(status, "answer", email, marker, location)
            else:  # take an answer back, or withdraw one's own proposal
                fields = browser.form(path)
                page = fields["page"] if fields else ""
                found = re.search(r"/revisions/(\d+)/(withdraw-answer|withdraw)\"", page)
                if not found:
                    continue
                url = f"{path}/revisions/{found[1]}/{found[2]}"
                status, location, _ = browser.open(url, {"csrf_token": fields["csrf_token"]})
                self.record(status, found[2], email, f"{path}#{found[1]}", location)
        with self.lock:
            self.reads.extend(browser.read_statuses)

    def run(self, seconds, clients=6, stop=None):
        emails = ["sam@example.org", "alex@example.org"]
        threads = [
            threading.Thread(target=self.client, args=(i, emails[i % 2], seconds, stop))
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def check_every_success_once(load):
    """Each write answered with a redirect exists exactly once."""
    users = {u.email_key: u.id for u in User.select()}
    for kind, who, marker, _location in load.done:
        if kind == "propose":
            count = (
                Revision.select()
                .where(Revision.content.contains(f'"title":"{marker}"') & (Revision.number == 1))
                .count()
            )
        elif kind == "change":
            count = Revision.select().where(Revision.content.contains(f'"text":"{marker}"')).count()
        elif kind == "answer":
            count = (
                Consent.select()
                .where((Consent.note == marker) & (Consent.user == users[who]))
                .count()
            )
        else:
            path, number = marker.split("#")
            agreement = int(path.rsplit("/", 1)[1])
            decision = "withdraw" if kind == "withdraw-answer" else "retract"
            count = (
                Consent.select()
                .join(Revision)
                .where(
                    (Consent.agreement == agreement)
                    & (Revision.number == int(number))
                    & (Consent.decision == decision)
                    & (Consent.user == users[who])
                )
                .count()
            )
            assert count >= 1, (kind, who, marker)
            continue
        assert count == 1, (kind, who, marker, count)


def check_history(log_paths):
    for agreement in Agreement.select():
        numbers = [
            r.number
            for r in Revision.select(Revision.number)
            .where(Revision.agreement == agreement)
            .order_by(Revision.number)
        ]
        assert numbers == list(range(1, len(numbers) + 1)), agreement.id
    checked, _, broken = verify_all()
    assert broken is None, str(broken)
    for log in log_paths:
        text = Path(log).read_text()
        assert "database is locked" not in text
        assert "Traceback" not in text, text[-3000:]


def test_concurrent_writes_are_each_a_success_or_a_visible_conflict(
    app, database_url, couple_with_agreements, tmp_path
):
    ledger_id, paths = couple_with_agreements
    count = 2 if POSTGRES_URL else 1  # several app servers share PostgreSQL
    logs = [tmp_path / f"server{n}.log" for n in range(count)]
    servers = [Server(database_url, tmp_path / "instance", log) for log in logs]
    try:
        load = Load(servers, ledger_id, paths)
        load.run(LOAD_SECONDS)
    finally:
        for server in servers:
            server.stop()
    statuses = set(load.statuses)
    assert statuses <= {302, 409}, sorted(statuses)
    assert not [s for s in load.statuses if s >= 500]
    # Pages read while the others write (forms, agreements, the dashboard).
    assert len(load.reads) > 20 and not [s for s in load.reads if s >= 500], load.reads
    assert len(load.done) > 20, len(load.done)  # it really wrote
    assert 409 in statuses  # and the clients really raced
    with app.app_context():
        check_every_success_once(load)
        check_history(logs)


def test_an_answer_cut_short_still_counts_as_given():
    """When the server dies after a redirect's status and headers went out
    but before its body did (it happened once, under the crash test), the
    browser still reports the redirect: that write was acknowledged."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_and_die():
        connection, _ = listener.accept()
        request = b""
        while not request.endswith(b"a=b"):  # the whole request, so no reset
            chunk = connection.recv(65536)
            if not chunk:
                break
            request += chunk
        connection.sendall(
            b"HTTP/1.1 302 FOUND\r\nLocation: /ledgers/1\r\nContent-Length: 237\r\n\r\nRedir"
        )
        connection.close()

    server = threading.Thread(target=answer_and_die)
    server.start()
    try:
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        status, location, _ = Browser(base).open("/", {"a": "b"})
        assert (status, location) == (302, "/ledgers/1")
    finally:
        server.join(timeout=10)
        listener.close()


@pytest.mark.sqlite_only  # SQLite's own crash safety (WAL, synchronous=FULL)
def test_a_killed_server_loses_no_acknowledged_write(
    app, database_url, couple_with_agreements, tmp_path
):
    ledger_id, paths = couple_with_agreements
    log = tmp_path / "server.log"
    server = Server(database_url, tmp_path / "instance", log)
    load = Load([server], ledger_id, paths)
    stop = threading.Event()
    runner = threading.Thread(target=load.run, args=(LOAD_SECONDS, 6, stop))
    try:
        runner.start()
        time.sleep(LOAD_SECONDS / 2)
    finally:
        server.kill()  # SIGKILL, in the middle of the writes (and never left running)
        stop.set()
        runner.join()
    acknowledged = list(load.done)
    assert len(acknowledged) > 5
    restarted = Server(database_url, tmp_path / "instance", log)
    try:
        assert Browser(restarted.base).open("/login")[0] == 200
    finally:
        restarted.stop()
    with app.app_context():
        assert db.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        load.done = acknowledged
        check_every_success_once(load)
        checked, _, broken = verify_all()
        assert broken is None, str(broken)
