"""Every route of the URL map, walked as anonymous, as a partner, and as an
outsider holding the real ids of another couple's ledger.

A new route fails ``test_every_route_is_listed`` until it is added to ROUTES
with the statuses it must answer.
"""

import re
from dataclasses import dataclass

import pytest
from flask import url_for

from ledger.models import MODELS, Ledger, Membership, Removal

from .helpers import HASH_RE, csrf_token, invite, join, post_form


@dataclass
class Route:
    """Expected statuses as (anonymous, partner) for GET and for a POST
    without a CSRF token. ``scoped``: the URL holds a ledger's object ids, so
    an outsider gets 404 for every method the route accepts."""

    get: tuple = ()
    post: tuple = ()
    scoped: bool = False


ROUTES = {
    "home.index": Route(get=(200, 302)),
    "static": Route(get=(200, 200)),
    "auth.register": Route(get=(200, 302), post=(400, 302)),
    "auth.login": Route(get=(200, 302), post=(400, 302)),
    "auth.logout": Route(get=(302, 200), post=(302, 400)),
    "auth.reset_password": Route(get=(404, 404), post=(404, 404)),
    "auth.forgot_password": Route(get=(200, 302), post=(200, 302)),  # no email: the page
    "auth.check_inbox": Route(get=(200, 302)),
    "auth.confirm_registration": Route(get=(404, 404), post=(404, 404)),
    "settings.account": Route(get=(302, 200)),
    "settings.profile": Route(get=(405, 405), post=(302, 400)),
    "settings.password": Route(get=(405, 405), post=(302, 400)),
    "settings.sign_out_device": Route(get=(405, 405), post=(302, 400)),
    "settings.sign_out_everywhere": Route(get=(405, 405), post=(302, 400)),
    "settings.delete": Route(get=(302, 200), post=(302, 400)),
    "settings.reminders": Route(get=(405, 405), post=(302, 400)),
    "settings.confirm_email": Route(get=(404, 404), post=(404, 404)),
    "settings.stop_reminders": Route(get=(404, 404), post=(404, 404)),
    "ledgers.new": Route(get=(302, 200), post=(302, 400)),
    "ledgers.switch": Route(get=(405, 405), post=(302, 400)),
    "ledgers.show": Route(get=(302, 200), scoped=True),
    "ledgers.invite": Route(get=(405, 405), post=(302, 400), scoped=True),
    "ledgers.invitation": Route(get=(302, 200), scoped=True),
    "ledgers.revoke": Route(get=(405, 405), post=(302, 400), scoped=True),
    "ledgers.leave": Route(get=(302, 200), post=(302, 400), scoped=True),
    "ledgers.remove": Route(get=(302, 200), post=(302, 400), scoped=True),
    "ledgers.withdraw_removal": Route(get=(405, 405), post=(302, 400), scoped=True),
    "ledgers.rename": Route(get=(405, 405), post=(302, 400), scoped=True),
    "ledgers.delete": Route(get=(302, 200), post=(302, 400), scoped=True),
    "ledgers.withdraw_deletion": Route(get=(405, 405), post=(302, 400), scoped=True),
    "join.show": Route(get=(200, 200), post=(200, 200)),
    "agreements.dashboard": Route(get=(302, 200), scoped=True),
    "agreements.choose": Route(get=(302, 200), scoped=True),
    "agreements.new": Route(get=(302, 200), post=(302, 400), scoped=True),
    "agreements.draft": Route(get=(302, 200), post=(302, 400), scoped=True),
    "agreements.delete_draft": Route(get=(405, 405), post=(302, 400), scoped=True),
    "agreements.show": Route(get=(302, 200), scoped=True),
    "agreements.answer": Route(get=(405, 405), post=(302, 400), scoped=True),
    "agreements.withdraw_answer": Route(get=(405, 405), post=(302, 400), scoped=True),
    "agreements.withdraw_proposal": Route(get=(405, 405), post=(302, 400), scoped=True),
    "agreements.change": Route(get=(302, 200), post=(302, 400), scoped=True),
    "agreements.retire": Route(get=(302, 200), post=(302, 400), scoped=True),
    "agreements.history": Route(get=(302, 200), scoped=True),
    "agreements.compare": Route(get=(302, 200), scoped=True),
    "agreements.activity": Route(get=(302, 200), scoped=True),
    "agreements.of_kind": Route(get=(302, 200), scoped=True),
    "agreements.waiting": Route(get=(302, 200), scoped=True),
    "agreements.print_view": Route(get=(302, 200), scoped=True),
    "pause.page": Route(get=(302, 200)),
    "exports.json_file": Route(get=(302, 200), scoped=True),
    "exports.markdown_file": Route(get=(302, 200), scoped=True),
    "pause.running": Route(get=(302, 200)),
    "pause.note": Route(get=(302, 200), post=(302, 400), scoped=True),  # GET: the log
    "pause.resumed": Route(get=(405, 405), post=(302, 400), scoped=True),
    "pause.log": Route(get=(302, 200), scoped=True),
    "pause.cooling_off": Route(get=(405, 405), post=(302, 400), scoped=True),
    "pause.agenda": Route(get=(302, 200), post=(302, 400), scoped=True),
    "pause.discussed": Route(get=(405, 405), post=(302, 400), scoped=True),
    "pause.service_worker": Route(get=(200, 200)),
    "pause.manifest": Route(get=(200, 200)),
    "reviews.index": Route(get=(302, 200), scoped=True),
    "reviews.start": Route(get=(302, 200), post=(302, 400), scoped=True),  # GET: the list
    "reviews.show": Route(get=(302, 200), scoped=True),
    "reviews.answer": Route(get=(405, 405), post=(302, 400), scoped=True),
    "reviews.park": Route(get=(405, 405), post=(302, 400), scoped=True),
    "reviews.confirm_retirement": Route(get=(405, 405), post=(302, 400), scoped=True),
    # A token nobody holds: 404 for everyone (the feed is tested below).
    "calendar.feed": Route(get=(404, 404)),
    "settings.calendar_feed": Route(get=(405, 405), post=(302, 400)),
    "settings.stop_calendar_feed": Route(get=(405, 405), post=(302, 400)),
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def test_every_route_is_listed(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ROUTES)


def _urls(app, ids):
    """Yield (endpoint, route, url) with every argument filled from ``ids``."""
    values = {"filename": "style.css", "token": "unknown", "kind": "general", "who": "you", **ids}
    for rule in app.url_map.iter_rules():
        args = {name: values[name] for name in rule.arguments}
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        if rule.endpoint == "join.show":
            url = ids["invitation_path"]  # a real, open invitation
        yield rule.endpoint, ROUTES[rule.endpoint], url


def _check_title(endpoint, response):
    """A page's title is one short line of text, never markup."""
    if response.mimetype != "text/html":
        return
    match = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S)
    assert match, endpoint
    assert "<" not in match.group(1) and "\n" not in match.group(1), (endpoint, match.group(1))


def _check_headers(endpoint, response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (endpoint, name)
    if endpoint != "static":
        assert response.headers["Cache-Control"] == "no-store", endpoint
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie, (endpoint, cookie)


@pytest.mark.parametrize("who", ["anonymous", "partner"])
def test_walk_every_route(world, who):
    client = world.app.test_client() if who == "anonymous" else world.client("sam")
    index = 0 if who == "anonymous" else 1
    seen = 0
    for endpoint, route, url in _urls(world.app, world.ids["sam"]):
        for method, expected in (("GET", route.get), ("POST", route.post)):
            if not expected:
                continue
            response = client.open(url, method=method, data={"name": "typed"})
            response.close()
            assert response.status_code == expected[index], (endpoint, method, who, url)
            _check_headers(endpoint, response)
            _check_title(endpoint, response)
            seen += 1
    assert seen >= len(ROUTES)
    if who == "partner":  # POSTs without a token changed nothing
        assert client.get(f"/ledgers/{world.ids['sam']['ledger_id']}").status_code == 200


def test_outsider_gets_404_for_every_object_of_another_ledger(world):
    """Casey holds the real ids of Sam & Alex's ledger: every one is a 404."""
    casey = world.client("casey")
    checked = 0
    for endpoint, route, url in _urls(world.app, world.ids["sam"]):
        if not route.scoped:
            continue
        for method, expected in (("GET", route.get), ("POST", route.post)):
            if not expected:
                continue
            accepts = expected[1] != 405
            for data in ({}, {"csrf_token": _token(casey)}):
                response = casey.open(url, method=method, data=data)
                assert response.status_code == (404 if accepts else 405), (endpoint, method)
                assert "Sam &amp; Alex" not in response.get_data(as_text=True)
                checked += 1
    assert checked >= 16
    with world.app.app_context():  # nothing changed in Sam & Alex's ledger
        assert (
            Membership.select()
            .where(
                (Membership.ledger == world.ids["sam"]["ledger_id"]) & Membership.left_at.is_null()
            )
            .count()
            == 3
        )


def test_outsider_cannot_switch_to_another_ledger(world):
    casey = world.client("casey")
    response = casey.post(
        "/ledgers/switch",
        data={"csrf_token": _token(casey), "ledger": world.ids["sam"]["ledger_id"]},
    )
    assert response.status_code == 404


def _snapshot(app):
    """Every row of every table (the clock-driven last_seen_at aside)."""
    with app.app_context():
        return {
            model.__name__: sorted(
                tuple(sorted((k, str(v)) for k, v in row.items() if k != "last_seen_at"))
                for row in model.select().dicts()
            )
            for model in MODELS
        }


def _old_forms(client, ids):
    """What a partner's open pages held: a CSRF token and the fields of the
    forms on them, the answer form's content hash among them."""
    page = client.get(ids["agreement_path"]).get_data(as_text=True)
    answer_form = HASH_RE.search(page)  # a partner who joined later is not asked
    return {
        "csrf_token": _token(client),
        "content_hash": answer_form.group(1) if answer_form else "",
        "decision": "accept",
        "note": "Typed while still a partner",
        "title": "Typed title",
        "text": "Typed text",
        "reason": "Typed reason",
        "action": "propose",
        "base": "2",
        "name": "Typed name",
        "time_zone": "UTC",
        "topic": "Typed topic",
        "hours": "12",
        "ledger": str(ids["ledger_id"]),
    }


@pytest.fixture
def former_partners(world):
    """Eli, removed, and Jo, who left, each holding the forms and CSRF token
    of pages they had open while partners in Sam & Alex's ledger."""
    ids = world.ids["sam"]
    jo = world.client("jo")
    assert join(jo, invite(world.client("sam"), ids["ledger_id"])[1]).status_code == 302
    held = {name: _old_forms(world.client(name), ids) for name in ("eli", "jo")}
    with world.app.app_context():
        eli = Membership.get_by_id(Removal.get_by_id(ids["removal_id"]).membership_id)
    url = f"/ledgers/{ids['ledger_id']}/partners/{eli.id}/remove"
    assert post_form(world.client("alex"), url, {}).status_code == 302  # the last yes
    assert post_form(jo, f"/ledgers/{ids['ledger_id']}/leave", {}).status_code == 302
    jo.get("/")  # the goodbye, which names the ledger, is read
    with world.app.app_context():
        ended = {
            m.user.display_name: m.ended_how
            for m in Ledger.get_by_id(ids["ledger_id"]).former_partners()
        }
    assert ended == {"Eli": "removed", "Jo": "left"}
    return held


@pytest.mark.parametrize("who", ["eli", "jo"])
def test_a_former_partner_gets_404_for_every_object_and_changes_nothing(
    world, former_partners, who
):
    """A partner who was removed (Eli) or left (Jo), holding old forms and old
    CSRF tokens: every route of the ledger is a 404, and no POST writes."""
    client, old = world.client(who), former_partners[who]
    before = _snapshot(world.app)
    checked = 0
    for endpoint, route, url in _urls(world.app, world.ids["sam"]):
        if not route.scoped:
            continue
        for method, expected in (("GET", route.get), ("POST", route.post)):
            if not expected:
                continue
            accepts = expected[1] != 405
            for data in ({}, old):
                response = client.open(url, method=method, data=data)
                assert response.status_code == (404 if accepts else 405), (endpoint, method)
                assert "Sam &amp; Alex" not in response.get_data(as_text=True), endpoint
                checked += 1
    switch = client.post("/ledgers/switch", data=old)  # the old header's switcher
    assert switch.status_code == 404
    assert checked >= 40
    assert _snapshot(world.app) == before


def _token(client):
    return csrf_token(client, "/ledgers/new")


@pytest.fixture
def world(world):
    """The two ledgers, each with a review under way: its id and its item's."""
    from ledger.db import utcnow
    from ledger.models import Agreement, Review, ReviewItem, StoredState

    with world.app.app_context():
        for ids in world.ids.values():
            agreement = Agreement.get_by_id(ids["agreement_id"])
            state = StoredState.get(StoredState.agreement == agreement.id)
            review = Review.create(ledger=ids["ledger_id"], started_at=utcnow(), scope="all")
            item = ReviewItem.create(
                review=review, agreement=agreement, revision=state.in_force_id, position=1
            )
            ids["review_id"], ids["item_id"] = review.id, item.id
    return world


def _feed(world, name):
    """A partner's calendar link, made on the account page: its path."""
    from .helpers import post_form

    client = world.client(name)
    assert post_form(client, "/account/calendar", {}, page="/account").status_code == 302
    page = client.get("/account").get_data(as_text=True)
    link = re.search(r'id="calendar-link"[^>]*value="([^"]+)"', page).group(1)
    return link.removeprefix("http://ledger.test")


def test_the_calendar_feed_is_the_one_response_kept_privately(world):
    """The exception to no-store, for the feed only: private, briefly, and no cookie."""
    path = _feed(world, "sam")
    response = world.app.test_client().get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, max-age=900"
    assert "Set-Cookie" not in response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    body = response.get_data(as_text=True)
    assert "Sam" not in body and "Alex" not in body and "check-in" not in body


@pytest.mark.parametrize("how", ["wrong", "revoked", "renewed", "too long"])
def test_a_wrong_or_revoked_feed_token_is_a_plain_404(world, how):
    from .helpers import post_form

    path = _feed(world, "sam")
    sam = world.client("sam")
    if how == "wrong":
        path = path[:-8] + "AAAA.ics"
    elif how == "revoked":
        assert post_form(sam, "/account/calendar/stop", {}, page="/account").status_code == 302
    elif how == "renewed":
        assert post_form(sam, "/account/calendar", {}, page="/account").status_code == 302
    else:
        path = "/calendar/" + "A" * 5000 + ".ics"
    response = world.app.test_client().get(path)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "Sam" not in body and "VCALENDAR" not in body and "review" not in body.lower()
