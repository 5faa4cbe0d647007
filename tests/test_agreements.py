"""Agreements set together: kinds, drafts, consent, history, conflicts."""

import pytest
from playhouse.test_utils import count_queries

from ledger.chain import verify_all
from ledger.db import utcnow
from ledger.models import Agreement, Consent, Draft, Revision, User
from ledger.models.agreements import content_hash

from .helpers import (
    HASH_RE,
    PAUSE_SIGNAL,
    answer,
    create_ledger,
    invite,
    join,
    person,
    post_form,
    propose,
)

HIDDEN = '<span class="visually-hidden">'


def removed(words):
    return f"<del>{HIDDEN}[removed: </span>{words}{HIDDEN}]</span></del>"


def added(words):
    return f"<ins>{HIDDEN}[added: </span>{words}{HIDDEN}]</span></ins>"


PAUSE = PAUSE_SIGNAL


def state_text(client, path):
    page = client.get(path).get_data(as_text=True)
    return page.split("This agreement is <strong>")[1].split("<")[0]


@pytest.mark.parametrize(
    ("kind", "fields", "title"),
    [
        ("topic", {"topic": "Money", "where": "session_only", "guidance": ""}, "Money"),
        ("pause_signal", PAUSE, "A T with both hands"),
        (
            "digital_boundary",
            {"area": "phones", "rule": "Face down.", "exceptions": ""},
            "Phones during conversations",
        ),
        (
            "digital_boundary",
            {"area": "other", "area_other": "Games", "rule": "Not at dinner."},
            "Games",
        ),
        ("general", {"title": "Sunday check-in", "text": "Every Sunday."}, "Sunday check-in"),
    ],
)
def test_each_kind_can_be_proposed(app, couple, kind, fields, title):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, kind, **fields)
    page = alex.get(path).get_data(as_text=True)
    assert f'<h1 dir="auto">{title}</h1>' in page
    assert "This agreement is <strong>proposed</strong>" in page
    with app.app_context():
        revision = Revision.get()
        assert revision.number == 1
        assert revision.content_hash == content_hash(revision.fields)


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("pause_signal", {**PAUSE, "minimum_minutes": "4"}, "between 5 and 240 minutes"),
        ("pause_signal", {**PAUSE, "minimum_minutes": "241"}, "between 5 and 240 minutes"),
        ("pause_signal", {**PAUSE, "way_back_hours": "25"}, "a pause that never ends"),
        (
            "pause_signal",
            {**PAUSE, "minimum_minutes": "180", "way_back_hours": "2"},
            "can&#39;t start before the minimum pause",
        ),
        ("pause_signal", {**PAUSE, "signal": ""}, "Please fill this in."),
        ("topic", {"topic": "Money", "where": "anywhere"}, "Not a valid choice"),
        ("digital_boundary", {"area": "other", "area_other": "", "rule": "x"}, "name the area"),
        ("general", {"title": "x" * 121, "text": "y"}, "121 characters long; please shorten"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(app, couple, kind, fields, message):
    sam, _, ledger_id = couple
    data = {"title": "", "text": "", **fields, "action": "propose"}
    response = post_form(sam, f"/ledgers/{ledger_id}/agreements/new/{kind}", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Agreement.select().count() == Revision.select().count() == 0


def test_starting_templates_prefill_the_form(couple):
    sam, _, ledger_id = couple
    choose = sam.get(f"/ledgers/{ledger_id}/agreements/new").get_data(as_text=True)
    assert "A time-out sign" in choose
    page = sam.get(f"/ledgers/{ledger_id}/agreements/new/pause_signal?starter=time_out")
    text = page.get_data(as_text=True)
    assert 'value="A T made with both hands"' in text
    assert 'value="20"' in text
    assert sam.get(f"/ledgers/{ledger_id}/agreements/new/unknown").status_code == 404


def test_drafts_are_private_editable_and_deletable(app, couple):
    sam, alex, ledger_id = couple
    response = post_form(
        sam,
        f"/ledgers/{ledger_id}/agreements/new/general",
        {"title": "Half-formed", "text": "Not ready", "action": "draft"},
    )
    path = response.headers["Location"]
    assert "Half-formed" in sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert alex.get(path).status_code == 404
    assert "Half-formed" not in alex.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    post_form(sam, path, {"title": "Better", "text": "Ready", "action": "draft"})
    with app.app_context():
        assert Draft.get().fields["title"] == "Better"
        assert Revision.select().count() == 0  # outside the history
    response = post_form(sam, f"{path}/delete", {}, page=path)
    assert response.headers["Location"] == f"/ledgers/{ledger_id}/agreements"
    with app.app_context():
        assert Draft.select().count() == 0


def test_proposing_a_draft_moves_it_into_the_history(app, couple):
    sam, alex, ledger_id = couple
    path = post_form(
        sam,
        f"/ledgers/{ledger_id}/agreements/new/general",
        {"title": "From a draft", "text": "x", "action": "draft"},
    ).headers["Location"]
    response = post_form(sam, path, {"title": "From a draft", "text": "x", "action": "propose"})
    assert "/agreements/" in response.headers["Location"]
    with app.app_context():
        assert Draft.select().count() == 0
        assert Revision.get().fields["title"] == "From a draft"


def test_proposing_a_draft_that_meets_a_conflict_keeps_the_draft(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    draft = post_form(
        sam, f"{path}/change", {"title": "Mine", "text": "x", "base": "1", "action": "draft"}
    ).headers["Location"]
    post_form(alex, f"{path}/change", {"title": "Alex's", "text": "y", "base": "1"})
    response = post_form(sam, draft, {"title": "Mine", "text": "x", "base": "1"})
    assert response.status_code == 409
    assert "Alex&#39;s" in response.get_data(as_text=True)
    with app.app_context():
        assert Revision.select().count() == 2
        assert Draft.select().count() == 1


def test_in_force_only_when_everyone_accepted_the_same_revision(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, "pause_signal", **PAUSE)
    # Alex asks for a change: a note is required, and it blocks.
    response = answer(alex, path, 1, decision="change")
    assert response.status_code == 422
    assert "Please say what you&#39;d like changed." in response.get_data(as_text=True)
    answer(alex, path, 1, decision="change", note="At least 30 minutes, please.")
    assert state_text(sam, path) == "proposed"
    assert 'asked for a change: “<span dir="auto">At least 30 minutes, please.</span>”' in sam.get(
        path
    ).get_data(as_text=True)
    # Sam revises; Alex accepts revision 2.
    response = post_form(
        sam,
        f"{path}/change",
        {
            **PAUSE,
            "minimum_minutes": "30",
            "base": "1",
            "action": "propose",
            "reason": "Alex asked for 30",
        },
    )
    assert response.headers["Location"] == path
    answer(alex, path, 2)
    page = sam.get(path).get_data(as_text=True)
    assert "This agreement is <strong>in force</strong>" in page
    assert "In force: revision 2" in page
    assert "accepted by Sam on" in page and ", by Alex on" in page
    with app.app_context():
        accepts = Consent.select().where(Consent.decision == "accept")
        revision = Revision.get(Revision.number == 2)
        assert {c.content_hash for c in accepts if c.revision_id == revision.id} == {
            revision.content_hash
        }


def test_a_concern_is_recorded_and_shown_but_does_not_block(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1, decision="concern", note="Sundays are busy for me.")
    page = sam.get(path).get_data(as_text=True)
    assert "This agreement is <strong>in force</strong>" in page
    assert "Alex's concern:</p>" in page
    assert '<p class="concern-note" dir="auto">Sundays are busy for me.</p>' in page


def test_change_pending_keeps_the_one_in_force(app, couple):
    """A proposed change waits for the other partner only, beside what is in
    force; the state stored with it (from the history read once under the
    lock, with what the proposal appended) is what the replay gives."""
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="Half an hour.")
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {"title": "Our Sunday check-in", "text": "A whole hour.", "base": "1", "action": "propose"},
    )
    page = alex.get(path).get_data(as_text=True)
    assert "This agreement is <strong>in force, change pending</strong>" in page
    assert "In force: revision 1" in page
    # A removed run comes right before what replaces it.
    assert removed("Half an") + added("A whole") + " hour." in page
    board = f"/ledgers/{ledger_id}/agreements"
    assert "Waiting for you (0)" in sam.get(board).get_data(as_text=True)
    assert "Waiting for you (1)" in alex.get(board).get_data(as_text=True)
    with app.app_context():
        assert verify_all()[2] is None


def test_withdraw_an_answer_only_until_everyone_answered(app):
    sam, alex, eli = (person(app, n) for n in ("sam", "alex", "eli"))
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    join(eli, invite(sam, ledger_id)[1])
    path = propose(sam, ledger_id)
    answer(alex, path, 1, decision="change", note="Not Sundays")
    response = post_form(alex, f"{path}/revisions/1/withdraw-answer", {}, page=path)
    assert response.headers["Location"] == path
    assert "Alex: not answered yet" in sam.get(path).get_data(as_text=True)
    with app.app_context():  # the state stored with the take-back is its replay
        assert verify_all()[2] is None
    answer(alex, path, 1, decision="change", note="Still not Sundays")
    answer(eli, path, 1)
    # Everyone has answered now: the answer stands.
    assert "Take back my answer" not in alex.get(path).get_data(as_text=True)
    response = post_form(
        alex, f"{path}/revisions/1/withdraw-answer", {}, page=f"/ledgers/{ledger_id}"
    )
    assert response.status_code == 409  # a visible conflict, never a quiet redirect
    assert "can&#39;t be taken back now" in response.get_data(as_text=True)
    assert "Still not Sundays" in sam.get(path).get_data(as_text=True)


def test_author_withdraws_a_proposal(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    assert post_form(alex, f"{path}/revisions/1/withdraw", {}, page=path).status_code == 409
    post_form(sam, f"{path}/revisions/1/withdraw", {}, page=path)
    assert state_text(alex, path) == "withdrawn"
    assert "Your answer to" not in alex.get(path).get_data(as_text=True)


def test_nobody_answers_for_another_or_for_themselves(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    # The author already said yes by proposing; there is no form for them.
    assert "Your answer to" not in sam.get(path).get_data(as_text=True)
    page = alex.get(path).get_data(as_text=True)
    token_hash = HASH_RE.search(page).group(1)
    response = post_form(
        sam,
        f"{path}/revisions/1/answer",
        {"decision": "accept", "content_hash": token_hash, "user_id": "2"},
        page=path,
    )
    assert response.status_code == 409
    assert state_text(sam, path) == "proposed"
    outsider = person(app, "casey")
    response = outsider.post(f"{path}/revisions/1/answer", data={"decision": "accept"})
    assert response.status_code == 404


def test_answer_must_be_for_what_was_read(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    post_form(
        alex,
        f"{path}/revisions/1/answer",
        {"decision": "accept", "content_hash": "0" * 64},
        page=path,
    )
    assert state_text(sam, path) == "proposed"


def test_nothing_comes_into_force_with_one_partner(app):
    sam = person(app, "sam")
    ledger_id = create_ledger(sam)
    path = propose(sam, ledger_id)
    assert state_text(sam, path) == "proposed"
    assert "at least two partners" in sam.get(path).get_data(as_text=True)
    # The partner who joins is asked, and their yes brings it into force.
    alex = person(app, "alex")
    join(alex, invite(sam, ledger_id)[1])
    answer(alex, path, 1)
    assert state_text(sam, path) == "in force"


def test_a_partner_who_joins_later_is_asked_to_accept(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    eli = person(app, "eli")
    join(eli, invite(sam, ledger_id)[1])
    page = eli.get(path).get_data(as_text=True)
    assert "This agreement is <strong>in force</strong>" in page
    assert 'Not yet accepted by <span dir="auto">Eli</span>.' in page
    assert "I&#39;d like a change" not in page  # a change is a new proposal
    assert "(1 waiting for you)" in page
    answer(eli, path, 1)
    page = eli.get(path).get_data(as_text=True)
    assert "Not yet accepted" not in page
    assert ", by Eli on" in page


def test_a_partner_who_leaves_is_no_longer_waited_for(app):
    sam, alex, eli = (person(app, n) for n in ("sam", "alex", "eli"))
    ledger_id = create_ledger(sam)
    join(alex, invite(sam, ledger_id)[1])
    join(eli, invite(sam, ledger_id)[1])
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    assert state_text(sam, path) == "proposed"
    post_form(eli, f"/ledgers/{ledger_id}/leave", {})
    assert state_text(sam, path) == "in force"


def test_retiring_needs_everyone(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1)
    response = post_form(sam, f"{path}/retire", {"reason": "We outgrew it", "base": "1"})
    assert response.headers["Location"] == path
    assert state_text(alex, path) == "in force, change pending"
    answer(alex, path, 2)
    assert state_text(sam, path) == "retired"
    board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "No agreement is in force yet" in board


def test_restore_an_old_revision_as_a_new_proposal(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="Version one.")
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {"title": "Our Sunday check-in", "text": "Version two.", "base": "1", "action": "propose"},
    )
    answer(alex, path, 2)
    page = sam.get(f"{path}/change?from=1").get_data(as_text=True)
    assert "Version one." in page
    assert "Restoring revision 1" in page
    post_form(
        sam,
        f"{path}/change?from=1",
        {
            "title": "Our Sunday check-in",
            "text": "Version one.",
            "base": "2",
            "reason": "Restoring revision 1",
            "action": "propose",
        },
    )
    with app.app_context():
        revisions = list(Revision.select().order_by(Revision.number))
        assert [r.number for r in revisions] == [1, 2, 3]
        assert revisions[2].content == revisions[0].content
        assert revisions[0].id == 1  # the old one is untouched


def test_concurrent_edit_is_a_visible_conflict(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="Half an hour.")
    answer(alex, path, 1)
    # Both open the change form from revision 1; Alex proposes first.
    post_form(
        alex,
        f"{path}/change",
        {"title": "Our Sunday check-in", "text": "Alex's words.", "base": "1", "action": "propose"},
    )
    response = post_form(
        sam,
        f"{path}/change",
        {
            "title": "Our Sunday check-in",
            "text": "Sam's own words.",
            "base": "1",
            "action": "propose",
        },
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone proposed a change first" in page
    assert "Alex&#39;s words." in page and "Sam&#39;s own words." in page
    assert 'name="base" type="hidden" value="2"' in page
    with app.app_context():
        assert Revision.select().count() == 2
    # Re-applying from the conflict page works.
    response = post_form(
        sam,
        f"{path}/change",
        {
            "title": "Our Sunday check-in",
            "text": "Sam's own words.",
            "base": "2",
            "action": "propose",
        },
        page=path,
    )
    assert response.status_code == 302
    with app.app_context():
        assert Revision.select().count() == 3


def test_two_submits_never_both_become_revision_n(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    agreement_id = int(path.rsplit("/", 1)[1])
    with app.app_context():
        agreement = Agreement.get_by_id(agreement_id)
        user = User.get(User.email_key == "alex@example.org")
        agreement.append_revision(user, "propose", {"title": "a", "text": "b"}, "", 1)
        from ledger.models import Conflict

        with pytest.raises(Conflict):
            agreement.append_revision(user, "propose", {"title": "c", "text": "d"}, "", 1)
        assert Revision.select().count() == 2


def test_history_and_diff(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="Half an hour, every Sunday.")
    for n in range(2, 14):
        post_form(
            sam,
            f"{path}/change",
            {
                "title": "Our Sunday check-in",
                "text": f"{n} quarters of an hour, every Sunday.",
                "base": str(n - 1),
                "action": "propose",
            },
        )
    page = alex.get(f"{path}/history").get_data(as_text=True)
    assert "<h2>Revision 13</h2>" in page and "<h2>Revision 4</h2>" in page
    assert "<h2>Revision 3</h2>" not in page
    assert "Page 1 of 2" in page and '<a href="?page=2">Older</a>' in page
    assert "Newer</a>" not in page
    older = alex.get(f"{path}/history?page=2").get_data(as_text=True)
    assert "<h2>Revision 1</h2>" in older
    assert '<a href="?page=1">Newer</a>' in older and "Older</a>" not in older
    diff = alex.get(f"{path}/diff?from=1&to=13").get_data(as_text=True)
    assert removed("Half") in diff and added("13 quarters of") in diff
    assert removed("an hour,") not in diff
    assert alex.get(f"{path}/diff?from=1&to=99").status_code == 404


def test_activity_lists_what_happened(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    answer(alex, path, 1, decision="concern", note="ok")
    page = alex.get(f"/ledgers/{ledger_id}/activity").get_data(as_text=True)
    assert "Sam proposed" in page
    assert "Alex accepted, with a concern," in page


def test_dashboard_groups_and_counts(app, couple):
    sam, alex, ledger_id = couple
    first = propose(sam, ledger_id, "pause_signal", **PAUSE)
    answer(alex, first, 1)
    propose(sam, ledger_id, "topic", topic="Money", where="home")
    board = alex.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "<h3>Pause signal (1)</h3>" in board
    assert "Waiting for you (1)" in board
    assert "(1 waiting for you)" in board  # in the navigation
    sam_board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "Waiting for you (0)" in sam_board
    assert "Waiting for others" in sam_board and "Waiting for Alex." in sam_board


def test_print_view_lists_what_is_in_force(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, "pause_signal", **PAUSE)
    answer(alex, path, 1)
    propose(sam, ledger_id, title="Not yet agreed")
    page = sam.get(f"/ledgers/{ledger_id}/print").get_data(as_text=True)
    assert "A T with both hands" in page
    assert "Not yet agreed" not in page
    assert "accepted by Sam on" in page
    assert '<nav aria-label="Main">' not in page


def _fill(app, ledger_id, count):
    """Add ``count`` agreements, each with a change pending."""
    with app.app_context():
        from ledger.models import Ledger

        ledger = Ledger.get_by_id(ledger_id)
        sam, alex = (User.get(User.email_key == f"{n}@example.org") for n in ("sam", "alex"))
        for n in range(count):
            revision = Agreement.propose_new(
                ledger, sam, "general", {"title": f"A{n}", "text": "x"}, ""
            )
            agreement = Agreement.get_by_id(revision.agreement_id)
            agreement.answer(alex, 1, "accept", "", revision.content_hash)
            agreement.append_revision(alex, "propose", {"title": f"A{n}", "text": "y"}, "", 1)
        return agreement.id


def test_dashboard_shows_the_first_of_each_kind_and_links_to_every_one(app, couple):
    """However many agreements are in force, the dashboard shows the first
    eight of each kind; the kind's own pages list them all, 25 a page."""
    sam, alex, ledger_id = couple
    with app.app_context():
        from ledger.models import Ledger

        ledger = Ledger.get_by_id(ledger_id)
        partners = [User.get(User.email_key == f"{n}@example.org") for n in ("sam", "alex")]
        for n in range(30):
            revision = Agreement.propose_new(
                ledger, partners[0], "general", {"title": f"Kept {n:02}", "text": "x"}, ""
            )
            agreement = Agreement.get_by_id(revision.agreement_id)
            agreement.answer(partners[1], 1, "accept", "", revision.content_hash)
    board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "<h3>General agreement (30)</h3>" in board
    in_force = board.split('id="in-force"')[1].split("</section>")[0]
    assert [n for n in range(30) if f"Kept {n:02}<" in in_force] == list(range(8))
    link = f"/ledgers/{ledger_id}/agreements/kind/general"
    assert f'href="{link}">All 30 in force' in board
    first = sam.get(link).get_data(as_text=True)
    assert [n for n in range(30) if f"Kept {n:02}<" in first] == list(range(25))
    assert "Page 1 of 2" in first and '<a href="?page=2">Later</a>' in first
    second = alex.get(f"{link}?page=2").get_data(as_text=True)
    assert [n for n in range(30) if f"Kept {n:02}<" in second] == list(range(25, 30))
    assert '<a href="?page=1">Earlier</a>' in second and "Later</a>" not in second
    assert alex.get(f"{link}?page=3").status_code == 404
    assert alex.get(f"/ledgers/{ledger_id}/agreements/kind/other").status_code == 404
    topics = sam.get(f"/ledgers/{ledger_id}/agreements/kind/topic").get_data(as_text=True)
    assert "No agreement of this kind is in force yet." in topics


def test_dashboard_shows_the_first_waiting_and_links_to_every_one(app, couple):
    """However many proposals wait, the dashboard shows the first eight
    waiting for me and for others, with their counts; the lists' own pages
    show them all, 25 a page."""
    sam, alex, ledger_id = couple
    for n in range(30):
        propose(alex, ledger_id, title=f"For Sam {n:02}")
    for n in range(10):
        propose(sam, ledger_id, title=f"For Alex {n:02}")
    board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    mine = board.split('id="waiting-me"')[1].split("</section>")[0]
    others = board.split('id="waiting-others"')[1].split("</section>")[0]
    assert "Waiting for you (30)" in mine
    assert [n for n in range(30) if f"For Sam {n:02}<" in mine] == list(range(8))
    assert mine.count("Proposed by Alex.") == 8
    assert "Waiting for others (10)" in others
    assert [n for n in range(10) if f"For Alex {n:02}<" in others] == list(range(8))
    assert "Waiting for Alex." in others
    base = f"/ledgers/{ledger_id}/agreements/waiting"
    assert f'href="{base}/you">All 30 waiting for you' in mine
    assert f'href="{base}/others">All 10 waiting for others' in others
    first = sam.get(f"{base}/you").get_data(as_text=True)
    assert [n for n in range(30) if f"For Sam {n:02}<" in first] == list(range(25))
    assert "Proposed by Alex." in first and "Page 1 of 2" in first
    assert "Waiting for you (30)" in first and '<a href="?page=2">Later</a>' in first
    second = sam.get(f"{base}/you?page=2").get_data(as_text=True)
    assert [n for n in range(30) if f"For Sam {n:02}<" in second] == list(range(25, 30))
    assert '<a href="?page=1">Earlier</a>' in second and "Page 2 of 2" in second
    assert sam.get(f"{base}/you?page=3").status_code == 404
    assert sam.get(f"{base}/someone").status_code == 404
    theirs = sam.get(f"{base}/others").get_data(as_text=True)
    assert [n for n in range(10) if f"For Alex {n:02}<" in theirs] == list(range(10))
    assert "For Sam" not in theirs
    assert "Page 1 of" not in theirs  # one page: no page links
    # Alex's lists are the other way round.
    assert "Waiting for you (10)" in alex.get(f"/ledgers/{ledger_id}/agreements").get_data(
        as_text=True
    )
    proposed = alex.get(f"{base}/others").get_data(as_text=True)
    assert [n for n in range(30) if f"For Sam {n:02}<" in proposed] == list(range(25))
    assert "For Alex" not in proposed and "Waiting for Sam." in proposed


@pytest.mark.parametrize(
    "page", ["dashboard", "kind", "waiting", "agreement", "history", "diff", "print"]
)
def test_pages_have_a_fixed_query_budget(app, couple, page):
    sam, _, ledger_id = couple
    counts = []
    for total in (3, 300):
        last = _fill(app, ledger_id, total - (3 if total == 300 else 0))
        url = {
            "dashboard": f"/ledgers/{ledger_id}/agreements",
            "kind": f"/ledgers/{ledger_id}/agreements/kind/general",
            "waiting": f"/ledgers/{ledger_id}/agreements/waiting/you",
            "agreement": f"/ledgers/{ledger_id}/agreements/{last}",
            "history": f"/ledgers/{ledger_id}/agreements/{last}/history",
            "diff": f"/ledgers/{ledger_id}/agreements/{last}/diff",
            "print": f"/ledgers/{ledger_id}/print",
        }[page]
        with count_queries() as counter:
            assert sam.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_query_budget_does_not_grow_with_revisions(app, couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    counts = []
    for extra in (2, 30):
        with app.app_context():
            agreement = Agreement.get_by_id(int(path.rsplit("/", 1)[1]))
            user = User.get(User.email_key == "sam@example.org")
            for _ in range(extra):
                base = Revision.select().where(Revision.agreement == agreement).count()
                agreement.append_revision(
                    user, "propose", {"title": "t", "text": str(base)}, "", base
                )
        with count_queries() as counter:
            for url in (path, f"{path}/history", f"{path}/diff"):
                assert sam.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "steps",
    [
        ["accept"],
        ["change"],
        ["accept", "propose change"],
        ["accept", "propose change", "take back"],
        ["accept", "retire", "accept retire"],
        ["withdraw"],
    ],
)
def test_the_stored_state_is_written_with_each_write_and_equals_the_replay(app, couple, steps):
    """The state is stored in the same transaction as each write, and is what
    the replay of the history gives (the one definition of what it means)."""
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    for step in steps:
        if step in ("accept", "change"):
            answer(alex, path, 1, decision=step, note="Not Sundays" if step == "change" else "")
        elif step == "propose change":
            post_form(
                sam, f"{path}/change", {"title": "t", "text": "x", "base": "1", "action": "propose"}
            )
        elif step == "take back":
            answer(alex, path, 2, decision="change", note="No")
            # Everyone has answered: taking it back is a visible conflict.
            page = f"/ledgers/{ledger_id}/agreements/new/general"
            response = post_form(alex, f"{path}/revisions/2/withdraw-answer", {}, page=page)
            assert response.status_code == 409
        elif step == "retire":
            post_form(sam, f"{path}/retire", {"reason": "done", "base": "1"})
        elif step == "accept retire":
            answer(alex, path, 2)
        elif step == "withdraw":
            post_form(sam, f"{path}/revisions/1/withdraw", {}, page=path)
    label = state_text(sam, path)
    with app.app_context():
        from ledger.models.agreements import Histories, StoredState, Waiting

        agreement = Agreement.get()
        histories = Histories(ledger_id, [agreement.id])
        replay, memberships = histories.states(utcnow())[agreement.id], histories.memberships
        stored = StoredState.get(StoredState.agreement == agreement.id)
        partners = [m.user_id for m in memberships if m.left_at is None]
        values, waiting = replay.stored(partners)
        assert stored.derived() == values
        assert sorted(w.user_id for w in Waiting.select()) == waiting
        assert stored.label == label


def test_a_change_request_makes_it_the_authors_turn(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, title="Sunday check-in")
    answer(alex, path, 1, decision="change", note="Saturdays suit me better")
    board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "Waiting for you (1)" in board
    assert "Alex asked for a change: “Saturdays suit me better”" in board
    assert "(1 waiting for you)" in board
    form = sam.get(f"{path}/change").get_data(as_text=True)
    assert "<h1>Propose a new version</h1>" in form
    assert "Alex asked for a change: “Saturdays suit me better”" in form
    assert "stays in force" not in form


def test_errors_are_named_at_the_top_of_the_form(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id)
    response = answer(alex, path, 1, decision="change")
    page = response.get_data(as_text=True)
    summary = page.split('class="notice error-summary"')[1].split("</div>")[0]
    assert '<a href="#note">Your note</a>' in summary
    response = post_form(
        sam, f"{path}/change", {"title": "t", "text": "x", "base": "-3", "action": "propose"}
    )
    assert "This form is out of date; please reload." in response.get_data(as_text=True)
