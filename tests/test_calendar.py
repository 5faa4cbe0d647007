"""The private calendar feed of review dates, and due dates as time moves:
across a quarter boundary, a month end, a leap day and a daylight-saving
change in the ledger's time zone (Europe/Berlin)."""

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from ledger.db import utcnow
from ledger.models import User
from ledger.models.reviews import review_due_reminders

from .helpers import post_form
from .test_reviews import Clock, in_force, stored


def feed_path(client):
    """Make the partner's calendar link on the account page; return its path."""
    assert post_form(client, "/account/calendar", {}, page="/account").status_code == 302
    page = client.get("/account").get_data(as_text=True)
    link = re.search(r'id="calendar-link"[^>]*value="([^"]+)"', page).group(1)
    assert "made on" not in page  # shown this once
    assert "calendar-link" not in client.get("/account").get_data(as_text=True)
    return link.removeprefix("http://ledger.test")


def events(app, path):
    """[(date, summary, alarm trigger)] of a feed, parsed back with icalendar."""
    response = app.test_client().get(path)
    assert response.status_code == 200
    cal = Calendar.from_ical(response.get_data())
    found = []
    for event in cal.walk("VEVENT"):
        alarm = event.walk("VALARM")[0]
        found.append((event.decoded("dtstart"), str(event["summary"]), alarm.decoded("trigger")))
    return sorted(found), response.get_data(as_text=True)


def at(moment):
    return datetime(*moment, tzinfo=UTC)


@pytest.fixture
def clock(app):
    clock = Clock(app, at((2027, 11, 30, 12)))
    yield clock
    clock.stop()


def test_the_feed_has_one_event_per_review_date_and_names_nothing(app, clock):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    for title in ("Money talks", "Phones at dinner"):
        in_force(app, sam, alex, ledger_id, title=title)
    in_force(app, sam, alex, ledger_id, title="Monthly one", review_every="monthly")
    path = feed_path(sam)
    found, body = events(app, path)
    # A quarter after 30 November is 29 February in 2028; a month is 30 December.
    assert found == [
        (date(2027, 12, 30), "Ledger: review of 1 agreement", timedelta(hours=-15)),
        (date(2028, 2, 29), "Ledger: review of 2 agreements", timedelta(hours=-15)),
    ]
    for private in ("Money", "Phones", "Monthly", "Sam", "Alex", "Berlin", "&"):
        assert private not in body
    assert "DTSTART;VALUE=DATE:20280229" in body


def test_an_overdue_review_shows_on_today_and_discretion_shows_neutral_words(app, clock):
    in_force(app, clock.sam, clock.alex, clock.ledger_id, review_every="monthly")
    path = feed_path(clock.sam)
    clock.move(at((2028, 1, 9, 8)))
    found, _ = events(app, path)
    assert [d for d, _, _ in found] == [date(2028, 1, 9)]
    with app.app_context():
        User.update(discreet=True).where(User.email_key == "sam@example.org").execute()
    found, body = events(app, path)
    assert found[0][1] == "Notes: review" and "Ledger" not in body


@pytest.mark.parametrize(
    ("since", "cadence", "before", "on", "due"),
    [
        # A quarter boundary, from the last day of a year in Berlin.
        ((2027, 12, 31, 22, 30), {}, (2028, 3, 30, 21, 59), (2028, 3, 30, 22, 0), (2028, 3, 31)),
        # A month end: 31 January + 1 month is 29 February in a leap year.
        (
            (2028, 1, 31, 10),
            {"review_every": "monthly"},
            (2028, 2, 28, 22, 59),
            (2028, 2, 28, 23, 0),
            (2028, 2, 29),
        ),
        # Daylight saving starts on 26 March 2028 in Berlin: the day begins
        # at 22:00 UTC after it, not 23:00.
        (
            (2028, 2, 26, 23, 30),
            {"review_every": "monthly"},
            (2028, 3, 26, 21, 59),
            (2028, 3, 26, 22, 0),
            (2028, 3, 27),
        ),
        # A leap day itself, every six weeks.
        (
            (2028, 1, 18, 12),
            {"review_every": "weeks", "review_weeks": "6"},
            (2028, 2, 28, 22, 59),
            (2028, 2, 28, 23, 0),
            (2028, 2, 29),
        ),
    ],
)
def test_due_dates_feed_and_reminders_across_calendar_edges(app, since, cadence, before, on, due):
    clock = Clock(app, at(since))
    try:
        path = in_force(app, clock.sam, clock.alex, clock.ledger_id, **cadence)
        assert stored(app, path).next_review == date(*due)
        feed = feed_path(clock.sam)
        clock.move(at(before))
        board = clock.sam.get(f"/ledgers/{clock.ledger_id}/agreements").get_data(as_text=True)
        assert "due for review)" not in board
        with app.app_context():
            assert review_due_reminders(utcnow()) == []
        assert events(app, feed)[0][0][0] == date(*due)
        clock.move(at(on))
        board = clock.sam.get(f"/ledgers/{clock.ledger_id}/agreements").get_data(as_text=True)
        assert "(1 due for review)" in board and "Due for review today." in board
        with app.app_context():
            reminders = review_due_reminders(utcnow())
            assert [(r["user"].display_name, r["due_on"], r["count"]) for r in reminders] == [
                ("Sam", date(*due), 1),
                ("Alex", date(*due), 1),
            ]
            assert len({r["key"] for r in reminders}) == 2
        assert events(app, feed)[0][0][0] == date(*due)
    finally:
        clock.stop()


KHAL_CONFIG = """[calendars]
[[ledger]]
path = {dir}/cal
[locale]
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
[sqlite]
path = {dir}/khal.db
"""


def test_a_real_calendar_program_shows_the_reviews_on_their_dates(app, clock, tmp_path):
    """khal (Debian's calendar program; scripts/system-deps.sh installs it)
    imports the feed and lists the events on the right days."""
    khal = shutil.which("khal")
    assert khal, "khal is missing: run scripts/system-deps.sh (make test does)"
    in_force(app, clock.sam, clock.alex, clock.ledger_id, title="One")
    in_force(app, clock.sam, clock.alex, clock.ledger_id, title="Two", review_every="monthly")
    response = app.test_client().get(feed_path(clock.sam))
    (tmp_path / "cal").mkdir()
    (tmp_path / "feed.ics").write_bytes(response.get_data())
    config = tmp_path / "khal.conf"
    config.write_text(KHAL_CONFIG.format(dir=tmp_path))
    with open(tmp_path / "feed.ics") as feed:
        subprocess.run(
            [khal, "-c", str(config), "import", "--batch", "-a", "ledger", feed.name],
            stdin=subprocess.DEVNULL,
            check=True,
            capture_output=True,
            timeout=120,
        )
    listed = subprocess.run(
        [khal, "-c", str(config), "list", "--format", "{start-date}|{title}", "--day-format", ""]
        + ["2027-12-01", "120d"],
        stdin=subprocess.DEVNULL,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    assert [line.strip() for line in listed if line.strip()] == [
        "2027-12-30|Ledger: review of 1 agreement",
        "2028-02-29|Ledger: review of 1 agreement",
    ]


def test_send_reminders_sends_one_email_per_review_that_became_due(app, clock):
    """Through the outbox: once per partner, ledger and due agreement, naming
    no agreement; a new agreement falling due later brings one more."""
    from ledger import mail
    from ledger.models.mail import Outbox

    in_force(app, clock.sam, clock.alex, clock.ledger_id, title="Money talks")
    in_force(app, clock.sam, clock.alex, clock.ledger_id, title="Phones", review_every="yearly")
    with app.app_context():
        User.update(remind_reviews=True).execute()
    clock.move(at((2028, 3, 1, 9)))
    with app.app_context():
        assert mail.queue_reminders(utcnow()) == 2
        assert mail.queue_reminders(utcnow()) == 0  # at most once
        rows = list(Outbox.select().where(Outbox.kind == "review-due"))
        assert {r.recipient for r in rows} == {"sam@example.org", "alex@example.org"}
        assert all("One agreement in Ledger is due" in r.text for r in rows)
        assert not any("Money" in r.text or "Sam &" in r.text for r in rows)
    clock.move(at((2028, 12, 1, 9)))
    with app.app_context():
        assert mail.queue_reminders(utcnow()) == 2  # "Phones" became due too
