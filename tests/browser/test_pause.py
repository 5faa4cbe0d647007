"""The pause page on a phone: one tap away, a timer that survives a reload, an
offline copy that disappears at log-out, and cooling-off after a noted pause.

Sam and Alex, their ledger and their agreed pause signal are set up through
the app's own forms with a Flask test client on the same app (and database)
the live server serves; Sam then signs in on a phone through the real log-in
form. Each page is checked on the way (see ``browse`` in conftest.py): axe-core
finds no serious or critical accessibility problem, the Content-Security-
Policy blocks nothing, no script fails, and nothing is loaded from elsewhere.
"""

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error, expect

from ledger.models import Draft, PauseLog, Revision

from ..helpers import PASSWORD, AuthActions, answer, create_ledger, invite, join, propose

pytestmark = pytest.mark.browser

LEDGER = "Sam & Alex"
PAUSE = {
    "signal": "A T with both hands",
    "meaning": "I'm flooded and need to stop.",
    "who_may_call": "Any of us",
    "minimum_minutes": "20",
    "grounding": "Separate rooms, slow breathing.",
    "way_back_who": "The one who called it",
    "way_back_hours": "2",
}
SIGNAL = PAUSE["signal"]
#: The phone's time zone (the ``phone`` fixture): the page writes times in it.
ZONE = ZoneInfo("Europe/Berlin")
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "pause-phone.png"  # see README
OFFLINE_NOTE = "You're offline. This is the copy saved on this device."
FLOODED = "agreements made while flooded rarely hold"


@pytest.fixture
def ledger_id(app):
    """Sam and Alex share a ledger with a pause signal in force; return its id."""
    sam, alex = app.test_client(), app.test_client()
    assert AuthActions(sam).register().status_code == 302
    response = AuthActions(alex).register(email="alex@example.org", name="Alex")
    assert response.status_code == 302
    ledger_id = create_ledger(sam, LEDGER)
    assert join(alex, invite(sam, ledger_id)[1]).status_code == 302
    path = propose(sam, ledger_id, "pause_signal", **PAUSE)
    assert answer(alex, path, 1).status_code == 302
    return ledger_id


def at(browse, path):
    """A regular expression matching ``path`` on the live server, whole."""
    return re.compile("^" + re.escape(browse.base_url + path) + "$")


def nav_link(page, name):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def flashes(page):
    return page.locator("div.flashes")


def sign_in(browse, page, ledger_id):
    """Sam signs in through the log-in form, keeping this device remembered,
    and lands on the ledger's dashboard."""
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    browse.audit(page)
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Remember this device for 30 days").check()
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(browse, f"/ledgers/{ledger_id}/agreements"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Agreements of {LEDGER}")
    assert "ledger_remember" in {cookie["name"] for cookie in page.context.cookies()}
    browse.audit(page)


def settle(page, condition, tries=100):
    """Wait until an async JavaScript ``condition`` holds in the page.

    (``wait_for_function`` takes the promise an async function returns as a
    truthy value at once, so it cannot wait for one.)
    """
    for _ in range(tries):
        if page.evaluate(f"({condition})()"):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {condition}")


def signal_section(page):
    return page.get_by_role("region", name=SIGNAL)


def seconds_left(page):
    """The countdown as seconds, once it reads "M:SS left of the pause"."""
    remaining = signal_section(page).get_by_role("timer")
    expect(remaining).to_have_text(re.compile(r"^\d+:\d\d left of the pause$"))
    minutes, seconds = remaining.inner_text().split(" ")[0].split(":")
    return int(minutes) * 60 + int(seconds)


def pause_state(page):
    """What pause.js keeps on this device for the signal: {start, extra} (ms)."""
    key = signal_section(page).locator(".timer").get_attribute("data-key")
    return page.evaluate("key => JSON.parse(localStorage.getItem(key))", f"ledger.pause.{key}")


def clock_time(ms):
    """A time in milliseconds since the epoch as the phone's clock shows it."""
    return datetime.fromtimestamp(ms / 1000, ZONE).strftime("%H:%M")


def test_pause_is_one_tap_away_and_its_timer_survives_a_reload(browse, phone, ledger_id):
    page = browse.new_page(**phone)
    # Date.now() in the page follows a clock the test can move forward.
    page.clock.install()
    sign_in(browse, page, ledger_id)

    # From the dashboard, one tap on the header's Pause link.
    page.get_by_role("banner").get_by_role("link", name="Pause", exact=True).tap()
    expect(page).to_have_url(at(browse, "/pause"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pause")
    # The quietest page: no main navigation.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    signal = signal_section(page)
    heading = signal.get_by_role("heading", level=2)
    expect(heading).to_have_text(SIGNAL)
    expect(signal.locator("p.meaning")).to_have_text(PAUSE["meaning"])
    expect(signal.get_by_role("heading", level=3)).to_have_text(
        ["During the pause", "The way back"]
    )
    expect(signal).to_contain_text(PAUSE["grounding"])
    expect(signal).to_contain_text("At least 20 minutes. Who may call it: Any of us.")
    expect(signal.locator("p.way-back")).to_have_text(
        "The one who called it reaches out within 2 hours of the pause beginning."
    )
    # Large type: the signal is at least twice the size of the page's text.
    sizes = heading.evaluate(
        "h => [h, document.body].map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes[0] >= 2 * sizes[1], sizes
    expect(page.locator("p.offline-note")).to_be_hidden()
    expect(page.locator("p.as-of")).to_be_hidden()  # only the offline copy needs it
    # Start pause is on the first screen, without scrolling.
    box = signal.get_by_role("button", name="Start pause").bounding_box()
    assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"], box
    browse.audit(page)

    # Start the pause: twenty minutes, and the way back within two hours.
    signal.get_by_role("button", name="Start pause").tap()
    assert 20 * 60 - 5 <= seconds_left(page) <= 20 * 60
    state = pause_state(page)
    assert state["extra"] == 0
    return_by = signal.locator("p.return-by")
    expect(return_by).to_have_text(
        "We come back to the conversation by "
        f"{clock_time(state['start'] + 2 * 3600_000)} at the latest."
    )
    expect(signal.get_by_role("button", name="End the pause")).to_be_visible()
    browse.audit(page)

    # Five minutes later the phone reloads the page: the countdown goes on
    # from the original start.
    page.clock.fast_forward("05:00")
    page.reload()
    expect(signal.get_by_role("heading", level=2)).to_have_text(SIGNAL)
    assert 15 * 60 - 10 <= seconds_left(page) <= 15 * 60
    assert pause_state(page) == state
    expect(return_by).to_have_text(
        "We come back to the conversation by "
        f"{clock_time(state['start'] + 2 * 3600_000)} at the latest."
    )

    # "We need more time": ten more minutes; the agreed way back stays.
    signal.get_by_role("button", name="We need more time").tap()
    assert 25 * 60 - 10 <= seconds_left(page) <= 25 * 60
    assert pause_state(page) == {"start": state["start"], "extra": 10 * 60_000}
    expect(return_by).to_have_text(
        "We come back to the conversation by "
        f"{clock_time(state['start'] + 2 * 3600_000)} at the latest."
    )
    browse.audit(page)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    signal.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOT)  # the first screen, as a phone shows it

    browse.assert_clean()


def test_the_pause_page_opens_offline_until_log_out(browse, phone, ledger_id, caplog):
    page = browse.new_page(**phone)
    context = page.context
    sign_in(browse, page, ledger_id)

    page.goto("/pause")
    expect(signal_section(page).get_by_role("heading", level=2)).to_have_text(SIGNAL)
    browse.audit(page)
    # The service worker is active; after one reload it controls the page
    # and has stored the pause page.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.state)") in (
        "activating",
        "activated",
    )
    page.reload()
    settle(
        page,
        "async () => navigator.serviceWorker.controller !== null"
        " && (await caches.match('/pause')) !== undefined",
    )
    cached = page.evaluate("caches.match('/pause').then(r => r.text())")
    assert SIGNAL in cached

    # Offline: the saved copy opens, and says it is a saved copy.
    caplog.set_level(logging.INFO, logger="werkzeug")
    caplog.clear()
    context.set_offline(True)
    response = page.goto("/pause")
    assert response is not None and response.from_service_worker
    assert response.status == 200
    expect(signal_section(page).get_by_role("heading", level=2)).to_have_text(SIGNAL)
    # The worker marked the copy it served: the page knows it is offline from
    # that mark, not from the browser's guess (navigator.onLine).
    expect(page.locator("body")).to_have_attribute("data-offline-copy", "")
    expect(page.locator("p.as-of")).to_have_text(re.compile(r"^As of .+\d\d:\d\d\.$"))
    expect(page.locator("p.as-of")).to_be_visible()
    expect(page.locator("p.offline-note")).to_have_text(OFFLINE_NOTE)
    expect(page.locator("p.offline-note")).to_be_visible()
    # The timer still works from the saved copy and pause.js.
    expect(signal_section(page).get_by_role("button", name="Start pause")).to_be_visible()
    # Nothing reached the server while offline.
    assert not [r.getMessage() for r in caplog.records if "GET /pause" in r.getMessage()]
    # axe already checked /pause online; this is the same document from the
    # cache, so it is not audited again here.

    # Back online, Sam logs out of this device.
    context.set_offline(False)
    page.goto("/")
    expect(page).to_have_url(at(browse, f"/ledgers/{ledger_id}/agreements"))
    nav_link(page, "Log out").click()
    expect(page).to_have_url(at(browse, "/logout"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log out of this device?")
    browse.audit(page)
    with page.expect_response(lambda r: r.url.endswith("/logout") and r.status == 302) as info:
        page.get_by_role("button", name="Log out of this device").click()
    assert info.value.all_headers().get("clear-site-data") == '"cache", "storage"'
    expect(page).to_have_url(at(browse, "/login"))
    expect(flashes(page)).to_have_text("You're logged out. Take care.")
    browse.audit(page)
    # The server's log is watched (so "nothing reached it" above means something).
    assert any("POST /logout" in r.getMessage() for r in caplog.records)
    # Clear-Site-Data took the worker, its caches and the timer's state with it.
    settle(
        page,
        "async () => (await caches.keys()).length === 0"
        " && (await navigator.serviceWorker.getRegistrations()).length === 0"
        " && localStorage.length === 0",
    )

    # Offline again: nothing private opens (the browser's own error page).
    context.set_offline(True)
    try:
        page.goto("/pause")
    except Error as error:
        assert "ERR_INTERNET_DISCONNECTED" in str(error)
    # The browser's error page (or the worker's note) is not audited: it is
    # not a page of the app. It may still be settling: read it once it has.
    content = None
    for _ in range(50):
        try:
            page.wait_for_load_state()
            content = page.content()
            break
        except Error:
            page.wait_for_timeout(100)
    assert content is not None
    assert SIGNAL not in content
    context.set_offline(False)

    browse.assert_clean()


def test_a_noted_pause_keeps_a_new_proposal_as_a_draft(browse, phone, ledger_id, app):
    page = browse.new_page(**phone)
    sign_in(browse, page, ledger_id)

    page.goto("/pause")
    signal = signal_section(page)
    expect(signal.get_by_role("heading", level=2)).to_have_text(SIGNAL)
    browse.audit(page)
    signal.get_by_role("button", name="Start pause").tap()
    start = pause_state(page)["start"]

    page.get_by_role("button", name="Note that we paused").tap()
    expect(page).to_have_url(at(browse, "/pause"))
    expect(flashes(page)).to_have_text("Noted that you paused.")
    # The timer runs on after the note.
    assert seconds_left(page) <= 20 * 60
    browse.audit(page)
    with app.app_context():
        noted = PauseLog.get()
        # The note keeps when the timer started, not when the button was pressed.
        started = noted.started_at.timestamp() * 1000
        assert abs(started - start) < 1000, (noted.started_at, start)

    page.goto(f"/ledgers/{ledger_id}/agreements/new/general")
    expect(page.get_by_role("heading", level=1)).to_have_text("New agreement: General agreement")
    browse.audit(page)
    page.get_by_label("Title").fill("Typed while flooded")
    page.get_by_label("The agreement", exact=True).fill("We never talk about money again.")
    page.get_by_role("button", name="Propose to my partners").click()

    expect(page).to_have_url(
        re.compile("^" + re.escape(f"{browse.base_url}/ledgers/{ledger_id}/drafts/") + r"\d+$")
    )
    expect(flashes(page)).to_contain_text(FLOODED)
    expect(flashes(page)).to_contain_text("What you wrote is kept as a private draft.")
    until = noted.started_at + timedelta(hours=12)
    expect(flashes(page)).to_contain_text(until.astimezone(ZONE).strftime("%H:%M"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your draft: General agreement")
    expect(page.get_by_label("Title")).to_have_value("Typed while flooded")
    expect(page.get_by_label("The agreement", exact=True)).to_have_value(
        "We never talk about money again."
    )
    browse.audit(page)
    with app.app_context():
        assert Draft.get().fields["title"] == "Typed while flooded"
        assert Revision.select().count() == 1  # only the pause signal

    browse.assert_clean()


def test_start_pause_is_hidden_while_the_pause_runs(browse, phone, ledger_id):
    page = browse.new_page(**phone)
    sign_in(browse, page, ledger_id)
    page.goto("/pause")
    signal = signal_section(page)
    browse.audit(page)
    signal.get_by_role("button", name="Start pause").tap()
    expect(signal.get_by_role("button", name="End the pause")).to_be_visible()
    expect(signal.get_by_role("button", name="Start pause")).to_be_hidden(timeout=2000)
    browse.assert_clean()


#: The phone of the first-use trial: 390 × 844.
SMALL_PHONE = {"width": 390, "height": 844}


def test_the_first_pause_page_after_logging_in_is_kept_offline_for_every_ledger(
    browse, phone, ledger_id, app
):
    # Sam also started "Bea & Sam", which has no pause signal yet and comes
    # first: the pause page still shows the signal of "Sam & Alex".
    sam = app.test_client()
    AuthActions(sam).login()
    create_ledger(sam, "Bea & Sam")
    page = browse.new_page(**{**phone, "viewport": SMALL_PHONE})
    # The installed app's path: signed out, open /pause, log in, arrive there.
    page.goto("/pause")
    expect(page).to_have_url(re.compile(re.escape(browse.base_url + "/login?next=")))
    browse.audit(page)
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Remember this device for 30 days").check()
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(browse, "/pause"))
    names = page.locator("h2.ledger-name")
    expect(names).to_have_text(["Bea & Sam", "Sam & Alex"])
    expect(page.get_by_text("There is no pause signal in force in Bea & Sam yet.")).to_be_visible()
    expect(page.get_by_role("heading", level=3, name=SIGNAL)).to_be_visible()
    browse.audit(page)
    # The worker saved this very page when it installed.
    settle(page, "async () => (await caches.match('/pause')) !== undefined")

    page.context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(page.locator("body")).to_have_attribute("data-offline-copy", "")
    expect(page.locator("p.offline-note")).to_be_visible()
    expect(page.get_by_role("heading", level=3, name=SIGNAL)).to_be_visible()
    expect(page.locator("h2.ledger-name")).to_have_text(["Bea & Sam", "Sam & Alex"])
    page.context.set_offline(False)
    browse.assert_clean()


def alex_signs_in(browse, page):
    page.goto("/login")
    page.get_by_label("Email").fill("alex@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Agreements of {LEDGER}")


def test_both_phones_know_when_a_pause_is_running(browse, phone, ledger_id, app):
    small = {**phone, "viewport": SMALL_PHONE}
    alex = browse.new_page(**small)
    alex.clock.install()  # Alex's page checks once a minute: the test moves its clock
    alex_signs_in(browse, alex)
    browse.audit(alex)
    alex.goto("/pause")
    expect(signal_section(alex).get_by_role("button", name="Start pause")).to_be_visible()
    noted = alex.locator("div.noted")
    expect(noted).to_be_hidden()
    browse.audit(alex)

    sam = browse.new_page(**small)
    sign_in(browse, sam, ledger_id)
    sam.goto("/pause")
    sam_signal = signal_section(sam)
    sam_signal.get_by_role("button", name="Start pause").tap()
    start = pause_state(sam)["start"]
    sam_signal.get_by_role("button", name="Note that we paused, and start cooling-off").tap()
    expect(sam).to_have_url(at(browse, "/pause"))
    expect(flashes(sam)).to_have_text("Noted that you paused.")
    expect(sam.locator("div.noted")).to_contain_text(
        f"Sam noted a pause ({SIGNAL}) at {clock_time(start)}."
    )
    # Noted once: neither phone offers to note it again.
    expect(sam_signal.get_by_role("button", name=re.compile("^Note that we paused"))).to_be_hidden()
    browse.audit(sam)
    with app.app_context():
        assert PauseLog.select().count() == 1

    # Within a minute, Alex's open page shows it and runs the same pause.
    alex.clock.fast_forward("01:05")
    expect(noted).to_be_visible()
    expect(noted).to_contain_text(
        f"Sam noted a pause ({SIGNAL}) at {clock_time(start)}. It ends at "
        f"{clock_time(start + 20 * 60_000)} at the earliest, and we come back to the "
        f"conversation by {clock_time(start + 2 * 3600_000)} at the latest."
    )
    signal = signal_section(alex)
    expect(signal.get_by_role("button", name=re.compile("^Note that we paused"))).to_be_hidden()
    expect(signal.get_by_role("button", name="Start pause")).to_be_hidden()
    assert pause_state(alex)["start"] == start
    return_by = signal.locator("p.return-by")
    back = f"We come back to the conversation by {clock_time(start + 2 * 3600_000)} at the latest."
    expect(return_by).to_have_text(back)
    browse.audit(alex)

    # More time lengthens the pause, never the agreed way back.
    signal.get_by_role("button", name="We need more time").tap()
    expect(signal.locator("p.ends-at")).to_have_text(
        f"The pause ends at {clock_time(start + 30 * 60_000)}."
    )
    expect(return_by).to_have_text(back)
    # "End the pause" is away from "We need more time", and asks once.
    end = signal.get_by_role("button", name="End the pause")
    end.scroll_into_view_if_needed()
    more = signal.get_by_role("button", name="We need more time").bounding_box()
    assert end.bounding_box()["y"] - (more["y"] + more["height"]) > 100
    end.tap()
    expect(
        signal.get_by_text("End the pause? This device forgets when it started.")
    ).to_be_visible()
    browse.audit(alex)
    signal.get_by_role("button", name="Keep the pause running").tap()
    assert pause_state(alex)["start"] == start
    end.tap()
    signal.get_by_role("button", name="Yes, end the pause").tap()
    assert pause_state(alex) is None
    expect(signal.get_by_role("button", name="Start pause")).to_be_visible()
    # The next check does not start it again on this phone.
    alex.clock.fast_forward("01:05")
    expect(noted).to_be_visible()
    alex.wait_for_timeout(300)
    assert pause_state(alex) is None

    # Back in the conversation: both pages let the pause go.
    noted.get_by_role("button", name="We're back in the conversation").tap()
    expect(alex).to_have_url(at(browse, "/pause"))
    expect(alex.locator("div.noted")).to_be_hidden()
    browse.audit(alex)
    browse.assert_clean()
