"""Reviews: cadences and due dates, the review itself, reaffirmations in the
hash chain, and the review history."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from ledger import cadence
from ledger.chain import verify_all
from ledger.models import Agreement, Revision, StoredState

from .helpers import (
    PAUSE_SIGNAL,
    AuthActions,
    answer,
    create_ledger,
    invite,
    join,
    post_form,
    propose,
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
    ],
)
def test_months_are_added_on_the_calendar_and_clamped(start, months, expected):
    assert cadence.add_months(start, months) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({}, date(2027, 4, 30)),  # written before cadences: quarterly
        ({"review_every": "monthly"}, date(2027, 2, 28)),
        ({"review_every": "twice_a_year"}, date(2027, 7, 31)),
        ({"review_every": "yearly"}, date(2028, 1, 31)),
        ({"review_every": "weeks", "review_weeks": 6}, date(2027, 3, 14)),
        ({"review_every": "weeks", "review_weeks": 0}, date(2027, 4, 30)),  # unusable: default
        ({"review_every": "nonsense"}, date(2027, 4, 30)),
        ({"trial_until": "2027-02-14"}, date(2027, 2, 14)),
        ({"trial_until": "2027-09-01"}, date(2027, 4, 30)),  # the cadence comes first
    ],
)
def test_the_next_review_follows_the_cadence(content, expected):
    since = datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert cadence.next_review(content, since, "Europe/Berlin") == expected


def test_the_date_is_the_ledgers_calendar_date():
    # 23:30 UTC on 30 November is already 1 December in Berlin.
    since = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert cadence.next_review({}, since, "Europe/Berlin") == date(2027, 3, 1)
    assert cadence.next_review({}, since, "America/New_York") == date(2027, 2, 28)


def test_a_settled_trial_no_longer_counts():
    since = datetime(2027, 2, 14, 9, tzinfo=UTC)
    content = {"trial_until": "2027-02-14", "review_every": "monthly"}
    assert cadence.next_review(content, since, "UTC", trial_open=True) == date(2027, 2, 14)
    assert cadence.next_review(content, since, "UTC", trial_open=False) == date(2027, 3, 14)


class Clock:
    """Time that tests move (``ledger.db.utcnow`` follows it), with Sam and
    Alex logged in again after each move, as a person coming back would."""

    def __init__(self, app, start):
        self.app, self.traveller = app, None
        self.move(start, login=False)
        self.sam, self.alex = app.test_client(), app.test_client()
        AuthActions(self.sam).register(time_zone="Europe/Berlin")
        AuthActions(self.alex).register(email="alex@example.org", name="Alex")
        self.ledger_id = create_ledger(self.sam, time_zone="Europe/Berlin")
        join(self.alex, invite(self.sam, self.ledger_id)[1])

    def move(self, moment, login=True):
        if self.traveller is not None:
            self.traveller.stop()
        self.traveller = time_machine.travel(moment)
        self.traveller.start()
        if login:
            for client, email in ((self.sam, "sam@example.org"), (self.alex, "alex@example.org")):
                assert AuthActions(client).login(email=email).status_code == 302

    def stop(self):
        self.traveller.stop()


@pytest.fixture
def clock(app):
    clock = Clock(app, datetime(2027, 1, 31, 10, tzinfo=UTC))
    yield clock
    clock.stop()


def in_force(app, sam, alex, ledger_id, kind="general", **fields):
    """An agreement proposed by Sam and accepted by Alex: its page path."""
    path = propose(sam, ledger_id, kind, **fields)
    assert answer(alex, path, 1).status_code == 302
    return path


def stored(app, path):
    with app.app_context():
        return StoredState.get(StoredState.agreement == int(path.rsplit("/", 1)[1]))


def test_the_next_review_is_stored_when_it_comes_into_force(app, clock):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    quarterly = in_force(app, sam, alex, ledger_id)
    monthly = in_force(app, sam, alex, ledger_id, title="Monthly", review_every="monthly")
    trial = in_force(app, sam, alex, ledger_id, title="Trial", trial_until="2027-02-10")
    weeks = in_force(
        app, sam, alex, ledger_id, title="Weeks", review_every="weeks", review_weeks="3"
    )
    proposed = propose(sam, ledger_id, title="Not yet")
    assert stored(app, quarterly).next_review == date(2027, 4, 30)
    assert stored(app, monthly).next_review == date(2027, 2, 28)
    assert stored(app, trial).next_review == date(2027, 2, 10)
    assert stored(app, weeks).next_review == date(2027, 2, 21)
    assert stored(app, proposed).next_review is None
    with app.app_context():
        contents = [r.fields for r in Revision.select().order_by(Revision.id)]
        assert "review_every" not in contents[0]  # the default is not written
        assert contents[1]["review_every"] == "monthly"
        assert contents[2]["trial_until"] == "2027-02-10"
        assert contents[3]["review_weeks"] == 3
        assert verify_all()[2] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"review_every": "weeks"}, "Please say every how many weeks."),
        ({"review_every": "weeks", "review_weeks": "105"}, "between 1 and 104 weeks"),
        ({"review_every": "fortnightly"}, "Not a valid choice"),
        ({"trial_until": "2020-01-01"}, "a date that has not passed yet"),
        ({"trial_until": "2031-01-01"}, "within the next two years"),
        ({"trial_until": "31/02/2027"}, "Not a valid date value"),
    ],
)
def test_bad_cadences_are_refused_with_a_message(app, clock, fields, message):
    response = post_form(
        clock.sam,
        f"/ledgers/{clock.ledger_id}/agreements/new/general",
        {"title": "t", "text": "x", "action": "propose", **fields},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Agreement.select().count() == 0


def test_every_kind_offers_the_cadence_and_a_trial(couple):
    sam, _, ledger_id = couple
    for kind in ("topic", "pause_signal", "digital_boundary", "general"):
        page = sam.get(f"/ledgers/{ledger_id}/agreements/new/{kind}").get_data(as_text=True)
        assert 'name="review_every"' in page and 'name="trial_until"' in page, kind
        assert "Every three months" in page


def test_a_change_of_cadence_is_a_proposal_shown_in_the_diff(app, clock):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    path = in_force(app, sam, alex, ledger_id, "pause_signal", **PAUSE_SIGNAL)
    post_form(
        sam,
        f"{path}/change",
        {**PAUSE_SIGNAL, "review_every": "monthly", "base": "1", "action": "propose"},
    )
    assert stored(app, path).next_review == date(2027, 4, 30)  # pending: unchanged
    page = alex.get(path).get_data(as_text=True)
    assert "Every month" in page
    answer(alex, path, 2)
    assert stored(app, path).next_review == date(2027, 2, 28)
    diff = sam.get(f"{path}/diff?from=1&to=2").get_data(as_text=True)
    assert "Every month" in diff
