"""Query budgets: pages run a fixed number of queries, whatever the data."""

import pytest
from playhouse.test_utils import count_queries

from ledger.models import DeviceSession, User


def add_devices(app, count):
    with app.app_context():
        user = User.get()
        for _ in range(count):
            DeviceSession.start(user, remember=True, user_agent="Firefox on Android")


@pytest.mark.parametrize(("url", "budget"), [("/account", 4), ("/", 2)])
def test_signed_in_pages_have_a_fixed_query_budget(user_client, app, url, budget):
    counts = []
    for extra in (2, 297):
        add_devices(app, extra)
        with count_queries() as counter:
            assert user_client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts == [budget, budget]


def test_loading_the_user_is_one_query(user_client):
    with count_queries() as counter:
        user_client.get("/")
    sql = [q.msg[0] for q in counter.get_queries()]
    # The device row joined to its account, then the header's ledgers.
    assert len(sql) == 2
    assert 'FROM "devicesession"' in sql[0]
    assert 'JOIN "user_account"' in sql[0]
    assert 'FROM "ledger"' in sql[1]
