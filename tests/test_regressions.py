"""Bugs found in review, each with the test that failed before its fix."""

import json
import re
import threading
from datetime import timedelta

import pytest

from ledger import ConfigurationError, create_app
from ledger.chain import verify_all
from ledger.db import utcnow
from ledger.models import (
    Agreement,
    Conflict,
    Consent,
    Draft,
    Invitation,
    Ledger,
    Membership,
    Removal,
    Revision,
    User,
)

from .helpers import (
    LINK_RE,
    AuthActions,
    answer,
    cookie_value,
    create_ledger,
    csrf_token,
    invite,
    join,
    person,
    post_form,
    propose,
)


def test_a_removed_partner_cannot_rejoin_with_a_link_they_made(app, couple):
    sam, alex, ledger_id = couple
    _, kept_link = invite(alex, ledger_id, note="kept in reserve")
    with app.app_context():
        alex_membership = Membership.get(Membership.user == User.by_email("alex@example.org"))
    post_form(sam, f"/ledgers/{ledger_id}/partners/{alex_membership.id}/remove", {})
    with app.app_context():  # carried out when its notice period ends
        assert Removal.carry_out_due(utcnow() + timedelta(days=7, seconds=1)) == 1
    assert alex.get(f"/ledgers/{ledger_id}").status_code == 404
    response = alex.get(kept_link)
    assert response.status_code == 410
    assert alex.post(kept_link).status_code == 410
    assert alex.get(f"/ledgers/{ledger_id}").status_code == 404


def test_a_partner_who_leaves_takes_their_open_links_with_them(app, couple):
    sam, alex, ledger_id = couple
    _, link = invite(alex, ledger_id, note="Alex's link")
    post_form(alex, f"/ledgers/{ledger_id}/leave", {})
    assert person(app, "eli").get(link).status_code == 410
    with app.app_context():
        assert Invitation.get(Invitation.note == "Alex's link").status(utcnow()) == "revoked"


def test_an_invitation_made_before_this_rule_still_needs_its_maker(app, couple):
    sam, alex, ledger_id = couple
    _, link = invite(alex, ledger_id)
    with app.app_context():  # as if Alex had left before invitations were withdrawn
        Membership.update(left_at=utcnow(), ended_how="left").where(
            Membership.user == User.by_email("alex@example.org")
        ).execute()
    eli = person(app, "eli")
    assert eli.post(link, data={}).status_code in (400, 410)
    assert join_with_token(eli, link).status_code == 410


def join_with_token(client, path):
    from .helpers import csrf_token

    return client.post(path, data={"csrf_token": csrf_token(client, "/account")})


@pytest.mark.parametrize("page", ["%C2%B2", "99999999999999999999999", "0", "-1", "abc", "9999"])
def test_history_pages_out_of_range_are_404_not_500(couple, page):
    sam, _, ledger_id = couple
    path = propose(sam, ledger_id)
    response = sam.get(f"{path}/history?page={page}")
    assert response.status_code in (200, 404)
    if page in ("99999999999999999999999", "0", "-1", "9999"):
        assert response.status_code == 404


@pytest.mark.parametrize("base", ["abc", "99999999999999999999999", "-3", "1.5"])
def test_a_strange_base_revision_is_refused_not_a_500(app, couple, base):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    for action in ("draft", "propose"):
        response = post_form(
            sam,
            f"{path}/change",
            {"title": "t", "text": "x", "base": base, "action": action},
        )
        assert response.status_code == 422, (action, response.status_code)
    with app.app_context():
        assert Draft.select().count() == 0
        assert Revision.select().count() == 1


def test_two_answers_at_once_are_not_both_recorded(app, couple):
    sam, alex, ledger_id = couple
    propose(sam, ledger_id)
    with app.app_context():
        agreement = Agreement.get()
        revision = Revision.get()
        alex_user = User.by_email("alex@example.org")
        # Both built from the same read of the page: the second one is checked
        # again under the lock, against the history as it is then.
        agreement.answer(alex_user, 1, "accept", "", revision.content_hash)
        with pytest.raises(Conflict):
            agreement.answer(alex_user, 1, "change", "no", revision.content_hash)
        assert Consent.select().where(Consent.user == alex_user).count() == 1


def test_a_draft_cannot_revive_a_retired_agreement(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    draft = post_form(
        sam, f"{path}/change", {"title": "Revived", "text": "x", "base": "1", "action": "draft"}
    ).headers["Location"]
    post_form(sam, f"{path}/retire", {"reason": "Done", "base": "1"})
    answer(alex, path, 2)
    response = post_form(
        sam, draft, {"title": "Revived", "text": "x", "base": "2", "action": "propose"}
    )
    assert response.headers["Location"] == draft
    with app.app_context():
        assert Revision.select().count() == 2
        assert Draft.select().count() == 1


def test_an_invitation_link_is_shown_once(couple):
    sam, _, ledger_id = couple
    response = post_form(
        sam, f"/ledgers/{ledger_id}/invitations", {"note": ""}, page=f"/ledgers/{ledger_id}"
    )
    first = sam.get(response.headers["Location"]).get_data(as_text=True)
    again = sam.get(response.headers["Location"]).get_data(as_text=True)
    assert "/join/" in first
    assert "/join/" not in again


def test_only_a_remembered_device_keeps_an_offline_copy(app, couple):
    sam, _, _ = couple
    assert sam.get("/pause").headers["Ledger-Offline-Copy"] == "no"
    phone = app.test_client()
    AuthActions(phone).login(remember=True)
    assert phone.get("/pause").headers["Ledger-Offline-Copy"] == "allowed"


@pytest.mark.parametrize("url", ["/login", "/"])
def test_a_signed_out_visit_clears_any_offline_copy(client, url):
    assert client.get(url).headers["Clear-Site-Data"] == '"cache", "storage"'


def test_two_pages_loading_at_once_do_not_void_each_others_tokens(app, couple):
    """The service worker refreshing /pause while the person opens it."""
    from .helpers import CSRF_RE, cookie_value

    sam, _, ledger_id = couple
    post_form(sam, "/logout", {})
    AuthActions(sam).login(remember=True)
    worker = app.test_client()  # the same cookies, as the worker sends them
    for name in ("ledger_session", "ledger_remember"):
        worker.set_cookie(name, cookie_value(sam, name))
    background = worker.get("/pause").get_data(as_text=True)
    shown = sam.get("/pause").get_data(as_text=True)
    assert CSRF_RE.search(background) and CSRF_RE.search(shown)
    token = CSRF_RE.search(background).group(1)
    response = sam.post(f"/ledgers/{ledger_id}/pauses", data={"csrf_token": token})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "value", ["99999999999999999999", "2147483648", "0", "-1", "abc", "1e3", "\u0663"]
)
def test_integers_in_a_query_string_are_bounded(couple, value):
    """?agreement=99999999999999999999 was a 500 (OverflowError): now a 404."""
    sam, _, ledger_id = couple
    path = propose(sam, ledger_id)
    for url in (
        f"/ledgers/{ledger_id}/agenda?agreement={value}",
        f"{path}/change?from={value}",
        f"{path}/diff?from={value}",
        f"{path}/diff?to={value}",
        f"{path}/history?page={value}",
    ):
        assert sam.get(url).status_code == 404, url


def test_a_query_string_integer_in_range_still_works(couple):
    sam, _, ledger_id = couple
    path = propose(sam, ledger_id)
    assert sam.get(f"{path}/history?page=1").status_code == 200
    assert sam.get(f"{path}/diff?from=1&to=1").status_code == 200
    assert sam.get(f"{path}/diff?from=&to=").status_code == 200


@pytest.mark.parametrize(
    ("number", "found"), [("2147483647", True), ("2147483648", False), ("9" * 18, False)]
)
def test_ids_in_paths_stop_where_the_database_does(app, number, found):
    from werkzeug.exceptions import NotFound

    urls = app.url_map.bind("ledger.test")
    for path in (f"/ledgers/{number}/agreements", f"/ledgers/1/agreements/{number}/history"):
        if found:
            assert urls.match(path)[1]["ledger_id"] in (1, int(number))
        else:
            with pytest.raises(NotFound):
                urls.match(path)


def _new_general(client, ledger_id, title, action):
    return post_form(
        client,
        f"/ledgers/{ledger_id}/agreements/new/general",
        {"title": title, "text": "Every Sunday.", "action": action},
    )


def test_a_partner_keeps_at_most_so_many_drafts_per_ledger(app, couple):
    sam, alex, ledger_id = couple
    app.config["MAX_DRAFTS_PER_PARTNER"] = 2
    for n in range(2):
        assert _new_general(sam, ledger_id, f"Draft {n}", "draft").status_code == 302
    response = _new_general(sam, ledger_id, "One too many", "draft")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "You keep 2 private drafts in this ledger" in page
    assert "One too many" in page  # what was typed is kept
    # A change to an agreement kept as a draft counts too.
    path = propose(sam, ledger_id)
    response = post_form(
        sam, f"{path}/change", {"title": "Changed", "text": "x", "base": "1", "action": "draft"}
    )
    assert response.status_code == 422
    assert "Changed" in response.get_data(as_text=True)
    # The limit is per partner: Alex still has room.
    assert _new_general(alex, ledger_id, "Alex's draft", "draft").status_code == 302
    with app.app_context():
        assert Draft.select().count() == 3


def test_a_ledger_holds_at_most_so_many_agreements_in_force_or_proposed(app, couple):
    sam, alex, ledger_id = couple
    app.config["MAX_AGREEMENTS_PER_LEDGER"] = 2
    first = propose(sam, ledger_id, title="First")
    answer(alex, first, 1)
    propose(alex, ledger_id, title="Second")
    response = _new_general(sam, ledger_id, "Third", "propose")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This ledger holds 2 agreements in force or proposed" in page
    assert "Third" in page
    # From a draft too: the draft stays.
    draft = _new_general(sam, ledger_id, "Third", "draft").headers["Location"]
    response = post_form(sam, draft, {"title": "Third", "text": "x", "action": "propose"})
    assert response.status_code == 422
    with app.app_context():
        assert Agreement.select().count() == 2
        assert Draft.select().count() == 1
        newest = Agreement.select(Agreement.id).order_by(Agreement.id.desc()).scalar()
    # A withdrawn proposal leaves room again.
    second = f"/ledgers/{ledger_id}/agreements/{newest}"
    assert post_form(alex, f"{second}/revisions/1/withdraw", {}, page=second).status_code == 302
    assert _new_general(sam, ledger_id, "Third", "propose").status_code == 302


def test_the_limits_live_in_the_configuration():
    from config import Config

    assert Config.MAX_DRAFTS_PER_PARTNER == 100
    assert Config.MAX_AGREEMENTS_PER_LEDGER == 1000


def test_one_form_sent_five_times_at_once_proposes_once(app, couple):
    """A double tap, a retry, five requests at once: one form, one agreement."""
    sam, _, ledger_id = couple
    url = f"/ledgers/{ledger_id}/agreements/new/general"
    page = sam.get(url).get_data(as_text=True)
    submission = re.search(r'name="submission" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": csrf_token(sam, url),
        "title": "Once",
        "text": "Only once.",
        "submission": submission,
        "action": "propose",
    }
    clients = [sam] + [app.test_client() for _ in range(4)]
    cookie = sam.get_cookie("ledger_session")
    for client in clients[1:]:
        client.set_cookie(cookie.key, cookie.value)
    answers = []

    def send(client):
        answers.append(client.post(url, data=data))

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in answers] == [302] * 5
    assert len({r.headers["Location"] for r in answers}) == 1  # all to the one agreement
    with app.app_context():
        assert Agreement.select().count() == 1
    # A fresh form is a new submission.
    page = sam.get(url).get_data(as_text=True)
    fresh = re.search(r'name="submission" type="hidden" value="([^"]+)"', page).group(1)
    assert fresh != submission
    assert post_form(sam, url, {**data, "submission": fresh}).status_code == 302
    with app.app_context():
        assert Agreement.select().count() == 2


def _three_partners(app):
    """Sam, Alex and Eli in one ledger: (ledger id, {name: membership}, {name: user})."""
    clients = {name: person(app, name) for name in ("sam", "alex", "eli")}
    ledger_id = create_ledger(clients["sam"])
    for name in ("alex", "eli"):
        join(clients[name], invite(clients["sam"], ledger_id)[1])
    with app.app_context():
        memberships = {
            m.user.display_name.lower(): m for m in Ledger.get_by_id(ledger_id).partners()
        }
    return ledger_id, memberships, {name: m.user for name, m in memberships.items()}


def test_two_partners_removing_each_other_at_once_do_not_both_go(app):
    """Eli asked to remove Sam and to remove Alex; each request waits for the
    other one's yes. Both say yes at the same moment: one of them goes, and
    the other, no longer a partner, removes nobody."""
    ledger_id, memberships, users = _three_partners(app)
    with app.app_context():
        for target in ("sam", "alex"):
            Removal.request(memberships[target], users["eli"], utcnow())
    barrier, results = threading.Barrier(2), {}

    def confirm(who, target):
        with app.app_context():
            barrier.wait()
            results[who] = Removal.request(memberships[target], users[who], utcnow())

    threads = [
        threading.Thread(target=confirm, args=pair) for pair in (("alex", "sam"), ("sam", "alex"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result is None for result in results.values()) == [False, True]
    with app.app_context():
        remaining = [m.user.display_name for m in Ledger.get_by_id(ledger_id).partners()]
        assert len(remaining) == 2 and "Eli" in remaining
        assert Removal.select().where(Removal.outcome == "removed").count() == 1
        assert verify_all()[2] is None


def test_in_a_couple_two_removals_of_each_other_leave_one_partner(app, couple):
    sam, alex, ledger_id = couple
    with app.app_context():
        ledger = Ledger.get_by_id(ledger_id)
        first, second = list(ledger.partners())
        Removal.request(second, first.user, utcnow())
        Removal.request(first, second.user, utcnow())
        assert Removal.carry_out_due(utcnow() + timedelta(days=7, seconds=1)) == 1
        assert len(list(ledger.partners())) == 1
        outcomes = sorted(r.outcome for r in Removal.select())
        assert outcomes == ["lapsed", "removed"]


def test_the_invitation_link_never_sits_in_the_session_cookie(app, couple):
    sam, _, ledger_id = couple
    response = post_form(
        sam, f"/ledgers/{ledger_id}/invitations", {"note": ""}, page=f"/ledgers/{ledger_id}"
    )
    older = cookie_value(sam, "ledger_session")
    page = sam.get(response.headers["Location"]).get_data(as_text=True)
    token = LINK_RE.search(page).group(1).rsplit("/", 1)[1]
    readable = app.session_interface.get_signing_serializer(app).loads(older)
    assert token not in json.dumps(readable)
    # Replaying the older cookie does not show the link again.
    sam.set_cookie("ledger_session", older)
    assert "/join/" not in sam.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert Invitation.get(Invitation.note == "").link_sealed is None


def test_logging_out_deletes_the_remember_cookie(app):
    sam = person(app, "sam")
    post_form(sam, "/logout", {})
    AuthActions(sam).login(email="sam@example.org", remember=True)
    assert cookie_value(sam, "ledger_remember")
    response = post_form(sam, "/logout", {})
    assert any(c.startswith("ledger_remember=;") for c in response.headers.getlist("Set-Cookie"))
    assert cookie_value(sam, "ledger_remember") is None


@pytest.mark.parametrize("key", ["too short", "x" * 31, "é" * 15])
def test_production_refuses_a_short_secret_key(database_url, key):
    production = {
        "ENV_NAME": "production",
        "BASE_URL": "https://ledger.example",
        "DATABASE_URL": database_url,
    }
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        create_app({**production, "SECRET_KEY": key})
    assert create_app({**production, "SECRET_KEY": "é" * 16}).config["SECRET_KEY"] == "é" * 16


def test_a_partner_who_leaves_loses_their_drafts_in_that_ledger_only(app, couple):
    sam, alex, ledger_id = couple
    elsewhere = create_ledger(alex, "Alex's other ledger")
    for client, ledger in ((alex, ledger_id), (alex, elsewhere), (sam, ledger_id)):
        response = post_form(
            client,
            f"/ledgers/{ledger}/agreements/new/general",
            {"title": "A private draft", "text": "Not yet.", "action": "draft"},
        )
        assert response.status_code == 302
    post_form(alex, f"/ledgers/{ledger_id}/leave", {})
    with app.app_context():
        kept = [(d.ledger_id, d.author.display_name) for d in Draft.select().order_by(Draft.id)]
    assert kept == [(elsewhere, "Alex"), (ledger_id, "Sam")]


def test_an_agreement_page_read_while_a_change_comes_into_force(app, couple, monkeypatch):
    """The revisions an agreement's page shows are read by the ids its stored
    state named when it was read: a change that came into force in between
    (the other partner's accept, committed between two reads) gave a 500."""
    from ledger.models.agreements import StoredState

    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, title="Sunday check-in", text="Half an hour.")
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {"title": "Sunday check-in", "text": "An hour.", "base": "1", "action": "propose"},
    )
    agreement_id = int(path.rsplit("/", 1)[1])
    read = StoredState.row.__func__

    def read_then_accept(cls, wanted):
        stored = read(cls, wanted)
        if wanted == agreement_id and stored.pending_id is not None:
            change = Revision.get_by_id(stored.pending_id)
            accepting = User.get(User.email_key == "alex@example.org")
            Agreement.get_by_id(agreement_id).answer(
                accepting, change.number, "accept", "", change.content_hash
            )
        return stored

    monkeypatch.setattr(StoredState, "row", classmethod(read_then_accept))
    page = sam.get(path)
    assert page.status_code == 200
    assert "Half an hour." in page.get_data(as_text=True)  # as it was when read
    monkeypatch.undo()
    assert "An hour." in sam.get(path).get_data(as_text=True)
    with app.app_context():
        assert StoredState.row(agreement_id).pending_id is None


def test_a_change_written_after_a_retirement_came_into_force_is_refused(app, couple):
    """A change read before a retirement came into force (the change page
    checks first, but the other partner may accept the retirement before the
    form is sent) was appended after the retirement: retiring adds no
    revision, so its base number still matched. The write refuses it under
    the lock now."""
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    post_form(sam, f"{path}/retire", {"reason": "Done", "base": "1"})
    answer(alex, path, 2)  # retired
    with app.app_context():
        with pytest.raises(Conflict) as refused:
            Agreement.get().append_revision(User.get(), "propose", {"title": "Late"}, "", 2)
        assert refused.value.reason == "retired"
        assert Revision.select().count() == 2
        assert verify_all()[2] is None


def test_retiring_carries_the_words_in_force_when_it_is_written(app, couple, monkeypatch):
    """The retire page read the words in force before it took the lock; a
    change accepted in between (no new revision, so the base still matched)
    left the retirement carrying the older words."""
    from ledger.agreements import proposals

    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="Half an hour.")
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {"title": "Our Sunday check-in", "text": "An hour.", "base": "1", "action": "propose"},
    )
    checked = proposals.cooling_message

    def accept_meanwhile(ledger):  # runs after the page read the state
        change = Revision.get(Revision.number == 2)
        accepting = User.get(User.email_key == "alex@example.org")
        Agreement.get().answer(accepting, 2, "accept", "", change.content_hash)
        return checked(ledger)

    token = csrf_token(sam, f"{path}/retire")
    monkeypatch.setattr(proposals, "cooling_message", accept_meanwhile)
    response = sam.post(f"{path}/retire", data={"csrf_token": token, "reason": "Done", "base": "2"})
    assert response.status_code == 302
    with app.app_context():
        retiring = Revision.get(Revision.number == 3)
        assert retiring.action == "retire"
        assert retiring.fields["text"] == "An hour."
        assert verify_all()[2] is None


def test_retiring_is_proposed_once(app, couple):
    """The retire page hid its button while a retirement was proposed, but
    took a second one sent by hand, which superseded the first."""
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    post_form(sam, f"{path}/retire", {"reason": "Done", "base": "1"})
    token = csrf_token(sam, path)
    response = sam.post(
        f"{path}/retire", data={"csrf_token": token, "reason": "Again", "base": "2"}
    )
    assert response.status_code == 404
    with app.app_context():
        assert Revision.select().count() == 2
        with pytest.raises(Conflict):
            Agreement.get().propose_retiring(User.get(), "Again", 2)
        assert Revision.select().count() == 2
