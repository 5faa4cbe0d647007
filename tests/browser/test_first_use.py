"""First use on a phone (390 x 844): invitations, counters, directions,
printing and time zones, as a couple met them.

Every page is checked on the way (see ``browse`` in conftest.py): axe-core,
the Content-Security-Policy, script errors and requests to elsewhere.
"""

import re

import pytest
from playwright.sync_api import expect

from ..helpers import PASSWORD, AuthActions, create_ledger, invite, join, person, propose

pytestmark = pytest.mark.browser

LEDGER = "Sam & Alex"
BASE_URL = "http://ledger.test"


@pytest.fixture
def small_phone(phone):
    """A phone-sized context: 390 x 844, touch, mobile Chrome."""
    return {**phone, "viewport": {"width": 390, "height": 844}}


def at(browse, path):
    return re.compile("^" + re.escape(browse.base_url + path) + "$")


def main(page):
    return page.get_by_role("main")


def nav_link(page, name):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def heading(page):
    return page.get_by_role("heading", level=1)


def flashes(page):
    return page.locator("div.flashes")


def signed_in_page(browse, app, context, name="sam", init_script=None):
    """A page of ``name``, who logs in through the form (registered already)."""
    page = browse.new_page(**context)
    if init_script:
        page.context.add_init_script(init_script)
    page.goto("/login")
    browse.audit(page)
    page.get_by_label("Email").fill(f"{name}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(nav_link(page, "Log out")).to_be_visible()
    browse.audit(page)
    return page


# 6. Invitations survive every path.


@pytest.mark.parametrize("start", ["Create an account", "Log in"])
def test_an_invitation_survives_switching_between_the_forms(browse, app, small_phone, start):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam, LEDGER)
    propose(sam, ledger_id, title="Our Sunday check-in")
    _, join_path = invite(sam, ledger_id)
    other = "Log in" if start == "Create an account" else "Create an account"
    if other == "Log in":  # ends on the log-in form: Alex has an account already
        AuthActions(app.test_client()).register(email="alex@example.org", name="Alex")

    alex = browse.new_page(**small_phone)
    alex.goto(join_path)
    expect(heading(alex)).to_have_text(f"Join “{LEDGER}”")
    browse.audit(alex)
    # The page's own link first, then the other form's, then the navigation's.
    main(alex).get_by_role("link", name=start).click()
    expect(heading(alex)).to_have_text(start)
    browse.audit(alex)
    main(alex).get_by_role("link", name=other).click()
    expect(heading(alex)).to_have_text(other)
    browse.audit(alex)
    nav_link(alex, start).click()
    expect(heading(alex)).to_have_text(start)
    browse.audit(alex)
    nav_link(alex, other).click()
    expect(heading(alex)).to_have_text(other)
    browse.audit(alex)
    if other == "Log in":
        alex.get_by_label("Email").fill("alex@example.org")
        alex.get_by_label("Password", exact=True).fill(PASSWORD)
        alex.get_by_role("button", name="Log in").click()
    else:
        alex.get_by_label("Email").fill("alex@example.org")
        alex.get_by_label("Your name, as your partners will see it").fill("Alex")
        alex.get_by_label("Password", exact=True).fill(PASSWORD)
        alex.get_by_role("button", name="Create my account").click()

    expect(alex).to_have_url(at(browse, join_path))
    expect(heading(alex)).to_have_text(f"Join “{LEDGER}”?")
    browse.audit(alex)
    alex.get_by_role("button", name=f"Join “{LEDGER}”").click()
    # What waits for the new partner's answer comes before anything else.
    expect(alex).to_have_url(at(browse, f"/ledgers/{ledger_id}/agreements"))
    expect(flashes(alex)).to_have_text(
        f"Welcome to “{LEDGER}”. You are now a partner in it. "
        "One agreement is waiting for your answer: it is listed first, below."
    )
    waiting = alex.get_by_role("region", name="Waiting for you (1)")
    expect(waiting.get_by_role("link", name="Our Sunday check-in")).to_be_visible()
    browse.audit(alex)
    browse.assert_clean()


def test_the_invitation_link_copies_and_shares(browse, app, small_phone):
    person(app, "sam")
    page = signed_in_page(browse, app, small_phone)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # No ledger yet: the home page starts one; the Partners page starts another.
    page.get_by_role("link", name="Start a shared ledger").click()
    page.get_by_label("A name for your shared ledger").fill(LEDGER)
    page.get_by_role("button", name="Start this ledger").click()
    expect(heading(page)).to_have_text(LEDGER)
    browse.audit(page)
    page.get_by_role("link", name="Start another shared ledger").click()
    expect(page).to_have_url(at(browse, "/ledgers/new"))
    expect(heading(page)).to_have_text("Start a shared ledger")
    browse.audit(page)
    page.go_back()

    page.get_by_role("button", name="Create an invitation link").click()
    expect(heading(page)).to_have_text(f"Invitation to “{LEDGER}”")
    link = page.get_by_label("Invitation link").input_value()
    assert link.startswith(f"{BASE_URL}/join/")
    # This browser offers no Web Share: only Copy shows.
    expect(page.get_by_role("button", name="Share link")).to_be_hidden()
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status")).to_have_text("The link is copied.")
    assert page.evaluate("navigator.clipboard.readText()") == link
    browse.audit(page)

    # Where the browser can share, Share shows and hands over the link.
    sharer = signed_in_page(
        browse,
        app,
        small_phone,
        init_script="navigator.share = (data) => "
        "{ window.__shared = data; return Promise.resolve(); };",
    )
    nav_link(sharer, "Partners").click()
    sharer.get_by_role("button", name="Create an invitation link").click()
    shared_link = sharer.get_by_label("Invitation link").input_value()
    sharer.get_by_role("button", name="Share link").click()
    sharer.wait_for_function("window.__shared !== undefined")
    assert sharer.evaluate("window.__shared") == {
        "title": f"Join {LEDGER} on Ledger",
        "url": shared_link,
    }
    browse.audit(sharer)
    browse.assert_clean()


# 8. Reading and writing, for everyone.


def test_counters_say_what_room_is_left_and_a_long_paste_is_not_cut(browse, app, small_phone):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam, LEDGER)
    page = signed_in_page(browse, app, small_phone)
    page.goto(f"/ledgers/{ledger_id}/agreements/new/general")
    browse.audit(page)
    text = page.get_by_label("The agreement")
    counter = page.locator("#text-count")
    expect(counter).to_have_text("8,000 characters left")
    text.fill("Sunday\nhalf an hour")
    # The line break travels as two characters, and counts as two.
    expect(counter).to_have_text("7,980 characters left")
    pasted = "word " * 1700
    text.fill(pasted)
    assert len(text.input_value()) == 8500  # nothing cut
    expect(counter).to_have_text(
        "500 characters too many: please shorten it to 8,000. Nothing was cut."
    )
    page.get_by_label("Title").fill("Our Sunday check-in")
    page.get_by_role("button", name="Propose to my partners").click()
    expect(page.locator("#text-errors")).to_have_text(
        "This is 8499 characters long; please shorten it to 8000 characters or fewer. "
        "Nothing was cut: all of it is still here."
    )
    assert text.input_value() == pasted.strip()
    browse.audit(page)
    browse.assert_clean()


def test_hebrew_reads_right_to_left_and_the_count_keeps_its_space(browse, app, small_phone):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam, LEDGER)
    path = propose(sam, ledger_id, title="שיחת יום ראשון", text="חצי שעה, כל יום ראשון.")
    join(person(app, "alex"), invite(sam, ledger_id)[1])

    alex = signed_in_page(browse, app, small_phone, name="alex")
    alex.goto(path)
    title = alex.get_by_role("heading", level=1)
    expect(title).to_have_text("שיחת יום ראשון")
    assert title.evaluate("el => getComputedStyle(el).direction") == "rtl"
    content = alex.locator("dl.content dd").first
    assert content.evaluate("el => getComputedStyle(el).direction") == "rtl"
    # Ours stays left to right around it.
    state = alex.locator("p.state")
    assert state.evaluate("el => getComputedStyle(el).direction") == "ltr"
    agreements = nav_link(alex, "Agreements (1 waiting for you)")
    expect(agreements).to_be_visible()
    assert agreements.inner_text() == "Agreements (1 waiting for you)"
    browse.audit(alex)
    browse.assert_clean()


def test_both_print_views_print_and_the_agenda_names_its_ledger_and_day(browse, app, small_phone):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam, LEDGER)
    page = signed_in_page(browse, app, small_phone)
    page.context.add_init_script("window.print = () => { window.__printed = true; };")
    page.goto(f"/ledgers/{ledger_id}/agenda")
    browse.audit(page)
    page.get_by_label("Topic to park for the next session").fill("Money, again")
    page.get_by_role("button", name="Park it").click()
    expect(page.locator(".agenda")).to_contain_text("Money, again")
    printed_for = page.locator(".printed-for")
    expect(printed_for).to_be_hidden()
    page.emulate_media(media="print")
    expect(printed_for).to_be_visible()
    expect(printed_for).to_have_text(re.compile(rf"^{re.escape(LEDGER)}, \d{{1,2}} \w+ \d{{4}}$"))
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    page.emulate_media(media="screen")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") is True
    browse.audit(page)

    page.goto(f"/ledgers/{ledger_id}/print")
    browse.audit(page)
    page.evaluate("window.__printed = false")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") is True
    browse.assert_clean()


# 9. Time zones.


@pytest.mark.parametrize(
    ("reported", "canonical"),
    [
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
    ],
)
def test_the_browsers_zone_is_preselected_by_its_canonical_name(
    browse, small_phone, reported, canonical
):
    page = browse.new_page(**{**small_phone, "timezone_id": reported})
    page.goto("/register")
    browse.audit(page)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == reported
    zone = page.get_by_label("Your time zone")
    expect(zone).to_have_value(canonical)
    region = canonical.split("/")[0]
    assert zone.locator("option:checked").evaluate("o => o.parentElement.label") == region
    browse.assert_clean()
