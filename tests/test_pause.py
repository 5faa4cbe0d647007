"""The pause page, noting a pause, cooling-off, discretion and the agenda."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playhouse.test_utils import count_queries

from ledger.models import AgendaItem, Draft, Ledger, PauseLog, Revision

from .helpers import (
    PAUSE_SIGNAL,
    AuthActions,
    answer,
    create_ledger,
    invite,
    join,
    post_form,
    propose,
)

PAUSE = PAUSE_SIGNAL


def agreed_signal(sam, alex, ledger_id, **fields):
    path = propose(sam, ledger_id, "pause_signal", **{**PAUSE, **fields})
    answer(alex, path, 1)
    return path


@pytest.mark.parametrize("url", ["/account", "/ledgers/{id}", "/ledgers/{id}/agreements"])
def test_every_signed_in_page_has_the_pause_button(couple, url):
    sam, _, ledger_id = couple
    page = sam.get(url.format(id=ledger_id)).get_data(as_text=True)
    assert '<a class="pause-button" href="/pause">Pause</a>' in page


def test_pause_page_shows_the_signals_in_force(couple):
    sam, alex, ledger_id = couple
    agreed_signal(sam, alex, ledger_id)
    propose(sam, ledger_id, "pause_signal", **{**PAUSE, "signal": "Only proposed"})
    page = alex.get("/pause").get_data(as_text=True)
    assert '<h2 class="signal-name" id="signal-1" dir="auto">A T with both hands</h2>' in page
    assert "I&#39;m flooded and need to stop." in page
    assert "Separate rooms, slow breathing." in page
    assert "At least <strong>20 minutes</strong>" in page
    assert (
        '<span dir="auto">The one who called it</span> reaches out within 2 hours '
        "of the pause beginning." in page
    )
    assert 'data-minimum="20"' in page and 'data-return-hours="2"' in page
    assert "Only proposed" not in page
    assert '<nav aria-label="Main">' not in page  # the quietest page
    assert re.search(r"As of \d+ \w+ \d{4}, \d\d:\d\d\.", page)


def test_pause_page_without_signals_is_gentle(couple):
    sam, _, _ = couple
    page = sam.get("/pause").get_data(as_text=True)
    assert "There is no pause signal in force yet" in page
    assert "starter=time_out" in page


def test_pause_page_without_a_ledger(user_client):
    page = user_client.get("/pause").get_data(as_text=True)
    assert "Take a breath" in page


def test_pause_page_needs_sign_in(client):
    assert client.get("/pause").headers["Location"] == "/login?next=/pause"


@pytest.mark.parametrize("signals", [1, 4])
def test_pause_page_runs_at_most_four_queries_for_every_ledger(app, couple, signals):
    sam, alex, ledger_id = couple
    other = create_ledger(sam, "Another ledger")  # switches Sam's device to it
    join(alex, invite(sam, other)[1])
    for n in range(signals):
        for ledger in (ledger_id, other):
            path = agreed_signal(sam, alex, ledger, signal=f"Signal {ledger}.{n}")
            post_form(
                sam,
                f"{path}/change",
                {**PAUSE, "signal": f"Signal {n}b", "base": "1", "action": "propose"},
            )
    post_form(sam, f"/ledgers/{other}/pauses", {}, page="/pause")  # a pause runs there
    post_form(sam, "/ledgers/switch", {"ledger": str(ledger_id)}, page=f"/ledgers/{ledger_id}")
    with count_queries() as counter:
        page = sam.get("/pause")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('class="signal"') == 2 * signals
    assert "Sam</span> noted a pause" in page.get_data(as_text=True)
    # The device's user, the ledgers with their partners, the pause signals'
    # histories, the noted pauses: whatever the number of ledgers and signals.
    assert counter.count <= 4, [q.msg[0][:80] for q in counter.get_queries()]


def test_pause_page_shows_every_ledgers_signals_the_current_one_first(couple):
    sam, alex, ledger_id = couple
    other = create_ledger(sam, "Bea & Sam")
    join(alex, invite(sam, other)[1])
    agreed_signal(sam, alex, other, signal="Time out, Bea")
    # The current ledger ("Sam & Alex") has no signal yet; the other one has.
    post_form(sam, "/ledgers/switch", {"ledger": str(ledger_id)}, page=f"/ledgers/{ledger_id}")
    page = sam.get("/pause").get_data(as_text=True)
    first, second = (
        page.index('<h2 class="ledger-name" dir="auto">Sam &amp; Alex</h2>'),
        page.index('<h2 class="ledger-name" dir="auto">Bea &amp; Sam</h2>'),
    )
    assert first < page.index("There is no pause signal in force in") < second
    assert second < page.index('<h3 class="signal-name"') < page.index("Time out, Bea")
    # Switched to the other ledger, it comes first.
    post_form(sam, "/ledgers/switch", {"ledger": str(other)}, page=f"/ledgers/{other}")
    page = sam.get("/pause").get_data(as_text=True)
    assert page.index("Bea &amp; Sam</h2>") < page.index("Sam &amp; Alex</h2>")


def test_pause_page_weighs_under_30_kb_with_its_css_and_js(couple):
    sam, alex, ledger_id = couple
    agreed_signal(sam, alex, ledger_id)
    page = sam.get("/pause")
    html = page.get_data(as_text=True)
    total = len(page.get_data())
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html)
    assert sorted(assets) == ["/static/pause.js", "/static/style.css"]
    for asset in assets:
        response = sam.get(asset)
        total += len(response.get_data())
        response.close()
    assert total < 30 * 1024, total
    assert not re.search(r'(?:href|src)="https?://', html)


def test_noting_a_pause_is_optional_and_recorded(app, couple):
    sam, alex, ledger_id = couple
    started = datetime.now(UTC) - timedelta(minutes=3)
    response = post_form(
        sam,
        f"/ledgers/{ledger_id}/pauses",
        {"started_ms": str(int(started.timestamp() * 1000))},
        page="/pause",
    )
    assert response.headers["Location"] == "/pause"
    with app.app_context():
        pause = PauseLog.get()
        assert abs((pause.started_at - started).total_seconds()) < 1
        assert pause.resumed_at is None
    log = alex.get(f"/ledgers/{ledger_id}/pauses").get_data(as_text=True)
    assert "Sam noted a pause" in log
    post_form(
        alex,
        f"/ledgers/{ledger_id}/pauses/{pause.id}/resumed",
        {},
        page=f"/ledgers/{ledger_id}/pauses",
    )
    with app.app_context():
        assert PauseLog.get().resumed_at is not None


@pytest.mark.parametrize("started_ms", ["0", "99999999999999999", "-5", "soon"])
def test_a_strange_start_time_changes_nothing(app, couple, started_ms):
    sam, _, ledger_id = couple
    response = post_form(
        sam, f"/ledgers/{ledger_id}/pauses", {"started_ms": started_ms}, page="/pause"
    )
    assert response.status_code == 422
    assert "The pause itself goes on." in response.get_data(as_text=True)
    with app.app_context():
        assert PauseLog.select().count() == 0


def test_cooling_off_keeps_proposals_as_drafts_and_holds_answers(app, couple):
    sam, alex, ledger_id = couple
    pending = propose(sam, ledger_id, title="Proposed before the pause")
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        post_form(sam, f"/ledgers/{ledger_id}/pauses", {}, page="/pause")
        # Proposing waits; what was typed is kept as a draft.
        response = post_form(
            alex,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "Typed while flooded", "text": "Keep this", "action": "propose"},
        )
        assert "/drafts/" in response.headers["Location"]
        page = alex.get(response.headers["Location"]).get_data(as_text=True)
        assert "agreements made while flooded rarely hold" in page
        with app.app_context():
            assert Draft.get().fields["title"] == "Typed while flooded"
            assert Revision.select().count() == 1
        # Answering waits too, and the note stays in the form.
        response = answer(alex, pending, 1, decision="change", note="My typed note")
        assert response.status_code == 409
        text = response.get_data(as_text=True)
        assert "agreements made while flooded rarely hold" in text
        assert "My typed note" in text
        # Twelve hours later, it can go on.
        traveller.shift(timedelta(hours=12, minutes=1))
        assert answer(alex, pending, 1).status_code == 302
        assert "This agreement is <strong>in force</strong>" in sam.get(pending).get_data(
            as_text=True
        )


def test_turning_cooling_off_off_needs_everyone_on_needs_one(app, couple):
    sam, alex, ledger_id = couple
    url, page = f"/ledgers/{ledger_id}/cooling-off", f"/ledgers/{ledger_id}/pauses"
    post_form(sam, url, {"action": "off", "hours": "12"}, page=page)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off is True  # Alex has not agreed
    post_form(alex, url, {"action": "off", "hours": "12"}, page=page)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off is False
    post_form(alex, url, {"action": "on", "hours": "6"}, page=page)
    with app.app_context():
        ledger = Ledger.get_by_id(ledger_id)
        assert (ledger.cooling_off, ledger.cooling_off_hours) == (True, 6)


def test_cooling_off_hours_are_bounded(app, couple):
    sam, alex, ledger_id = couple
    for client in (sam, alex):
        post_form(
            client,
            f"/ledgers/{ledger_id}/cooling-off",
            {"action": "off", "hours": "12"},
            page=f"/ledgers/{ledger_id}/pauses",
        )
    response = post_form(
        sam,
        f"/ledgers/{ledger_id}/cooling-off",
        {"action": "on", "hours": "99"},
        page=f"/ledgers/{ledger_id}/pauses",
    )
    assert response.status_code == 422
    assert "between 1 and 72 hours" in response.get_data(as_text=True)


def test_discretion_gives_a_neutral_name_and_icon(app, couple):
    sam, _, _ = couple
    post_form(
        sam,
        "/account/profile",
        {"email": "sam@example.org", "display_name": "Sam", "time_zone": "UTC", "discreet": "y"},
        page="/account",
    )
    page = sam.get("/account").get_data(as_text=True)
    assert "<title>Notes</title>" in page
    assert "icon-neutral.svg" in page
    assert "<title>Notes</title>" in sam.get("/pause").get_data(as_text=True)
    manifest = sam.get("/manifest.webmanifest").get_json()
    assert manifest["name"] == manifest["short_name"] == "Notes"
    assert all("icon-neutral" in icon["src"] for icon in manifest["icons"])
    assert "A home-screen icon keeps the name it was installed with" in page


def test_manifest_and_service_worker(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["Content-Type"] == "application/manifest+json"
    data = manifest.get_json()
    assert data["start_url"] == "/pause"
    assert data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200
        response.close()
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Cache-Control"] == "no-store"  # always the newest worker
    source = worker.get_data(as_text=True)
    worker.close()
    assert 'var PAUSE = "/pause";' in source
    assert "TIMEOUT = 1500" in source


def test_logging_out_everywhere_clears_this_devices_offline_copy(app, couple):
    sam, _, _ = couple
    other = app.test_client()
    AuthActions(other).login()
    post_form(other, "/account/sign-out-everywhere", {}, page="/account")
    response = sam.get("/pause")
    assert response.headers["Location"].startswith("/login")
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


def test_park_a_topic_and_mark_it_discussed(app, couple):
    sam, alex, ledger_id = couple
    response = post_form(
        sam,
        f"/ledgers/{ledger_id}/agenda?back=pause",
        {"topic": "Money, again", "note": "Bring the spreadsheet"},
        page="/pause",
    )
    assert response.headers["Location"] == "/pause"
    agenda = alex.get(f"/ledgers/{ledger_id}/agenda").get_data(as_text=True)
    assert "Money, again" in agenda and "Bring the spreadsheet" in agenda
    with app.app_context():
        item = AgendaItem.get()
    post_form(
        alex,
        f"/ledgers/{ledger_id}/agenda/{item.id}/discussed",
        {},
        page=f"/ledgers/{ledger_id}/agenda",
    )
    agenda = alex.get(f"/ledgers/{ledger_id}/agenda").get_data(as_text=True)
    assert '<span dir="auto">Money, again</span>: discussed' in agenda
    with app.app_context():
        assert AgendaItem.select().count() == 1  # kept in the history


def test_park_from_a_session_only_topic(couple):
    sam, alex, ledger_id = couple
    path = propose(
        sam,
        ledger_id,
        "topic",
        topic="The affair",
        where="session_only",
        guidance="Only with our therapist.",
    )
    page = alex.get(path).get_data(as_text=True)
    assert "Park it for our next session" in page
    agreement_id = path.rsplit("/", 1)[1]
    assert f"/ledgers/{ledger_id}/agenda?agreement={agreement_id}" in page
    assert "The+affair" not in page and "topic=" not in page  # words never go in a URL
    form = alex.get(f"/ledgers/{ledger_id}/agenda?agreement={agreement_id}").get_data(as_text=True)
    assert 'value="The affair"' in form


def test_agenda_refuses_an_empty_topic(app, couple):
    sam, _, ledger_id = couple
    response = post_form(sam, f"/ledgers/{ledger_id}/agenda", {"topic": "", "note": "x"})
    assert response.status_code == 422
    with app.app_context():
        assert AgendaItem.select().count() == 0


def signal_id(path):
    return path.rsplit("/", 1)[1]


def test_a_noted_pause_shows_on_both_phones_and_is_noted_once(app, couple):
    sam, alex, ledger_id = couple
    path = agreed_signal(sam, alex, ledger_id)
    started = datetime.now(UTC).replace(second=0, microsecond=0)

    def berlin(delta):  # as the users' zone shows it
        return (started + delta).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")

    with time_machine.travel(started + timedelta(minutes=1), tick=False) as traveller:
        response = post_form(
            sam,
            f"/ledgers/{ledger_id}/pauses",
            {"started_ms": str(int(started.timestamp() * 1000)), "signal": signal_id(path)},
            page="/pause",
        )
        assert response.headers["Location"] == "/pause"
        with app.app_context():
            pause = PauseLog.get()
            assert pause.agreement_id == int(signal_id(path))
        page = alex.get("/pause").get_data(as_text=True)
        assert (
            '<span dir="auto">Sam</span> noted a pause (<span dir="auto">A T with both hands'
            f"</span>) at {berlin(timedelta())}. It ends at {berlin(timedelta(minutes=20))} at "
            "the earliest, and we come back to the conversation by "
            f"{berlin(timedelta(hours=2))} at the latest." in page
        )
        assert f'data-pause="{pause.id}"' in page
        assert '<form class="note-form" method="post" action="/ledgers/1/pauses" hidden>' in page
        running = alex.get("/pause/running")
        assert running.headers["Cache-Control"] == "no-store"
        ms = int(started.timestamp() * 1000)
        assert running.get_json() == {
            "pauses": [
                {
                    "id": pause.id,
                    "ledger": ledger_id,
                    "by": "Sam",
                    "signal": "A T with both hands",
                    "agreement": int(signal_id(path)),
                    "started_ms": ms,
                    "ends_ms": ms + 20 * 60_000,
                    "back_ms": ms + 2 * 3600_000,
                }
            ]
        }
        # Alex reaches for the phone too: the pause is noted once, and
        # cooling-off does not move.
        response = post_form(
            alex, f"/ledgers/{ledger_id}/pauses", {"signal": signal_id(path)}, page="/pause"
        )
        assert response.status_code == 302
        assert "Sam already noted this pause" in alex.get("/pause").get_data(as_text=True)
        with app.app_context():
            assert PauseLog.select().count() == 1
        # At the agreed way-back time it is no longer running, on either page.
        traveller.move_to(started + timedelta(hours=2))
        assert alex.get("/pause/running").get_json() == {"pauses": []}
        assert "noted a pause (" not in sam.get("/pause").get_data(as_text=True)


def test_a_running_pause_is_shown_only_to_the_ledgers_partners(app, couple):
    sam, alex, ledger_id = couple
    path = agreed_signal(sam, alex, ledger_id)
    post_form(sam, f"/ledgers/{ledger_id}/pauses", {"signal": signal_id(path)}, page="/pause")
    casey = AuthActions(app.test_client())
    casey.register(email="casey@example.org", name="Casey")
    create_ledger(casey.client, "Casey & Dee")
    assert casey.client.get("/pause/running").get_json() == {"pauses": []}
    assert "noted a pause" not in casey.client.get("/pause").get_data(as_text=True)
    assert len(alex.get("/pause/running").get_json()["pauses"]) == 1


def test_coming_back_from_the_pause_page_ends_the_noted_pause(app, couple):
    sam, alex, ledger_id = couple
    path = agreed_signal(sam, alex, ledger_id)
    post_form(sam, f"/ledgers/{ledger_id}/pauses", {"signal": signal_id(path)}, page="/pause")
    with app.app_context():
        pause = PauseLog.get()
    response = post_form(
        alex, f"/ledgers/{ledger_id}/pauses/{pause.id}/resumed?back=pause", {}, page="/pause"
    )
    assert response.headers["Location"] == "/pause"
    assert sam.get("/pause/running").get_json() == {"pauses": []}
    # A new pause can be noted again.
    post_form(alex, f"/ledgers/{ledger_id}/pauses", {"signal": signal_id(path)}, page="/pause")
    with app.app_context():
        assert PauseLog.select().count() == 2


@pytest.mark.parametrize("signal", ["99999", "0", "x"])
def test_a_pause_noted_with_a_strange_signal_changes_nothing(app, couple, signal):
    sam, alex, ledger_id = couple
    agreed_signal(sam, alex, ledger_id)
    response = post_form(sam, f"/ledgers/{ledger_id}/pauses", {"signal": signal}, page="/pause")
    assert response.status_code in (404, 422)
    with app.app_context():
        assert PauseLog.select().count() == 0


def test_a_signal_of_another_kind_or_not_in_force_is_not_a_pause_signal(app, couple):
    sam, alex, ledger_id = couple
    general = propose(sam, ledger_id, title="Not a signal")
    answer(alex, general, 1)
    proposed = propose(sam, ledger_id, "pause_signal", **PAUSE)
    for path in (general, proposed):
        response = post_form(
            sam, f"/ledgers/{ledger_id}/pauses", {"signal": signal_id(path)}, page="/pause"
        )
        assert response.status_code == 404
    with app.app_context():
        assert PauseLog.select().count() == 0


def test_an_empty_park_it_stays_on_the_pause_page(app, couple):
    sam, alex, ledger_id = couple
    agreed_signal(sam, alex, ledger_id)
    response = post_form(
        sam, f"/ledgers/{ledger_id}/agenda?back=pause", {"topic": "", "note": ""}, page="/pause"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<title>Pause · Ledger</title>" in page
    assert "Please write the topic to park." in page
    assert "A T with both hands" in page
    with app.app_context():
        assert AgendaItem.select().count() == 0


COOLING = "/ledgers/{id}/cooling-off"


def cooling(client, ledger_id, action, hours=12):
    return post_form(
        client,
        COOLING.format(id=ledger_id),
        {"action": action, "hours": str(hours)},
        page=f"/ledgers/{ledger_id}/pauses",
    )


def test_ending_this_cooling_off_needs_everyone_and_keeps_it_on(app, couple):
    sam, alex, ledger_id = couple
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        post_form(sam, f"/ledgers/{ledger_id}/pauses", {}, page="/pause")
        page = sam.get(f"/ledgers/{ledger_id}/pauses").get_data(as_text=True)
        assert "I agree to end this cooling-off now" in page
        assert "I agree to turn cooling-off off" in page
        cooling(sam, ledger_id, "end")
        response = propose_draft = post_form(
            alex,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "Still flooded", "text": "x", "action": "propose"},
        )
        assert "/drafts/" in propose_draft.headers["Location"]  # Alex has not agreed yet
        assert "Waiting for" in alex.get(f"/ledgers/{ledger_id}/pauses").get_data(as_text=True)
        cooling(alex, ledger_id, "end")
        response = post_form(
            alex,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "Calm now", "text": "x", "action": "propose"},
        )
        assert "/agreements/" in response.headers["Location"]
        with app.app_context():
            ledger = Ledger.get_by_id(ledger_id)
            assert ledger.cooling_off is True and ledger.cooling_off_hours == 12
        # The next noted pause starts a new cooling-off.
        traveller.shift(timedelta(hours=3))
        post_form(alex, f"/ledgers/{ledger_id}/pauses", {}, page="/pause")
        response = post_form(
            sam,
            f"/ledgers/{ledger_id}/agreements/new/general",
            {"title": "Flooded again", "text": "x", "action": "propose"},
        )
        assert "/drafts/" in response.headers["Location"]


def test_ending_cooling_off_when_none_runs_changes_nothing(app, couple):
    sam, _, ledger_id = couple
    response = cooling(sam, ledger_id, "end")
    assert response.status_code == 302
    assert "nothing left to change" in sam.get(f"/ledgers/{ledger_id}/pauses").get_data(
        as_text=True
    )
    with app.app_context():
        from ledger.models import CoolingOffRequest

        assert CoolingOffRequest.select().count() == 0


def test_changing_the_length_needs_every_partner(app, couple):
    sam, alex, ledger_id = couple
    cooling(sam, ledger_id, "hours", hours=1)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off_hours == 12  # Alex has not agreed
    # "Turn on" while it is on never changes the length either.
    cooling(sam, ledger_id, "on", hours=1)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off_hours == 12
    page = alex.get(f"/ledgers/{ledger_id}/pauses").get_data(as_text=True)
    assert '<span dir="auto">Sam</span> asked for this (1 hours)' in page
    # Asking for another length replaces the request: Sam is asked again.
    cooling(alex, ledger_id, "hours", hours=6)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off_hours == 12
    cooling(sam, ledger_id, "hours", hours=6)
    with app.app_context():
        assert Ledger.get_by_id(ledger_id).cooling_off_hours == 6


def test_forms_say_up_front_that_cooling_off_is_on(app, couple):
    sam, alex, ledger_id = couple
    path = agreed_signal(sam, alex, ledger_id)
    pending = propose(alex, ledger_id, title="Before the pause")
    post_form(sam, f"/ledgers/{ledger_id}/pauses", {}, page="/pause")
    for url in (f"/ledgers/{ledger_id}/agreements/new/general", f"{path}/change"):
        page = alex.get(url).get_data(as_text=True)
        assert "agreements made while flooded rarely hold" in page, url
        assert "kept as a private draft until then" in page, url
    # An answer waits too, and the page says so before anyone writes one.
    page = sam.get(pending).get_data(as_text=True)
    assert "You can read it now and answer afterwards." in page
    # A change typed now is kept as a draft titled with what it changes.
    response = post_form(
        alex, f"{path}/change", {**PAUSE, "minimum_minutes": "30", "base": "1", "action": "propose"}
    )
    page = alex.get(response.headers["Location"]).get_data(as_text=True)
    assert 'Your draft of a change to “<span dir="auto">A T with both hands</span>”' in page
