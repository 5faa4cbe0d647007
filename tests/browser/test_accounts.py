"""A person creates an account, logs in and out and manages their devices.

Each page is checked on the way (see ``browse`` in conftest.py): axe-core
finds no serious or critical accessibility problem, the Content-Security-
Policy blocks nothing, no script fails, and nothing is loaded from elsewhere.
"""

import re

import pytest
from playwright.sync_api import expect

from ..helpers import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "amber meadow violin 77"
EMAIL = "robin@example.org"
NAME = "Robin"


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


def register(browse, page, email=EMAIL, name=NAME, password=PASSWORD, zone="Pacific/Auckland"):
    """Open the form from the navigation, fill it by its labels and send it."""
    nav_link(page, "Create an account").click()
    expect(page).to_have_url(at(browse, page, "/register"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    browse.audit(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Your name, as your partners will see it").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Your time zone").select_option(zone)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(at(browse, page, "/"))
    expect(flashes(page)).to_have_text(f"Welcome, {name}. Your account is ready.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {name}")


def log_in(browse, page, password, remember=False, email=EMAIL):
    """Fill the log-in form (already open) and send it."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    if remember:
        page.get_by_label("Remember this device for 30 days").check()
    page.get_by_role("button", name="Log in").click()


def log_out(browse, page):
    """Log out through the navigation link and its confirmation page."""
    nav_link(page, "Log out").click()
    expect(page).to_have_url(at(browse, page, "/logout"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log out of this device?")
    browse.audit(page)
    page.get_by_role("button", name="Log out of this device").click()
    expect(page).to_have_url(at(browse, page, "/login"))
    expect(flashes(page)).to_have_text("You're logged out. Take care.")
    expect(nav_link(page, "Log in")).to_be_visible()


def cookie_names(page):
    return {cookie["name"] for cookie in page.context.cookies()}


def test_register_log_out_and_in_and_change_password_on_a_phone(browse, phone):
    page = browse.new_page(**phone, color_scheme="dark")

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Agreements you keep together")
    browse.audit(page)

    register(browse, page)
    browse.audit(page)

    log_out(browse, page)
    browse.audit(page)

    log_in(browse, page, PASSWORD, remember=True)
    expect(page).to_have_url(at(browse, page, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {NAME}")
    assert "ledger_remember" in cookie_names(page)

    nav_link(page, "Account").click()
    expect(page).to_have_url(at(browse, page, "/account"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(section(page, "Your details").get_by_label("Your time zone")).to_have_value(
        "Pacific/Auckland"
    )
    browse.audit(page)

    change = section(page, "Change your password")
    change.get_by_label("Current password").fill(PASSWORD)
    change.get_by_label("New password").fill(NEW_PASSWORD)
    change.get_by_role("button", name="Change my password").click()
    expect(page).to_have_url(at(browse, page, "/account"))
    expect(flashes(page)).to_have_text(
        "Your password is changed. Every other device has been signed out."
    )
    browse.audit(page)

    devices = section(page, "Where you're logged in").get_by_role("listitem")
    expect(devices).to_have_count(1)
    expect(devices).to_contain_text("(this device)")
    expect(devices).to_contain_text("Chrome on Android")
    # The device stays remembered across the password change.
    expect(devices).to_contain_text("remembered for 30 days")
    expect(devices.get_by_role("button", name="Log out this device")).to_be_visible()
    expect(page.get_by_role("button", name="Log out on every device, this one too")).to_be_visible()

    log_out(browse, page)

    log_in(browse, page, PASSWORD)
    expect(page).to_have_url(at(browse, page, "/login"))
    expect(page.get_by_text("That email and password don't match an account here.")).to_be_visible()
    browse.audit(page)

    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(browse, page, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {NAME}")
    expect(nav_link(page, "Account")).to_be_visible()

    browse.assert_clean()


def test_signing_out_another_device_from_the_account_page(browse, desktop, phone):
    laptop = browse.new_page(**desktop)
    laptop.goto("/")
    browse.audit(laptop)
    register(browse, laptop)

    nav_link(laptop, "Account").click()
    expect(laptop).to_have_url(at(browse, laptop, "/account"))
    devices = section(laptop, "Where you're logged in").get_by_role("listitem")
    expect(devices).to_have_count(1)
    expect(devices).to_contain_text("Chrome on Linux")
    expect(devices).to_contain_text("(this device)")
    browse.audit(laptop)

    # The same person signs in on their phone: a second, separate browser.
    mobile = browse.new_page(**phone)
    mobile.goto("/login")
    browse.audit(mobile)
    log_in(browse, mobile, PASSWORD)
    expect(mobile).to_have_url(at(browse, mobile, "/"))
    expect(mobile.get_by_role("heading", level=1)).to_have_text(f"Hello, {NAME}")
    browse.audit(mobile)

    laptop.reload()
    expect(devices).to_have_count(2)
    this_one = devices.filter(has_text="(this device)")
    other = devices.filter(has_not_text="(this device)")
    expect(this_one).to_contain_text("Chrome on Linux")
    expect(other).to_contain_text("Chrome on Android")
    expect(other).not_to_contain_text("remembered for 30 days")
    browse.audit(laptop)

    other.get_by_role("button", name="Log out that device").click()
    expect(laptop).to_have_url(at(browse, laptop, "/account"))
    expect(flashes(laptop)).to_have_text("That device is signed out.")
    expect(devices).to_have_count(1)
    expect(devices).to_contain_text("(this device)")
    browse.audit(laptop)

    # The phone finds out on its next page: it is back at the log-in page.
    nav_link(mobile, "Account").click()
    expect(mobile).to_have_url(at(browse, mobile, "/login?next=/account"))
    expect(flashes(mobile)).to_have_text("Please log in to continue.")
    expect(nav_link(mobile, "Log in")).to_be_visible()
    expect(nav_link(mobile, "Account")).to_have_count(0)
    browse.audit(mobile)

    # The laptop is still signed in.
    laptop.reload()
    expect(laptop.get_by_role("heading", level=1)).to_have_text("Your account")

    browse.assert_clean()


def test_register_form_starts_from_the_browsers_time_zone(browse, phone):
    page = browse.new_page(**{**phone, "timezone_id": "America/Sao_Paulo"})
    page.goto("/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    browse.audit(page)
    # app.js preselects the browser's own zone instead of the default, UTC.
    expect(page.get_by_label("Your time zone")).to_have_value("America/Sao_Paulo")
    browse.assert_clean()
