"""Query plans: the pages people open most never scan a history.

Every query the dashboard, the pause page, an agreement, its history and a
comparison run is captured and explained by SQLite. A full scan of revisions,
answers, agreements, memberships or the stored state fails (a covering-index
scan is still a scan), and so does a temporary B-tree built over history rows.
SQLite only: PostgreSQL's planner rightly prefers sequential scans of the
small tables a test has, so the same check would say nothing there.
"""

import re

import pytest
from playhouse.test_utils import count_queries

from ledger.db import db

from .helpers import PAUSE_SIGNAL, answer, post_form, propose

pytestmark = pytest.mark.sqlite_only

WATCHED = {
    "revision",
    "consent",
    "agreement",
    "membership",
    "agreementstate",
    "waiting",
    "activity",
    "pauselog",
    "reviewitem",
    "reaffirmation",
}
#: Tables that grow with a ledger's years of use: never sorted whole.
HISTORY = {"revision", "consent", "activity", "pauselog", "reviewitem", "reaffirmation"}
ALIAS = re.compile(r'(?:FROM|JOIN)\s+"(\w+)"\s+AS\s+"(\w+)"')


def plans(app, client, url):
    """(sql, [plan lines]) for every query a GET of ``url`` runs."""
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    found = []
    with app.app_context():
        for record in counter.get_queries():
            sql, params = record.msg
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            rows = db.database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            found.append((sql, [row[-1] for row in rows]))
    return found


def problems(found):
    """The plan lines that scan a watched table or sort history rows."""
    bad = []
    for sql, lines in found:
        aliases = {alias: table for table, alias in ALIAS.findall(sql)}
        tables = set(aliases.values()) | set(re.findall(r'(?:FROM|JOIN)\s+"(\w+)"', sql))
        for line in lines:
            scan = re.match(r"SCAN (\w+)", line)
            if scan and aliases.get(scan.group(1), scan.group(1)) in WATCHED:
                bad.append((line, sql))
            if "TEMP B-TREE" in line and (tables & HISTORY):
                bad.append((line, sql))
    return bad


@pytest.fixture
def lived_in(app, couple):
    """A ledger with history: agreements changed several times, one pending,
    a pause signal in force. Returns (sam, ledger id, agreement path)."""
    sam, alex, ledger_id = couple
    signal = propose(sam, ledger_id, "pause_signal", **PAUSE_SIGNAL)
    answer(alex, signal, 1)
    path = None
    for n in range(4):
        path = propose(sam, ledger_id, title=f"Agreement {n}")
        answer(alex, path, 1, decision="concern", note="Let's see")
        for number in range(2, 5):
            post_form(
                sam,
                f"{path}/change",
                {
                    "title": f"Agreement {n}",
                    "text": f"Version {number}",
                    "base": str(number - 1),
                    "action": "propose",
                },
            )
            if number < 4:
                answer(alex, path, number)
    return sam, ledger_id, path


@pytest.mark.parametrize("page", ["dashboard", "waiting", "pause", "agreement", "history", "diff"])
def test_pages_never_scan_a_history(app, lived_in, page):
    sam, ledger_id, path = lived_in
    url = {
        "dashboard": f"/ledgers/{ledger_id}/agreements",
        "waiting": f"/ledgers/{ledger_id}/agreements/waiting/others",
        "pause": "/pause",
        "agreement": path,
        "history": f"{path}/history",
        "diff": f"{path}/diff?from=1&to=4",
    }[page]
    found = plans(app, sam, url)
    assert found, "no query was captured"
    bad = problems(found)
    assert not bad, "\n".join(f"{line}\n    in {sql[:300]}" for line, sql in bad)


def test_the_check_catches_a_scan(app, lived_in):
    """A query that reads a whole history is caught (the check can fail)."""
    sam, _, _ = lived_in
    with app.app_context():
        sql = 'SELECT "t1"."id" FROM "revision" AS "t1" ORDER BY "t1"."created_at"'
        rows = db.database.execute_sql("EXPLAIN QUERY PLAN " + sql).fetchall()
    assert problems([(sql, [row[-1] for row in rows])])
