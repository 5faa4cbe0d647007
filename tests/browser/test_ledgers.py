"""Two people share a ledger through an invitation link; a third can't see it.

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
WAITING = "This ledger is waiting for a partner."
NOT_FOUND = "We couldn't find that page"


def flashes(page):
    return page.locator("div.flashes")


def section(page, heading):
    """The region of the page labelled by one of its headings."""
    return page.get_by_role("region", name=heading)


def partners(page):
    """The partners listed on a ledger's page, one list item each."""
    return section(page, "Partners").get_by_role("listitem")


def at(browse, page, path):
    """A regular expression matching ``path`` on the live server, whole."""
    return re.compile("^" + re.escape(browse.base_url + path) + "$")


def fill_registration(page, email, name, password=PASSWORD, zone="Europe/Berlin"):
    """Fill the register form (already open) by its labels and send it."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Your name, as your partners will see it").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Your time zone").select_option(zone)
    page.get_by_role("button", name="Create my account").click()


def register_at_home(browse, page, email, name, zone="Europe/Berlin"):
    """Open /register, sign up and land on the home page."""
    page.goto("/register")
    browse.audit(page)
    fill_registration(page, email, name, zone=zone)
    expect(page).to_have_url(at(browse, page, "/"))
    expect(flashes(page)).to_have_text(f"Welcome, {name}. Your account is ready.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {name}")
    browse.audit(page)


def expect_not_found(browse, page, path):
    """Open ``path``: the 404 page, with nothing of the ledger on it."""
    response = page.goto(path)
    assert response.status == 404, f"{path} answered {response.status}"
    expect(page).to_have_url(at(browse, page, path))
    expect(page.get_by_role("heading", level=1)).to_have_text(NOT_FOUND)
    expect(page).to_have_title(f"{NOT_FOUND} · Ledger")
    expect(page.locator("body")).not_to_contain_text(LEDGER)
    assert "Sam &amp; Alex" not in page.content()
    browse.audit(page)


def test_partners_share_a_ledger_through_an_invitation_link(browse, phone, desktop):
    # 1. Sam signs up on a phone, starts the ledger and makes an invitation.
    sam = browse.new_page(**phone)
    register_at_home(browse, sam, "sam@example.org", "Sam")

    sam.get_by_role("link", name="Start a shared ledger", exact=True).click()
    expect(sam).to_have_url(at(browse, sam, "/ledgers/new"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Start a shared ledger")
    browse.audit(sam)
    sam.get_by_label("A name for your shared ledger").fill(LEDGER)
    expect(sam.get_by_label("The ledger's time zone")).to_have_value("Europe/Berlin")
    sam.get_by_role("button", name="Start this ledger").click()

    expect(sam).to_have_url(re.compile("^" + re.escape(browse.base_url) + r"/ledgers/\d+$"))
    ledger_path = browse.path(sam.url)
    expect(sam.get_by_role("heading", level=1)).to_have_text(LEDGER)
    expect(flashes(sam)).to_have_text(f"“{LEDGER}” is ready. Invite your partner to join it.")
    expect(sam.get_by_text(WAITING)).to_be_visible()
    expect(partners(sam)).to_have_count(1)
    expect(partners(sam).locator(".card-title")).to_have_text(["Sam (you)"])
    browse.audit(sam)

    invite = section(sam, "Invite a partner")
    invite.get_by_label("A note (optional)").fill("for Alex")
    invite.get_by_role("button", name="Create an invitation link").click()
    expect(sam).to_have_url(
        re.compile("^" + re.escape(browse.base_url + ledger_path) + r"/invitations/\d+$")
    )
    invitation_path = browse.path(sam.url)
    expect(sam.get_by_role("heading", level=1)).to_have_text(f"Invitation to “{LEDGER}”")
    expect(sam.get_by_text("Note: for Alex")).to_be_visible()
    link_field = sam.get_by_label("Invitation link")
    expect(link_field).not_to_be_editable()
    expect(link_field).to_have_value(re.compile("^" + re.escape(BASE_URL) + r"/join/[^/?#]+$"))
    browse.audit(sam)
    join_path = link_field.input_value().removeprefix(BASE_URL)

    # 2. Alex, signed out on a laptop, opens the link and creates an account.
    alex = browse.new_page(**desktop)
    alex.goto(join_path)
    expect(alex.get_by_role("heading", level=1)).to_have_text(f"Join “{LEDGER}”")
    expect(alex.get_by_role("main")).to_contain_text("Sam invited you to share this ledger.")
    expect(alex.get_by_role("main").get_by_role("link", name="Log in")).to_be_visible()
    browse.audit(alex)

    # The navigation has a link of the same name, without the way back.
    alex.get_by_role("main").get_by_role("link", name="Create an account").click()
    expect(alex).to_have_url(at(browse, alex, f"/register?next={join_path}"))
    browse.audit(alex)
    fill_registration(alex, "alex@example.org", "Alex", zone="Europe/London")

    expect(alex).to_have_url(at(browse, alex, join_path))
    expect(flashes(alex)).to_have_text("Welcome, Alex. Your account is ready.")
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
    alex.goto(ledger_path)
    expect(alex.get_by_role("heading", level=1)).to_have_text(LEDGER)
    expect(section(alex, "Partners").get_by_role("heading", level=2)).to_have_text("Partners")
    expect(partners(alex).locator(".card-title")).to_have_text(["Sam", "Alex (you)"])
    expect(alex.get_by_text(WAITING)).to_have_count(0)
    browse.audit(alex)

    # 3. Sam sees Alex as a partner and the invitation as used.
    sam.goto(ledger_path)
    expect(sam.get_by_role("heading", level=1)).to_have_text(LEDGER)
    expect(partners(sam).locator(".card-title")).to_have_text(["Sam (you)", "Alex"])
    expect(sam.get_by_text(WAITING)).to_have_count(0)
    expect(section(sam, "Invite a partner").get_by_role("heading", level=3)).to_have_text(
        "Invitations"
    )
    invitations = section(sam, "Invite a partner").get_by_role("listitem")
    expect(invitations).to_have_count(1)
    expect(invitations.get_by_role("link", name="for Alex")).to_be_visible()
    expect(invitations).to_contain_text("Alex joined through it")
    browse.audit(sam)

    # 4. Someone else, signed in, learns nothing about the ledger.
    stranger = browse.new_page(**desktop)
    register_at_home(browse, stranger, "casey@example.org", "Casey")
    for path in (ledger_path, invitation_path, f"{ledger_path}/leave"):
        expect_not_found(browse, stranger, path)

    response = stranger.goto(join_path)
    assert response.status == 410, f"the used link answered {response.status}"
    expect(stranger.get_by_role("heading", level=1)).to_have_text("This invitation can't be used")
    expect(stranger.get_by_role("main")).to_contain_text("already used")
    expect(stranger.locator("body")).not_to_contain_text(LEDGER)
    browse.audit(stranger)

    browse.assert_clean()
