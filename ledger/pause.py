"""The pause page, the pause log, cooling-off, and the session agenda."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required

from .access import agenda_item_for, agreement_for, ledger_for, pause_for
from .agreements import load_one
from .db import utcnow
from .forms import CSRF_EXPLANATION
from .forms.agreements import field_labels
from .forms.auth import ConfirmForm
from .forms.pause import AgendaForm, CoolingOffForm, PauseNoteForm
from .models import AgendaItem, CoolingOffRequest, PauseLog
from .models.pause import cooling_until, pause_page_data
from .security import int_arg

bp = Blueprint("pause", __name__)


def me():
    return current_user._get_current_object()


@bp.get("/pause")
@login_required
def page():
    """The quietest page: the agreed pause signals, a timer, the way back."""
    page, status = render_pause()
    response = make_response(page, status)
    # Only a remembered device (a person's own phone) keeps an offline copy.
    response.headers["Ledger-Offline-Copy"] = "allowed" if me().device.remember else "no"
    return response


def render_pause(status=200, notice=None, agenda_form=None):
    now = utcnow()
    ledgers = pause_page_data(me(), me().device.current_ledger_id)
    if not ledgers:
        return render_template("pause/none.html"), status
    return render_template(
        "pause/page.html",
        ledgers=ledgers,
        ledger=ledgers[0].ledger,
        labels=field_labels("pause_signal"),
        as_of=now,
        now=now,
        form=PauseNoteForm(),
        confirm_form=ConfirmForm(),
        agenda_form=agenda_form or AgendaForm(),
        notice=notice,
    ), status


@bp.get("/pause/running")
@login_required
def running():
    """The noted pauses running now in my ledgers, for an open pause page to
    check about once a minute (JSON; never cached)."""
    now = utcnow()
    pauses = []
    for part in pause_page_data(me(), me().device.current_ledger_id):
        pause = part.running(now)
        if pause is not None:
            pauses.append(pause.as_json())
    return {"pauses": pauses}


@bp.post("/ledgers/<id:ledger_id>/pauses")
@login_required
def note(ledger_id):
    """Note that a pause was called (optional; the page works without it)."""
    ledger = ledger_for(me(), ledger_id)
    form = PauseNoteForm()
    if not form.validate_on_submit():
        notice = CSRF_EXPLANATION if form.csrf_failed else "That note could not be saved."
        return render_pause(form.status, notice=notice + " The pause itself goes on.")
    signal = None
    if form.signal.data:
        signal = agreement_for(me(), ledger.id, form.signal.data)
        if signal.kind != "pause_signal" or signal.fields_in_force() is None:
            abort(404)
    now = utcnow()
    pause, new = PauseLog.note(ledger, me(), signal, form.started_at or now, now)
    if new:
        flash("Noted that you paused.")
    else:
        who = pause.user.display_name
        flash(f"{who} already noted this pause. It is noted once, for both of you.")
    return redirect(url_for("pause.page"))


@bp.post("/ledgers/<id:ledger_id>/pauses/<id:pause_id>/resumed")
@login_required
def resumed(ledger_id, pause_id):
    pause = pause_for(me(), ledger_id, pause_id)
    ledger = pause.ledger
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_log(ledger, form.status, notice=CSRF_EXPLANATION)
    if pause.resumed_at is None:
        PauseLog.update(resumed_at=utcnow()).where(PauseLog.id == pause.id).execute()
        flash("Noted that you came back to the conversation.")
    if request.args.get("back") == "pause":
        return redirect(url_for("pause.page"))
    return redirect(url_for("pause.log", ledger_id=ledger.id))


@bp.get("/ledgers/<id:ledger_id>/pauses")
@login_required
def log(ledger_id):
    return render_log(ledger_for(me(), ledger_id))


def render_log(ledger, status=200, notice=None, cooling_form=None):
    requests = CoolingOffRequest.open_in(ledger.id)
    return render_template(
        "pause/log.html",
        ledger=ledger,
        pauses=list(PauseLog.in_ledger(ledger.id)),
        form=ConfirmForm(),
        until=cooling_until(ledger, utcnow()),
        cooling_form=cooling_form or CoolingOffForm(hours=ledger.cooling_off_hours),
        requests={kind: (r, r.waiting_for()) for kind, r in requests.items()},
        notice=notice,
    ), status


#: What a partner's agreement did, by kind of request and whether it was the last one needed.
COOLING_FLASHES = {
    ("end", True): (
        "Everyone agreed: this cooling-off has ended. It stays on for the next noted pause."
    ),
    ("off", True): "Everyone agreed: cooling-off is off. A noted pause starts none now.",
    ("hours", True): "Everyone agreed: cooling-off now lasts {hours} hours after a noted pause.",
    ("end", False): (
        "Your agreement to end this cooling-off is recorded. It goes on until every partner agrees."
    ),
    ("off", False): (
        "Your agreement to turn cooling-off off is recorded. "
        "It stays on until every partner agrees."
    ),
    ("hours", False): (
        "Your agreement to {hours} hours is recorded. The length changes once every partner agrees."
    ),
}


@bp.post("/ledgers/<id:ledger_id>/cooling-off")
@login_required
def cooling_off(ledger_id):
    """Turn cooling-off on (anyone, at once); end it now, turn it off or change
    its length (every partner)."""
    ledger = ledger_for(me(), ledger_id)
    form = CoolingOffForm()
    if not form.validate_on_submit():
        notice = CSRF_EXPLANATION if form.csrf_failed else None
        return render_log(ledger, form.status, notice=notice, cooling_form=form)
    kind, hours = form.action.data, form.hours.data
    if kind == "on":
        if ledger.cooling_off:
            flash("Cooling-off is already on. Changing its length needs every partner.")
        else:
            CoolingOffRequest.turn_on(ledger, hours, utcnow())
            flash(f"Cooling-off is on: {hours} hours after a noted pause.")
        return redirect(url_for("pause.log", ledger_id=ledger.id))
    request_ = CoolingOffRequest.agree(ledger, me(), kind, hours, utcnow())
    if request_ is None:
        flash("There was nothing left to change: cooling-off is already as asked.")
    else:
        done = request_.outcome == "agreed"
        flash(COOLING_FLASHES[kind, done].format(hours=request_.hours))
    return redirect(url_for("pause.log", ledger_id=ledger.id))


@bp.route("/ledgers/<id:ledger_id>/agenda", methods=("GET", "POST"))
@login_required
def agenda(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    # Parked from a topic agreement: its id is in the link, never its words
    # (a URL ends up in access logs and browser history).
    topic = ""
    from_agreement = int_arg("agreement")
    if from_agreement:
        agreement = agreement_for(me(), ledger.id, from_agreement)
        state, _ = load_one(agreement)
        topic = state.current.revision.fields.get("topic", "")
    form = AgendaForm(topic=topic)
    if form.validate_on_submit():
        AgendaItem.create(
            ledger=ledger, author=me(), topic=form.topic.data, note=form.note.data or ""
        )
        flash("Parked for your next session.")
        if request.args.get("back") == "pause":
            return redirect(url_for("pause.page"))
        return redirect(url_for("pause.agenda", ledger_id=ledger.id))
    if request.method == "POST" and request.args.get("back") == "pause":
        # Mid-conflict, stay on the pause page, with the message there.
        notice = CSRF_EXPLANATION if form.csrf_failed else "Please write the topic to park."
        return render_pause(form.status, notice=notice, agenda_form=form)
    return render_agenda(ledger, form, form.status)


def render_agenda(ledger, form, status=200, notice=None):
    return render_template(
        "pause/agenda.html",
        ledger=ledger,
        items=list(AgendaItem.in_ledger(ledger.id)),
        form=form,
        confirm_form=ConfirmForm(),
        notice=notice,
    ), status


@bp.post("/ledgers/<id:ledger_id>/agenda/<id:item_id>/discussed")
@login_required
def discussed(ledger_id, item_id):
    item = agenda_item_for(me(), ledger_id, item_id)
    ledger = item.ledger
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_agenda(ledger, AgendaForm(), form.status, notice=CSRF_EXPLANATION)
    if item.mark_discussed(me(), utcnow()):
        flash("Marked as discussed. It stays in the list below.")
    return redirect(url_for("pause.agenda", ledger_id=ledger.id))


@bp.get("/sw.js")
def service_worker():
    """The service worker, served from the root so its scope is the whole site."""
    response = send_from_directory(current_app.static_folder, "sw.js", max_age=0)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest; neutral for a person who chose discretion."""
    discreet = current_user.is_authenticated and current_user.discreet
    icon = "icon-neutral" if discreet else "icon"
    data = {
        "name": "Notes" if discreet else "Ledger",
        "short_name": "Notes" if discreet else "Ledger",
        "start_url": url_for("pause.page"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#fbf8f3",
        "theme_color": "#1e5c57",
        "icons": [
            {
                "src": url_for("static", filename=f"{icon}-192.png"),
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": url_for("static", filename=f"{icon}-512.png"),
                "sizes": "512x512",
                "type": "image/png",
            },
        ],
    }
    response = current_app.json.response(data)
    response.headers["Content-Type"] = "application/manifest+json"
    return response
