"""Reviews: cadences and due dates, the review itself, reaffirmations in the
hash chain, and the review history."""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from peewee import DatabaseError
from playhouse.test_utils import count_queries

from ledger import cadence, immutability
from ledger.chain import verify_all
from ledger.db import db, utcnow
from ledger.forms import CSRF_EXPLANATION
from ledger.models import (
    Agreement,
    CalendarFeed,
    Draft,
    Membership,
    PauseLog,
    Reaffirmation,
    Review,
    ReviewAnswer,
    ReviewItem,
    Revision,
    StoredState,
    User,
)

from .helpers import (
    PAUSE_SIGNAL,
    AuthActions,
    answer,
    create_ledger,
    csrf_token,
    invite,
    join,
    post_form,
    propose,
)

#: Queries for a review's page and for the reviews page, whatever their size.
QUERY_BUDGET = [9, 8]
#: A page with a form: the session's CSRF token serves every form.
ANY_FORM = "/ledgers/new"


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
    ],
)
def test_months_are_added_on_the_calendar_and_clamped(start, months, expected):
    assert cadence.add_months(start, months) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({}, date(2027, 4, 30)),  # written before cadences: quarterly
        ({"review_every": "monthly"}, date(2027, 2, 28)),
        ({"review_every": "twice_a_year"}, date(2027, 7, 31)),
        ({"review_every": "yearly"}, date(2028, 1, 31)),
        ({"review_every": "weeks", "review_weeks": 6}, date(2027, 3, 14)),
        ({"review_every": "weeks", "review_weeks": 0}, date(2027, 4, 30)),  # unusable: default
        ({"review_every": "nonsense"}, date(2027, 4, 30)),
        ({"trial_until": "2027-02-14"}, date(2027, 2, 14)),
        ({"trial_until": "2027-09-01"}, date(2027, 4, 30)),  # the cadence comes first
    ],
)
def test_the_next_review_follows_the_cadence(content, expected):
    since = datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert cadence.next_review(content, since, "Europe/Berlin") == expected


def test_the_date_is_the_ledgers_calendar_date():
    # 23:30 UTC on 30 November is already 1 December in Berlin.
    since = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert cadence.next_review({}, since, "Europe/Berlin") == date(2027, 3, 1)
    assert cadence.next_review({}, since, "America/New_York") == date(2027, 2, 28)


def test_a_settled_trial_no_longer_counts():
    since = datetime(2027, 2, 14, 9, tzinfo=UTC)
    content = {"trial_until": "2027-02-14", "review_every": "monthly"}
    assert cadence.next_review(content, since, "UTC", trial_open=True) == date(2027, 2, 14)
    assert cadence.next_review(content, since, "UTC", trial_open=False) == date(2027, 3, 14)


class Clock:
    """Time that tests move (``ledger.db.utcnow`` follows it), with Sam and
    Alex logged in again after each move, as a person coming back would."""

    def __init__(self, app, start):
        self.app, self.traveller = app, None
        self.move(start, login=False)
        self.sam, self.alex = app.test_client(), app.test_client()
        AuthActions(self.sam).register(time_zone="Europe/Berlin")
        AuthActions(self.alex).register(email="alex@example.org", name="Alex")
        self.ledger_id = create_ledger(self.sam, time_zone="Europe/Berlin")
        join(self.alex, invite(self.sam, self.ledger_id)[1])

    def move(self, moment, login=True):
        if self.traveller is not None:
            self.traveller.stop()
        self.traveller = time_machine.travel(moment)
        self.traveller.start()
        if login:
            for client, email in ((self.sam, "sam@example.org"), (self.alex, "alex@example.org")):
                if client.get("/login").status_code == 200:  # the session ended meanwhile
                    assert AuthActions(client).login(email=email).status_code == 302

    def stop(self):
        self.traveller.stop()


@pytest.fixture
def clock(app):
    clock = Clock(app, datetime(2027, 1, 31, 10, tzinfo=UTC))
    yield clock
    clock.stop()


def in_force(app, sam, alex, ledger_id, kind="general", **fields):
    """An agreement proposed by Sam and accepted by Alex: its page path."""
    path = propose(sam, ledger_id, kind, **fields)
    assert answer(alex, path, 1).status_code == 302
    return path


def stored(app, path):
    with app.app_context():
        return StoredState.get(StoredState.agreement == int(path.rsplit("/", 1)[1]))


def test_the_next_review_is_stored_when_it_comes_into_force(app, clock):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    quarterly = in_force(app, sam, alex, ledger_id)
    monthly = in_force(app, sam, alex, ledger_id, title="Monthly", review_every="monthly")
    trial = in_force(app, sam, alex, ledger_id, title="Trial", trial_until="2027-02-10")
    weeks = in_force(
        app, sam, alex, ledger_id, title="Weeks", review_every="weeks", review_weeks="3"
    )
    proposed = propose(sam, ledger_id, title="Not yet")
    assert stored(app, quarterly).next_review == date(2027, 4, 30)
    assert stored(app, monthly).next_review == date(2027, 2, 28)
    assert stored(app, trial).next_review == date(2027, 2, 10)
    assert stored(app, weeks).next_review == date(2027, 2, 21)
    assert stored(app, proposed).next_review is None
    with app.app_context():
        contents = [r.fields for r in Revision.select().order_by(Revision.id)]
        assert "review_every" not in contents[0]  # the default is not written
        assert contents[1]["review_every"] == "monthly"
        assert contents[2]["trial_until"] == "2027-02-10"
        assert contents[3]["review_weeks"] == 3
        assert verify_all()[2] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"review_every": "weeks"}, "Please say every how many weeks."),
        ({"review_every": "weeks", "review_weeks": "105"}, "between 1 and 104 weeks"),
        ({"review_every": "fortnightly"}, "Not a valid choice"),
        ({"trial_until": "2020-01-01"}, "a date that has not passed yet"),
        ({"trial_until": "2031-01-01"}, "within the next two years"),
        ({"trial_until": "31/02/2027"}, "Not a valid date value"),
    ],
)
def test_bad_cadences_are_refused_with_a_message(app, clock, fields, message):
    response = post_form(
        clock.sam,
        f"/ledgers/{clock.ledger_id}/agreements/new/general",
        {"title": "t", "text": "x", "action": "propose", **fields},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Agreement.select().count() == 0


def test_every_kind_offers_the_cadence_and_a_trial(couple):
    sam, _, ledger_id = couple
    for kind in ("topic", "pause_signal", "digital_boundary", "general"):
        page = sam.get(f"/ledgers/{ledger_id}/agreements/new/{kind}").get_data(as_text=True)
        assert 'name="review_every"' in page and 'name="trial_until"' in page, kind
        assert "Every three months" in page


def test_a_change_of_cadence_is_a_proposal_shown_in_the_diff(app, clock):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    path = in_force(app, sam, alex, ledger_id, "pause_signal", **PAUSE_SIGNAL)
    post_form(
        sam,
        f"{path}/change",
        {**PAUSE_SIGNAL, "review_every": "monthly", "base": "1", "action": "propose"},
    )
    assert stored(app, path).next_review == date(2027, 4, 30)  # pending: unchanged
    page = alex.get(path).get_data(as_text=True)
    assert "Every month" in page
    answer(alex, path, 2)
    assert stored(app, path).next_review == date(2027, 2, 28)
    diff = sam.get(f"{path}/diff?from=1&to=2").get_data(as_text=True)
    assert "Every month" in diff


# The review itself.

ITEM_RE = re.compile(r'action="(/ledgers/\d+/reviews/\d+/items/(\d+)/answer)"')


def item_forms(client, review_path):
    """{agreement title: answer URL} of the items this partner can answer now."""
    page = client.get(review_path).get_data(as_text=True)
    found = {}
    for section in page.split('<section class="review-item"')[1:]:
        title = re.search(r'<h2 id="item-\d+-title" dir="auto">([^<]*)</h2>', section).group(1)
        match = ITEM_RE.search(section)
        if match:
            found[html.unescape(title)] = match.group(1)
    return found


def answer_item(client, review_path, title, choice, note=""):
    """Answer about one agreement of a review, through its own form."""
    url = item_forms(client, review_path)[title]
    item_id = url.rsplit("/", 2)[-2]
    page = client.get(review_path).get_data(as_text=True)
    token = re.search(rf'name="item{item_id}-csrf_token" type="hidden" value="([^"]+)"', page)
    return client.post(
        url,
        data={
            f"item{item_id}-csrf_token": token.group(1),
            f"item{item_id}-choice": choice,
            f"item{item_id}-note": note,
        },
    )


def start_review(client, ledger_id, scope="due"):
    response = post_form(client, f"/ledgers/{ledger_id}/reviews", {"scope": scope}, page=ANY_FORM)
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


@pytest.fixture
def four(app, clock):
    """Four agreements in force since 31 January 2027 (quarterly), then the
    clock moved to 1 June 2027: all four are overdue."""
    paths = {
        title: in_force(app, clock.sam, clock.alex, clock.ledger_id, title=title)
        for title in ("Keep me", "Change me", "Retire me", "Undecided")
    }
    clock.move(datetime(2027, 6, 1, 8, tzinfo=UTC))
    return paths


def test_overdue_agreements_show_on_the_dashboard_and_in_the_navigation(app, clock, four):
    board = clock.sam.get(f"/ledgers/{clock.ledger_id}/agreements").get_data(as_text=True)
    assert "(4 due for review)" in board
    assert board.count("Overdue: its review was due 30 April.") == 4
    assert "Start a review" in board


def test_the_dashboard_lists_eight_due_and_says_how_many_more(app, clock):
    """However many are due, the dashboard lists the eight longest overdue and
    says how many more there are; the review gathers every one of them."""
    for n in range(10):
        in_force(app, clock.sam, clock.alex, clock.ledger_id, title=f"Due {n}")
    clock.move(datetime(2027, 6, 1, 8, tzinfo=UTC))
    board = clock.sam.get(f"/ledgers/{clock.ledger_id}/agreements").get_data(as_text=True)
    assert "(10 due for review)" in board
    assert board.count("Overdue: its review was due 30 April.") == 8
    assert "And 2 more due for review." in board
    review = start_review(clock.sam, clock.ledger_id)
    assert set(item_forms(clock.sam, review)) == {f"Due {n}" for n in range(10)}


def test_a_review_settles_each_agreement_by_its_answers(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    review = start_review(sam, ledger_id)
    assert set(item_forms(sam, review)) == set(four)
    assert start_review(alex, ledger_id) == review  # one review at a time: resumed
    for title, choice in (
        ("Keep me", "keep"),
        ("Change me", "change"),
        ("Retire me", "retire"),
        ("Undecided", "keep"),
    ):
        assert answer_item(sam, review, title, choice, note=f"Sam on {title}").status_code == 302
    # Alex sees none of Sam's answers or notes before answering.
    page = alex.get(review).get_data(as_text=True)
    assert "Sam on" not in page and "side-by-side" not in page
    for title, choice in (
        ("Keep me", "keep"),
        ("Change me", "keep"),
        ("Retire me", "retire"),
        ("Undecided", "retire"),
    ):
        assert answer_item(alex, review, title, choice).status_code == 302
    page = sam.get(review).get_data(as_text=True)
    assert "Sam on Keep me" in page and "This review is complete." in page
    with app.app_context():
        by_title = {Agreement.get_by_id(int(p.rsplit("/", 1)[1])).id: t for t, p in four.items()}
        outcomes = {by_title[i.agreement_id]: i.outcome for i in ReviewItem.select()}
        assert outcomes == {
            "Keep me": "reaffirmed",
            "Change me": "change",
            "Retire me": "retire",
            "Undecided": "undecided",
        }
        assert Reaffirmation.select().count() == 1
        # The change: a draft of the words in force, for Sam only.
        draft = Draft.get()
        assert draft.author.email_key == "sam@example.org"
        assert draft.fields["title"] == "Change me" and draft.reason == "Sam on Change me"
        checked, links, broken = verify_all()
        assert broken is None, str(broken)
    kept = stored(app, four["Keep me"])
    assert kept.next_review == date(2027, 9, 1)  # a quarter from the review, not from January
    assert stored(app, four["Change me"]).next_review == date(2027, 4, 30)  # still overdue
    assert stored(app, four["Retire me"]).label == "in force, change pending"


def test_retiring_together_takes_each_partners_one_tap(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    review = start_review(sam, ledger_id)
    answer_item(sam, review, "Retire me", "retire")
    answer_item(alex, review, "Retire me", "retire")  # Alex's answer makes the proposal
    page = sam.get(review).get_data(as_text=True)
    assert "I confirm: retire this agreement" in page
    assert "I confirm: retire this agreement" not in alex.get(review).get_data(as_text=True)
    url = re.search(r'action="([^"]+/confirm-retirement)"', page).group(1)
    content_hash = re.search(r'name="content_hash" type="hidden" value="([0-9a-f]{64})"', page)
    response = post_form(sam, url, {"content_hash": "0" * 64}, page=ANY_FORM)
    assert response.status_code == 409  # consent is to the exact revision
    response = post_form(sam, url, {"content_hash": content_hash.group(1)}, page=ANY_FORM)
    assert response.status_code == 302
    assert stored(app, four["Retire me"]).label == "retired"


def test_mixed_keep_and_retire_is_parked_on_the_agenda_in_one_tap(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    review = start_review(sam, ledger_id)
    answer_item(sam, review, "Undecided", "keep", note="It still helps me")
    answer_item(alex, review, "Undecided", "retire", note="We never use it")
    page = alex.get(review).get_data(as_text=True)
    assert "It still helps me" in page and "We never use it" in page
    url = re.search(r'action="([^"]+/park)"', page).group(1)
    assert post_form(alex, url, {}, page=ANY_FORM).status_code == 302
    assert post_form(sam, url, {}, page=ANY_FORM).status_code == 409  # parked already
    agenda = sam.get(f"/ledgers/{ledger_id}/agenda").get_data(as_text=True)
    assert "Undecided" in agenda and "keep it, or retire it?" in agenda
    assert stored(app, four["Undecided"]).label == "in force"  # nothing changed by itself


def test_a_pending_change_is_not_due_and_overtakes_a_review(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    review = start_review(sam, ledger_id)
    post_form(
        sam,
        f"{four['Keep me']}/change",
        {"title": "Keep me", "text": "Changed", "base": "1", "action": "propose"},
    )
    board = sam.get(f"/ledgers/{ledger_id}/agreements").get_data(as_text=True)
    assert "(3 due for review)" in board
    assert "Keep me" not in item_forms(alex, review)
    assert "A proposal came first: that proposal is its review" in alex.get(review).get_data(
        as_text=True
    )


def test_answers_wait_while_cooling_off_runs(app, clock, four):
    sam, ledger_id = clock.sam, clock.ledger_id
    review = start_review(sam, ledger_id)
    with app.app_context():
        PauseLog.create(ledger=ledger_id, user=User.get(), started_at=utcnow())
    response = answer_item(sam, review, "Keep me", "keep")
    assert response.status_code == 409
    assert "A pause was noted, so proposals and answers wait" in response.get_data(as_text=True)
    with app.app_context():
        assert ReviewAnswer.select().count() == 0


def test_a_partner_who_leaves_is_no_longer_waited_for(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    eli = app.test_client()
    AuthActions(eli).register(email="eli@example.org", name="Eli")
    join(eli, invite(sam, ledger_id)[1])
    review = start_review(sam, ledger_id, scope="all")
    answer_item(sam, review, "Keep me", "keep")
    answer_item(alex, review, "Keep me", "keep")
    with app.app_context():
        assert ReviewItem.select().where(ReviewItem.outcome.is_null(False)).count() == 0
        membership = Membership.get(
            Membership.user == User.get(User.email_key == "eli@example.org")
        )
        assert membership.end("left", utcnow())
        assert Reaffirmation.select().count() == 1
        assert verify_all()[2] is None


def test_bad_answers_change_nothing(app, clock, four):
    sam, ledger_id = clock.sam, clock.ledger_id
    review = start_review(sam, ledger_id)
    response = answer_item(sam, review, "Keep me", "maybe")
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert answer_item(sam, review, "Keep me", "keep").status_code == 302
    url = f"{review}/items/{ReviewItemId(app)}/answer"
    assert sam.post(url, data={}).status_code in (400, 404)
    with app.app_context():
        assert ReviewAnswer.select().count() == 1


def ReviewItemId(app):  # noqa: N802 - reads like the id it returns
    with app.app_context():
        return ReviewItem.select().order_by(ReviewItem.id).first().id


def test_nothing_due_starts_nothing(app, clock):
    in_force(app, clock.sam, clock.alex, clock.ledger_id)
    response = post_form(clock.sam, f"/ledgers/{clock.ledger_id}/reviews", {"scope": "due"})
    assert response.status_code == 302
    assert "Nothing is due for review now" in clock.sam.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert start_review(clock.sam, clock.ledger_id, scope="all").endswith("/reviews/1")


def test_a_pause_signals_review_counts_its_pauses(app, clock):
    path = in_force(app, clock.sam, clock.alex, clock.ledger_id, "pause_signal", **PAUSE_SIGNAL)
    agreement_id = int(path.rsplit("/", 1)[1])
    with app.app_context():
        sam = User.get(User.email_key == "sam@example.org")
        for day, back_after in ((2, 1), (9, 5), (16, None)):
            start = datetime(2027, 2, day, 20, tzinfo=UTC)
            PauseLog.create(
                ledger=clock.ledger_id,
                user=sam,
                agreement=agreement_id,
                started_at=start,
                resumed_at=start + timedelta(hours=back_after) if back_after else None,
            )
    clock.move(datetime(2027, 5, 2, 8, tzinfo=UTC))
    review = start_review(clock.sam, clock.ledger_id)
    page = clock.sam.get(review).get_data(as_text=True)
    assert "noted in the pause log\n            3 times, and you came back" in page
    assert "within the agreed time once" in page
    assert "Did the pause help us calm down" in page


def test_the_review_history_shows_answers_and_outcomes(app, clock, four):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    review = start_review(sam, ledger_id)
    answer_item(sam, review, "Keep me", "keep", note="Works for me")
    history = alex.get(f"/ledgers/{ledger_id}/reviews").get_data(as_text=True)
    assert "Works for me" not in history  # not everyone answered yet
    answer_item(alex, review, "Keep me", "keep")
    history = alex.get(f"/ledgers/{ledger_id}/reviews").get_data(as_text=True)
    assert "Works for me" in history and "Kept as it is: reaffirmed" in history
    page = alex.get(four["Keep me"]).get_data(as_text=True)
    assert "Its reviews" in page and "Works for me" in page
    assert "Next review: <strong>1 September 2027</strong>" in page
    printed = alex.get(f"/ledgers/{ledger_id}/print").get_data(as_text=True)
    assert "Next review: 1 September 2027" in printed
    history = alex.get(f"{four['Keep me']}/history").get_data(as_text=True)
    assert "1 June 2027: revision 1 was kept as it is, by" in history
    assert re.search(
        r'<span dir="auto">(Sam|Alex)</span> and <span dir="auto">(Sam|Alex)</span>', history
    )


@pytest.mark.parametrize("size", [2, 12])
def test_a_reviews_page_has_a_fixed_query_budget(app, clock, size):
    counts = []
    for n in range(size):
        in_force(app, clock.sam, clock.alex, clock.ledger_id, title=f"A{n}")
    review = start_review(clock.sam, clock.ledger_id, scope="all")
    for url in (review, f"/ledgers/{clock.ledger_id}/reviews"):
        with count_queries() as counter:
            assert clock.sam.get(url).status_code == 200
        counts.append(counter.count)
    assert counts == QUERY_BUDGET


def reaffirmed(app, clock, four):
    review = start_review(clock.sam, clock.ledger_id)
    answer_item(clock.sam, review, "Keep me", "keep")
    answer_item(clock.alex, review, "Keep me", "keep")
    with app.app_context():
        return Reaffirmation.get()


def test_a_reaffirmation_is_append_only(app, clock, four):
    row = reaffirmed(app, clock, four)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"), db.database.atomic():
            Reaffirmation.update(partners="[]").where(Reaffirmation.id == row.id).execute()
        with pytest.raises(DatabaseError, match="append-only"), db.database.atomic():
            Reaffirmation.delete().where(Reaffirmation.id == row.id).execute()


@pytest.mark.parametrize("tamper", ["who kept it", "when", "removed"])
def test_verify_catches_a_changed_or_removed_reaffirmation(app, clock, four, tamper):
    row = reaffirmed(app, clock, four)
    with app.app_context():
        assert verify_all()[2] is None
        immutability.remove(db.database)
        query = {
            "who kept it": Reaffirmation.update(partners='["nobody"]'),
            "when": Reaffirmation.update(created_at=row.created_at - timedelta(days=30)),
            "removed": Reaffirmation.delete(),
        }[tamper]
        query.where(Reaffirmation.id == row.id).execute()
        immutability.install(db.database)
        broken = verify_all()[2]
        assert broken is not None and "Broken chain" in str(broken)


def test_verify_catches_a_stored_review_date_that_differs_from_the_replay(app, clock, four):
    reaffirmed(app, clock, four)
    agreement_id = int(four["Keep me"].rsplit("/", 1)[1])
    with app.app_context():
        StoredState.update(next_review=date(2030, 1, 1)).where(
            StoredState.agreement == agreement_id
        ).execute()
        drift = verify_all()[2]
    assert "next_review: stored datetime.date(2030, 1, 1)" in str(drift)
    assert "the replay gives datetime.date(2027, 9, 1)" in str(drift)


#: The review routes' CSRF cases (tests/test_security.py lists them here):
#: (who posts, url from the review's ids, data, what the page must echo).
CSRF_ROUTES = {
    "reviews.start": ("sam", "/ledgers/{ledger}/reviews", {"scope": "all"}, "Past reviews"),
    "reviews.answer": (
        "sam",
        "{review}/items/{item}/answer",
        {"item{item}-choice": "keep", "item{item}-note": "Typed review note"},
        "Typed review note",
    ),
    "reviews.park": ("alex", "{review}/items/{item}/park", {}, "Undecided"),
    "reviews.confirm_retirement": (
        "sam",
        "{review}/items/{retiring}/confirm-retirement",
        {"content_hash": "{hash}"},
        "I confirm: retire this agreement",
    ),
    "settings.calendar_feed": ("sam", "/account/calendar", {}, "Make a new link"),
    "settings.stop_calendar_feed": ("sam", "/account/calendar/stop", {}, "Stop my calendar"),
}


def _rows(app):
    with app.app_context():
        return [
            model.select().count()
            for model in (Review, ReviewItem, ReviewAnswer, Reaffirmation, Revision, CalendarFeed)
        ]


@pytest.mark.parametrize("token", ["missing", "foreign"])
@pytest.mark.parametrize("endpoint", sorted(CSRF_ROUTES))
def test_review_routes_refuse_a_missing_or_foreign_csrf_token(app, clock, four, endpoint, token):
    sam, alex, ledger_id = clock.sam, clock.alex, clock.ledger_id
    assert post_form(sam, "/account/calendar", {}, page="/account").status_code == 302
    review = start_review(sam, ledger_id)
    answer_item(sam, review, "Undecided", "keep")
    answer_item(alex, review, "Undecided", "retire")
    answer_item(sam, review, "Retire me", "retire")
    answer_item(alex, review, "Retire me", "retire")
    with app.app_context():
        items = {i.agreement_id: i.id for i in ReviewItem.select().where(ReviewItem.review == 1)}
        ids = {title: items[int(path.rsplit("/", 1)[1])] for title, path in four.items()}
        retirement = Revision.select().where(Revision.action == "retire").get()
    values = {
        "ledger": ledger_id,
        "review": review,
        "item": ids["Keep me"],
        "retiring": ids["Retire me"],
        "hash": retirement.content_hash,
    }
    who, url, data, echoed = CSRF_ROUTES[endpoint]
    client = {"sam": sam, "alex": alex}[who]
    url = url.format(**values)
    data = {key.format(**values): value.format(**values) for key, value in data.items()}
    name = f"item{ids['Keep me']}-csrf_token" if endpoint == "reviews.answer" else "csrf_token"
    foreign = csrf_token(app.test_client(), "/login")
    before = _rows(app)
    response = client.post(url, data={name: "" if token == "missing" else foreign, **data})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert CSRF_EXPLANATION.replace("'", "&#39;") in text
    assert echoed in text
    assert _rows(app) == before


def test_a_reaffirmation_travels_in_the_export_and_comes_back(app, clock, four):
    """Kept in a review: the export carries the reaffirmation as a chain link,
    checks without the server, and imports back exactly."""
    import json

    from ledger import exportcheck, portable
    from ledger.models import Ledger

    row = reaffirmed(app, clock, four)
    with app.app_context():
        export = portable.export_ledger(Ledger.get_by_id(clock.ledger_id))
        kinds = [link["type"] for a in export["agreements"] for link in a["links"]]
        assert "reaffirmation" in kinds
        assert exportcheck.check(export)[0] == []
        Ledger.get_by_id(clock.ledger_id).delete_instance()
        portable.import_ledger(json.loads(portable.dumps(export)))
        again = portable.export_ledger(Ledger.get(Ledger.uuid == export["ledger"]["uuid"]))
        assert Reaffirmation.get(Reaffirmation.uuid == row.uuid).chain_hash == row.chain_hash
        checked, _, broken = verify_all()
        assert broken is None and checked == len(export["agreements"])
    export.pop("exported_at"), again.pop("exported_at")
    assert again == export
