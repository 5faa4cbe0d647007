"""Two partners write a pause signal together: one proposes, the other asks for
a change, the change is proposed and accepted, and the history shows the diff.

Each page is checked on the way (see ``browse`` in conftest.py): axe-core
finds no serious or critical accessibility problem, the Content-Security-
Policy blocks nothing, no script fails, and nothing is loaded from elsewhere.
"""

import re

import pytest
from playwright.sync_api import expect

from ..helpers import PASSWORD

pytestmark = pytest.mark.browser

LEDGER = "Sam & Alex"
#: The app builds its links from its configured base URL, not the live server.
BASE_URL = "http://ledger.test"
SIGNAL = "A T made with both hands"
MINUTES = "Minimum pause, in minutes"
REASON = "Why (a short reason your partners will see)"
NOTE = "At least 30 minutes, please"
#: A date as the app writes acceptances: "3 March 2025".
DAY = r"\d{1,2} [A-Z][a-z]+ \d{4}"


def nav_link(page, name):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def flashes(page):
    return page.locator("div.flashes")


def section(page, heading):
    """The region of the page labelled by one of its headings."""
    return page.get_by_role("region", name=heading)


def at(browse, page, path):
    """A regular expression matching ``path`` on the live server, whole."""
    return re.compile("^" + re.escape(browse.base_url + path) + "$")


def state(page):
    """The sentence that says where an agreement stands."""
    return page.locator("p.state")


def described(page, term):
    """The ``<dd>`` that follows the ``<dt>`` reading ``term``."""
    return page.locator("dt", has_text=term).locator("xpath=following-sibling::dd[1]")


def fill_registration(page, email, name, password=PASSWORD, zone="Europe/Berlin"):
    """Fill the register form (already open) by its labels and send it."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Your name, as your partners will see it").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Your time zone").select_option(zone)
    page.get_by_role("button", name="Create my account").click()


def share_a_ledger(browse, sam, alex):
    """Sam signs up and starts the ledger; Alex signs up through the invitation.

    Returns the ledger's path.
    """
    sam.goto("/register")
    browse.audit(sam)
    fill_registration(sam, "sam@example.org", "Sam")
    expect(sam).to_have_url(at(browse, sam, "/"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Hello, Sam")
    browse.audit(sam)

    sam.get_by_role("link", name="Start a shared ledger", exact=True).click()
    expect(sam).to_have_url(at(browse, sam, "/ledgers/new"))
    browse.audit(sam)
    sam.get_by_label("A name for your shared ledger").fill(LEDGER)
    sam.get_by_role("button", name="Start this ledger").click()
    expect(sam).to_have_url(re.compile("^" + re.escape(browse.base_url) + r"/ledgers/\d+$"))
    ledger_path = browse.path(sam.url)
    expect(sam.get_by_role("heading", level=1)).to_have_text(LEDGER)
    browse.audit(sam)

    section(sam, "Invite a partner").get_by_role("button", name="Create an invitation link").click()
    expect(sam.get_by_role("heading", level=1)).to_have_text(f"Invitation to “{LEDGER}”")
    browse.audit(sam)
    join_path = sam.get_by_label("Invitation link").input_value().removeprefix(BASE_URL)

    alex.goto(join_path)
    expect(alex.get_by_role("heading", level=1)).to_have_text(f"Join “{LEDGER}”")
    browse.audit(alex)
    alex.get_by_role("main").get_by_role("link", name="Create an account").click()
    expect(alex).to_have_url(at(browse, alex, f"/register?next={join_path}"))
    browse.audit(alex)
    fill_registration(alex, "alex@example.org", "Alex", zone="Europe/London")
    expect(alex.get_by_role("heading", level=1)).to_have_text(f"Join “{LEDGER}”?")
    browse.audit(alex)
    alex.get_by_role("button", name=f"Join “{LEDGER}”").click()
    # A new partner starts where their answers are asked for.
    expect(alex).to_have_url(at(browse, alex, f"{ledger_path}/agreements"))
    expect(flashes(alex)).to_have_text(
        f"Welcome to “{LEDGER}”. You are now a partner in it. "
        "Nothing is waiting for your answer yet."
    )
    browse.audit(alex)
    return ledger_path


def test_partners_agree_on_a_pause_signal_after_a_change(browse, phone, desktop):
    sam = browse.new_page(**phone)
    alex = browse.new_page(**desktop)
    ledger_path = share_a_ledger(browse, sam, alex)
    dashboard_path = f"{ledger_path}/agreements"

    # 1. Sam proposes a pause signal, starting from the time-out sign.
    nav_link(sam, "Agreements").click()
    expect(sam).to_have_url(at(browse, sam, dashboard_path))
    expect(sam.get_by_role("heading", level=1)).to_have_text(f"Agreements of {LEDGER}")
    expect(section(sam, "Waiting for you (0)")).to_contain_text(
        "Nothing is waiting for your answer."
    )
    expect(section(sam, "In force")).to_contain_text("No agreement is in force yet.")
    browse.audit(sam)

    sam.get_by_role("link", name="Write a new agreement").click()
    expect(sam).to_have_url(at(browse, sam, f"{dashboard_path}/new"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Write a new agreement")
    browse.audit(sam)

    section(sam, "Pause signal").get_by_role("link", name="A time-out sign").click()
    expect(sam).to_have_url(at(browse, sam, f"{dashboard_path}/new/pause_signal?starter=time_out"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("New agreement: Pause signal")
    expect(sam.get_by_label("The signal", exact=True)).to_have_value(SIGNAL)
    expect(sam.get_by_label(MINUTES)).to_have_value("20")
    browse.audit(sam)

    sam.get_by_label(REASON).fill("So a hard talk can stop before it turns into a fight.")
    sam.get_by_role("button", name="Propose to my partners").click()
    expect(sam).to_have_url(
        re.compile("^" + re.escape(browse.base_url + dashboard_path) + r"/\d+$")
    )
    agreement_path = browse.path(sam.url)
    expect(flashes(sam)).to_have_text("Proposed. Your partners are asked to read it and answer.")
    expect(sam.get_by_role("heading", level=1)).to_have_text(SIGNAL)
    expect(state(sam)).to_have_text("This agreement is proposed.")
    proposed = section(sam, "Proposed: revision 1")
    expect(proposed).to_contain_text("before it turns into a fight")
    expect(proposed.get_by_role("listitem")).to_have_text(
        [re.compile(f"^Sam: accepted on {DAY}$"), "Alex: not answered yet"]
    )
    # Sam can't answer a proposal of Sam's own.
    expect(sam.get_by_role("button", name="Send my answer")).to_have_count(0)
    browse.audit(sam)

    # 2. Alex finds it waiting and asks for a longer pause.
    alex.reload()
    waiting_link = nav_link(alex, "Agreements (1 waiting for you)")
    expect(waiting_link).to_be_visible()
    waiting_link.click()
    expect(alex).to_have_url(at(browse, alex, dashboard_path))
    waiting = section(alex, "Waiting for you (1)").get_by_role("listitem")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("Proposed by Sam.")
    browse.audit(alex)

    waiting.get_by_role("link", name=SIGNAL).click()
    expect(alex).to_have_url(at(browse, alex, agreement_path))
    expect(state(alex)).to_have_text("This agreement is proposed.")
    answer = section(alex, "Your answer to revision 1")
    expect(answer).to_be_visible()
    browse.audit(alex)

    answer.get_by_role("group", name="Your answer").get_by_label(
        "I'd like a change before I accept"
    ).check()
    answer.get_by_label("Your note").fill(NOTE)
    answer.get_by_role("button", name="Send my answer").click()
    expect(alex).to_have_url(at(browse, alex, agreement_path))
    expect(flashes(alex)).to_have_text(
        "Your request for a change is recorded and shown to your partners."
    )
    expect(section(alex, "Proposed: revision 1").get_by_role("listitem")).to_have_text(
        [re.compile(f"^Sam: accepted on {DAY}$"), f"Alex: asked for a change: “{NOTE}”"]
    )
    # Answered: nothing waits for Alex any more.
    expect(nav_link(alex, "Agreements")).to_be_visible()
    browse.audit(alex)

    # 3. Sam reads the note and proposes thirty minutes.
    sam.reload()
    expect(section(sam, "Proposed: revision 1")).to_contain_text(
        f"Alex: asked for a change: “{NOTE}”"
    )
    sam.get_by_role("link", name="Propose a change").click()
    expect(sam).to_have_url(at(browse, sam, f"{agreement_path}/change"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Propose a new version")
    expect(sam.get_by_label("The signal", exact=True)).to_have_value(SIGNAL)
    expect(sam.get_by_label(MINUTES)).to_have_value("20")
    browse.audit(sam)

    sam.get_by_label(MINUTES).fill("30")
    sam.get_by_label(REASON).fill("Thirty minutes, as Alex asked.")
    sam.get_by_role("button", name="Propose to my partners").click()
    expect(sam).to_have_url(at(browse, sam, agreement_path))
    expect(flashes(sam)).to_have_text(
        "Your new version is proposed. Your partners are asked to answer it."
    )
    expect(state(sam)).to_have_text("This agreement is proposed.")
    proposed = section(sam, "Proposed: revision 2")
    expect(described(proposed, MINUTES)).to_have_text("30")
    expect(proposed.get_by_role("listitem")).to_have_text(
        [re.compile(f"^Sam: accepted on {DAY}$"), "Alex: not answered yet"]
    )
    browse.audit(sam)

    # 4. Alex accepts revision 2: it comes into force.
    alex.reload()
    answer = section(alex, "Your answer to revision 2")
    expect(described(section(alex, "Proposed: revision 2"), MINUTES)).to_have_text("30")
    answer.get_by_role("group", name="Your answer").get_by_label("I accept this").check()
    answer.get_by_role("button", name="Send my answer").click()
    expect(alex).to_have_url(at(browse, alex, agreement_path))
    expect(flashes(alex)).to_have_text("Your acceptance is recorded.")
    expect(state(alex)).to_have_text("This agreement is in force.")
    in_force = section(alex, "In force: revision 2")
    expect(described(in_force, MINUTES)).to_have_text("30")
    expect(in_force.locator("p.certificate")).to_have_text(
        re.compile(f"accepted by Sam on {DAY}, by Alex on {DAY}\\.$")
    )
    expect(alex.get_by_role("region", name=re.compile("^Proposed"))).to_have_count(0)
    browse.audit(alex)

    # 5. Sam looks back at the history and at what changed.
    sam.reload()
    expect(state(sam)).to_have_text("This agreement is in force.")
    sam.get_by_role("link", name="History").click()
    expect(sam).to_have_url(at(browse, sam, f"{agreement_path}/history"))
    expect(sam.get_by_role("heading", level=1)).to_have_text(f"History: {SIGNAL}")
    expect(sam.get_by_role("heading", level=2)).to_have_text(["Revision 2", "Revision 1"])
    revisions = sam.locator("ol.history > li")
    expect(revisions.nth(0)).to_contain_text("Status: in force, since")
    expect(revisions.nth(1)).to_contain_text("Status: superseded.")
    expect(revisions.nth(1)).to_contain_text(f"Alex asked for a change (“{NOTE}”)")
    browse.audit(sam)

    sam.get_by_role("link", name="What changed from revision 1").click()
    expect(sam).to_have_url(at(browse, sam, f"{agreement_path}/diff?from=1&to=2"))
    expect(sam.get_by_role("heading", level=1)).to_have_text(
        "What changed from revision 1 to revision 2"
    )
    expect(sam.get_by_label("From revision")).to_have_value("1")
    expect(sam.get_by_label("to revision", exact=True)).to_have_value("2")
    minutes = described(sam, MINUTES)
    # Screen readers hear "[removed: 20]" and "[added: 30]"; eyes see 20 and 30.
    expect(minutes.locator("del")).to_have_text("[removed: 20]")
    expect(minutes.locator("ins")).to_have_text("[added: 30]")
    # Nothing else changed.
    expect(sam.locator("del")).to_have_count(1)
    expect(sam.locator("ins")).to_have_count(1)
    # Unchanged fields are folded away, still there to open and read.
    unchanged = sam.locator("details.unchanged")
    expect(unchanged.locator("summary")).to_contain_text("Unchanged: The signal")
    expect(unchanged.locator("summary")).not_to_contain_text(MINUTES)
    expect(unchanged.locator("dd").first).not_to_be_visible()
    unchanged.locator("summary").click()
    expect(described(unchanged, "The signal")).to_have_text(SIGNAL)
    browse.audit(sam)

    browse.assert_clean()
