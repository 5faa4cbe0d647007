"""What a couple meets on first use: invitations, concerns, reading and
writing in any language, and time zones."""

import re
from zoneinfo import ZoneInfo

import pytest

from ledger.db import utcnow
from ledger.forms import canonical_time_zone, time_zone_choices, time_zone_links
from ledger.models import Consent, User

from .helpers import (
    PASSWORD,
    AuthActions,
    answer,
    create_ledger,
    invite,
    join,
    person,
    post_form,
    propose,
)

HREF_RE = re.compile(r'href="([^"]+)"')


def hrefs(page, start):
    """Every link on ``page`` whose address starts with ``start``."""
    return [h.replace("&amp;", "&") for h in HREF_RE.findall(page) if h.startswith(start)]


def text(response):
    return response.get_data(as_text=True)


# 6. Invitations survive every path.


@pytest.mark.parametrize(
    ("first", "then"), [("/register", "/login"), ("/login", "/register")], ids=["r-l", "l-r"]
)
def test_switching_between_log_in_and_create_an_account_keeps_the_invitation(app, first, then):
    sam = person(app, "sam")
    _, path = invite(sam, create_ledger(sam))
    visitor = app.test_client()
    page = text(visitor.get(path))
    assert f"{first}?next={path}" in hrefs(page, first)
    # First one form, then the other, then back: every link still leads back.
    for here, there in ((first, then), (then, first), (first, then)):
        page = text(visitor.get(f"{here}?next={path}"))
        links = hrefs(page, there)
        assert links, f"no link to {there} on {here}"
        assert set(links) == {f"{there}?next={path}"}, links  # the nav's and the page's
    if then == "/login":
        response = post_form(
            visitor,
            f"/register?next={path}",
            {
                "email": "alex@example.org",
                "display_name": "Alex",
                "password": PASSWORD,
                "time_zone": "UTC",
            },
        )
    else:
        AuthActions(app.test_client()).register(email="alex@example.org", name="Alex")
        response = post_form(
            visitor, f"/login?next={path}", {"email": "alex@example.org", "password": PASSWORD}
        )
    assert response.status_code == 302
    assert response.headers["Location"] == path


def test_a_failed_log_in_keeps_the_invitation(app):
    sam = person(app, "sam")
    _, path = invite(sam, create_ledger(sam))
    visitor = app.test_client()
    response = post_form(
        visitor, f"/login?next={path}", {"email": "nobody@example.org", "password": "x" * 12}
    )
    assert response.status_code == 422
    assert set(hrefs(text(response), "/register")) == {f"/register?next={path}"}


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/x"])
def test_a_foreign_next_is_not_carried_along(client, target):
    page = text(client.get("/login", query_string={"next": target}))
    assert hrefs(page, "/register") == ["/register", "/register"]


def test_a_new_partner_starts_at_what_waits_for_their_answer(app):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam)
    propose(sam, ledger_id, title="Our Sunday check-in")
    propose(sam, ledger_id, title="Phones away at dinner")
    alex = person(app, "alex")
    response = join(alex, invite(sam, ledger_id)[1])
    assert response.headers["Location"] == f"/ledgers/{ledger_id}/agreements"
    board = text(alex.get(response.headers["Location"]))
    assert "2 agreements are waiting for your answer: they are listed first, below." in board
    assert "Waiting for you (2)" in board


def test_a_partner_can_start_another_ledger_from_the_partners_page(app):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam)
    page = text(sam.get(f"/ledgers/{ledger_id}"))
    assert '<a class="button" href="/ledgers/new">Start another shared ledger</a>' in page
    second = create_ledger(sam, "Sam & Robin")
    assert second != ledger_id


def test_the_invitation_link_has_copy_and_share_buttons_that_need_javascript(app):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam)
    response = post_form(
        sam, f"/ledgers/{ledger_id}/invitations", {"note": ""}, page=f"/ledgers/{ledger_id}"
    )
    page = text(sam.get(response.headers["Location"]))
    # Without JavaScript: the link is in its field; the buttons stay hidden.
    assert re.search(r'id="invitation-link"[^>]*value="http://ledger.test/join/[\w-]+"', page)
    actions = re.search(r'<p class="actions link-actions"[^>]*>', page).group(0)
    assert " hidden" in actions and 'data-link-actions="invitation-link"' in actions
    assert '<button type="button" data-copy="invitation-link">Copy link</button>' in page
    assert '<button type="button" data-share="invitation-link" hidden>Share link</button>' in page


# 7. Concerns are taken seriously.


def test_a_concern_needs_a_note(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    response = answer(alex, path, 1, decision="concern", note="   ")
    assert response.status_code == 422
    assert "Please say what your concern is" in text(response)
    with app.app_context():
        assert Consent.select().where(Consent.decision == "concern").count() == 0


def test_a_concern_shows_with_its_note_on_the_page_in_print_and_in_history(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    assert answer(alex, path, 1, decision="concern", note="Sundays are busy.").status_code == 302
    note = '<p class="concern-note" dir="auto">Sundays are busy.</p>'
    for page in (text(sam.get(path)), text(sam.get(f"/ledgers/{ledger_id}/print"))):
        assert "Alex's concern:</p>" in page
        assert note in page
    history = text(sam.get(f"{path}/history"))
    assert 'accepted with a concern (“<span dir="auto">Sundays are busy.</span>”)' in history


# 8. Reading and writing, for everyone.


def test_user_written_text_reads_in_its_own_direction(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, title="שיחת יום ראשון", text="חצי שעה.", reason="כפי שסיכמנו.")
    answer(alex, path, 1, decision="concern", note="ימי ראשון עמוסים.")
    page = text(sam.get(path))
    assert '<h1 dir="auto">שיחת יום ראשון</h1>' in page
    assert '<dd dir="auto">חצי שעה.</dd>' in page
    assert '<p class="concern-note" dir="auto">ימי ראשון עמוסים.</p>' in page
    history = text(sam.get(f"{path}/history"))
    assert '“<span dir="auto">כפי שסיכמנו.</span>”' in history
    post_form(sam, f"/ledgers/{ledger_id}/agenda", {"topic": "כסף", "note": "שוב."})
    agenda = text(sam.get(f"/ledgers/{ledger_id}/agenda"))
    assert '<p class="card-title" dir="auto">כסף</p>' in agenda
    assert '<p dir="auto">שוב.</p>' in agenda
    form = text(sam.get(f"/ledgers/{ledger_id}/agreements/new/general"))
    assert re.search(r'<input [^>]*dir="auto" id="title"', form)
    assert re.search(r'<textarea [^>]*data-limit="8000" dir="auto" id="text"', form)


def test_long_fields_state_their_limit_and_nothing_is_cut(couple):
    sam, _, ledger_id = couple
    url = f"/ledgers/{ledger_id}/agreements/new/general"
    form = text(sam.get(url))
    assert "maxlength" not in form  # a browser would cut a long paste silently
    assert '<p class="hint counter" id="text-count" data-counter="text">' in form
    assert "Up to 8,000 characters." in form
    assert 'aria-describedby="text-count' in form
    pasted = "word " * 1700  # 8,500 characters
    response = post_form(sam, url, {"title": "Ours", "text": pasted, "action": "propose"})
    assert response.status_code == 422
    page = text(response)
    assert "This is 8499 characters long; please shorten it to 8000 characters or fewer." in page
    assert pasted.strip() in page  # all of it is still there to shorten


def test_print_views_have_a_print_button_and_the_agenda_names_its_ledger_and_day(app, couple):
    sam, _, ledger_id = couple
    button = '<button type="button" data-print>Print</button>'
    agreements = text(sam.get(f"/ledgers/{ledger_id}/print"))
    assert button in agreements and "/static/app.js" in agreements
    agenda = text(sam.get(f"/ledgers/{ledger_id}/agenda"))
    assert button in agenda
    with app.app_context():
        zone = User.get(User.email_key == "sam@example.org").time_zone
    today = utcnow().astimezone(ZoneInfo(zone)).strftime("%-d %B %Y")
    assert (
        f'<p class="print-only printed-for"><span dir="auto">Sam &amp; Alex</span>, {today}</p>'
        in agenda
    )


def test_history_ends_a_reason_with_a_single_full_stop(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, reason="We said we would.")
    history = text(sam.get(f"{path}/history"))
    assert "We said we would.</span>”" in history
    assert "”." not in history


def test_the_waiting_count_is_one_inline_box_with_its_space(couple):
    sam, alex, ledger_id = couple
    propose(sam, ledger_id)
    board = text(alex.get(f"/ledgers/{ledger_id}/agreements"))
    assert '<span>Agreements <span class="count">(1 waiting for you)</span></span>' in board


def test_one_word_for_ending_a_session(user_client):
    page = text(user_client.get("/account"))
    assert not re.search(r"sign(ed|s)? (out|in)", page, re.IGNORECASE)
    assert "Log out this device" in page
    assert "Log out on every device, this one too" in page


def test_the_front_page_says_who_can_read_what_is_written(client):
    page = text(client.get("/"))
    assert "Nobody else" not in page
    assert "Only its\n      partners can read it, and whoever runs the server it is kept on" in page


# 9. Time zones.


def tz_database():
    """The zone and link names of the system's tz database source."""
    with open("/usr/share/zoneinfo/tzdata.zi", encoding="utf-8") as fh:
        source = fh.read()
    zones = {line.split()[1] for line in source.splitlines() if line.startswith("Z ")}
    links = {line.split()[2] for line in source.splitlines() if line.startswith("L ")}
    return zones, links


def offered(choices):
    return [v for group in choices.values() if isinstance(group, dict) for v in group]


def test_the_time_zone_list_offers_canonical_zones_only_by_region():
    choices = time_zone_choices()
    zones, links = tz_database()
    names = offered(choices)
    assert list(choices)[0] == "UTC"
    assert set(choices) - {"UTC"} <= {
        "Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe",
        "Indian", "Pacific",
    }  # fmt: skip
    assert set(names) <= zones and not set(names) & links
    assert not [n for n in names if n.startswith(("US/", "Etc/")) or "GMT" in n]
    for zone in ("Asia/Kolkata", "Europe/Kyiv", "America/Argentina/Buenos_Aires"):
        assert zone in choices[zone.split("/")[0]]
    assert choices["America"]["America/Argentina/Buenos_Aires"] == "Buenos Aires, Argentina"


@pytest.mark.parametrize(
    ("reported", "canonical"),
    [
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
        ("US/Eastern", "America/New_York"),
        ("Etc/UTC", "UTC"),
    ],
)
def test_browser_spellings_map_to_canonical_zones(reported, canonical):
    assert time_zone_links()[reported] == canonical
    assert canonical_time_zone(reported) == canonical


def test_register_page_groups_zones_and_carries_the_alias_map(client):
    page = text(client.get("/register"))
    assert '<optgroup label="Asia">' in page
    assert 'value="Asia/Calcutta"' not in page
    assert 'data-tz="detect"' in page
    assert "&#34;Asia/Calcutta&#34;:&#34;Asia/Kolkata&#34;" in page


def test_a_submitted_alias_is_stored_as_its_zone(app, client):
    response = AuthActions(client).register(time_zone="Asia/Calcutta")
    assert response.status_code == 302
    with app.app_context():
        assert User.get(User.email_key == "sam@example.org").time_zone == "Asia/Kolkata"


def test_an_older_alias_in_an_account_is_shown_as_its_zone(app, user_client):
    with app.app_context():
        User.update(time_zone="Asia/Calcutta").execute()
    page = text(user_client.get("/account"))
    assert '<option selected value="Asia/Kolkata">Kolkata</option>' in page
