"""Two partners revisit four agreements that came into force four months ago,
each on their own phone: one is kept, one changed (and the change accepted),
one retired, and one, answered keep by one and retire by the other, parked
for their next session. The dashboard, the agreement's history, the review
history and the calendar feed show the new dates.

Every page is checked on the way (see ``browse`` in conftest.py): axe-core,
no Content-Security-Policy violation, no script error, nothing from elsewhere.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from ledger import cadence

from ..helpers import PASSWORD
from ..test_reviews import Clock, in_force

pytestmark = pytest.mark.browser

BASE_URL = "http://ledger.test"
TITLES = ("Keep me", "Change me", "Retire me", "Undecided")
ZONE = "Europe/Berlin"


def at(browse, path):
    return re.compile("^" + re.escape(browse.base_url + path) + "(#.*)?$")


def flashes(page):
    return page.locator("div.flashes")


def nav_link(page, name):
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^" + name)
    )


def item(page, title):
    """One agreement's section of a review page."""
    return page.locator("section.review-item").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )


def log_in(browse, page, email):
    page.goto("/login")
    browse.audit(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(at(browse, "/login"))


def answer(browse, page, title, choice, note=""):
    section = item(page, title)
    section.get_by_role("group", name="Your answer").get_by_label(choice).check()
    if note:
        section.get_by_label("A note for your partners (optional)").fill(note)
    section.get_by_role("button", name="Save my answer").click()
    expect(flashes(page)).to_be_visible()
    browse.audit(page)


def day(value):
    return f"{value.day} {value:%B %Y}"


@pytest.fixture
def four_months_ago(app):
    """Sam and Alex, and four quarterly agreements that came into force four
    months ago (written through the app at that time); back to now after."""
    clock = Clock(app, datetime.now(UTC) - timedelta(days=122))
    paths = {
        title: in_force(app, clock.sam, clock.alex, clock.ledger_id, title=title)
        for title in TITLES
    }
    clock.stop()
    return clock.ledger_id, paths


def test_two_partners_revisit_their_agreements_on_their_phones(browse, phone, four_months_ago):
    ledger_id, paths = four_months_ago
    size = {**phone, "viewport": {"width": 390, "height": 844}}
    sam, alex = browse.new_page(**size), browse.new_page(**size)
    log_in(browse, sam, "sam@example.org")
    log_in(browse, alex, "alex@example.org")
    today = cadence.local_date(datetime.now(UTC), ZONE)
    next_date = cadence.add_months(today, 3)

    # 1. Four months on, all four are overdue: the dashboard and the navigation say so.
    sam.goto(f"/ledgers/{ledger_id}/agreements")
    expect(nav_link(sam, "Agreements")).to_contain_text("4 due for review")
    reviews = sam.get_by_role("region", name="Reviews")
    expect(reviews.get_by_text(re.compile("^Overdue: its review was due"))).to_have_count(4)
    browse.audit(sam)
    reviews.get_by_role("button", name="Start a review").click()
    review_path = re.search(r"/ledgers/\d+/reviews/\d+", sam.url).group(0)
    expect(sam.get_by_role("heading", level=1)).to_contain_text("Review of")
    expect(item(sam, "Keep me").get_by_text("Is this still how we want things")).to_be_visible()
    browse.audit(sam)

    # 2. Sam answers each agreement on his phone.
    answer(browse, sam, "Keep me", "Keep it as it is", note="Sam: still right")
    answer(browse, sam, "Change me", "Change it", note="Sam: shorter, please")
    answer(browse, sam, "Retire me", "Retire it")
    answer(browse, sam, "Undecided", "Keep it as it is", note="Sam: it helps me")
    expect(item(sam, "Keep me")).to_contain_text("Waiting for Alex")

    # 3. Alex continues the review on hers, without seeing Sam's answers first.
    alex.goto(f"/ledgers/{ledger_id}/agreements")
    browse.audit(alex)
    alex.get_by_role("link", name="Continue the review").click()
    expect(alex).to_have_url(at(browse, review_path))
    expect(alex.get_by_text(re.compile("^Sam:"))).to_have_count(0)
    expect(alex.locator("ul.side-by-side")).to_have_count(0)
    browse.audit(alex)
    answer(browse, alex, "Keep me", "Keep it as it is")
    expect(flashes(alex)).to_contain_text("it is reaffirmed")
    answer(browse, alex, "Change me", "Keep it as it is")
    answer(browse, alex, "Retire me", "Retire it")
    answer(browse, alex, "Undecided", "Retire it", note="Alex: we never use it")
    undecided = item(alex, "Undecided")
    expect(undecided.locator("ul.side-by-side")).to_contain_text("Sam: it helps me")
    expect(undecided.locator("ul.side-by-side")).to_contain_text("Alex: we never use it")
    undecided.get_by_role("button", name="Park it for our next session").click()
    expect(flashes(alex)).to_have_text("Parked for your next session: it is on the agenda.")
    browse.audit(alex)

    # 4. Sam confirms the retirement in one tap, and proposes his change.
    sam.goto(review_path)
    browse.audit(sam)
    item(sam, "Retire me").get_by_role("button", name="I confirm: retire this agreement").click()
    expect(flashes(sam)).to_have_text("You confirmed retiring it.")
    item(sam, "Change me").get_by_role("link", name="Open my draft of the change").click()
    expect(sam.get_by_label("The agreement")).to_have_value("Half an hour, every Sunday.")
    browse.audit(sam)
    sam.get_by_label("The agreement").fill("Twenty minutes, every Sunday.")
    sam.get_by_role("button", name="Propose to my partners").click()
    expect(flashes(sam)).to_contain_text("Proposed")
    browse.audit(sam)

    # 5. Alex accepts the change through the usual consent.
    alex.goto(paths["Change me"])
    alex.get_by_role("group", name="Your answer").get_by_label("I accept this").check()
    alex.get_by_role("button", name="Send my answer").click()
    expect(flashes(alex)).to_have_text("Your acceptance is recorded.")
    expect(alex.locator("p.next-review")).to_contain_text(f"Next review: {day(next_date)}")
    browse.audit(alex)

    # 6. The new dates: the dashboard, the agreement's history, the review history.
    sam.goto(f"/ledgers/{ledger_id}/agreements")
    expect(nav_link(sam, "Agreements")).to_contain_text("1 due for review")  # the parked one
    reviews = sam.get_by_role("region", name="Reviews")
    expect(reviews.locator("p.next-review")).to_contain_text(
        f"Next review: {next_date.day} {next_date:%B}"
    )
    browse.audit(sam)
    sam.goto(f"{paths['Keep me']}/history")
    expect(sam.get_by_role("region", name="Kept in reviews")).to_contain_text(
        f"{day(today)}: revision 1 was kept as it is"
    )
    browse.audit(sam)
    sam.goto(paths["Keep me"])
    expect(sam.locator("p.next-review")).to_contain_text(f"Next review: {day(next_date)}")
    browse.audit(sam)
    sam.goto(f"/ledgers/{ledger_id}/reviews")
    history = sam.get_by_role("region", name="Past reviews")
    expect(history).to_contain_text("Kept as it is: reaffirmed")
    expect(history).to_contain_text("Retiring it was proposed")
    expect(history).to_contain_text("Alex: retire it — “Alex: we never use it”")
    browse.audit(sam)

    # 7. The calendar feed: the two kept agreements on their new date, the
    # parked one (still overdue) on today's date; no words, names or ledger.
    sam.goto("/account")
    browse.audit(sam)
    sam.get_by_role("button", name="Make my calendar link").click()
    link = sam.get_by_label("Your calendar link").input_value()
    browse.audit(sam)
    feed = sam.request.get(link.replace(BASE_URL, browse.base_url))
    assert feed.status == 200 and feed.headers["cache-control"] == "private, max-age=900"
    events = sorted(
        (e.decoded("dtstart"), str(e["summary"]))
        for e in Calendar.from_ical(feed.body()).walk("VEVENT")
    )
    assert events == [
        (today, "Ledger: review of 1 agreement"),
        (next_date, "Ledger: review of 2 agreements"),
    ]
    assert b"Keep me" not in feed.body() and b"Sam" not in feed.body()
    browse.assert_clean()
