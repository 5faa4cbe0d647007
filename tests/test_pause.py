"""The pause page, noting a pause, cooling-off, discretion and the agenda."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playhouse.test_utils import count_queries

from ledger.models import AgendaItem, Draft, Ledger, PauseLog, Revision

from .helpers import (
    PAUSE_SIGNAL,
    AuthActions,
    answer,
    create_ledger,
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
    assert '<h2 id="signal-1">A T with both hands</h2>' in page
    assert "I&#39;m flooded and need to stop." in page
    assert "Separate rooms, slow breathing." in page
    assert "At least <strong>20 minutes</strong>" in page
    assert "The one who called it reaches out within 2 hours of the pause beginning." in page
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


def test_pause_page_runs_at_most_three_queries(app, couple):
    sam, alex, ledger_id = couple
    for n in range(4):
        path = agreed_signal(sam, alex, ledger_id, signal=f"Signal {n}")
        post_form(
            sam,
            f"{path}/change",
            {**PAUSE, "signal": f"Signal {n}b", "base": "1", "action": "propose"},
        )
    create_ledger(sam, "Another ledger")  # switches Sam's device to it
    post_form(sam, "/ledgers/switch", {"ledger": str(ledger_id)}, page=f"/ledgers/{ledger_id}")
    with count_queries() as counter:
        page = sam.get("/pause")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('class="signal"') == 4
    assert counter.count <= 3, [q.msg[0][:80] for q in counter.get_queries()]


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
    assert "Money, again: discussed" in agenda
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
