"""The pause page, the pause log, cooling-off, and the session agenda."""

from flask import (
    Blueprint,
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
from .consent import derive
from .db import utcnow
from .forms import CSRF_EXPLANATION
from .forms.agreements import field_labels
from .forms.auth import ConfirmForm
from .forms.pause import AgendaForm, CoolingOffForm, PauseNoteForm
from .models import AgendaItem, CoolingOffRequest, PauseLog
from .models.pause import cooling_until, pause_page_data

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
    ledger, memberships, histories = pause_page_data(me(), me().device.current_ledger_id)
    if ledger is None:
        return render_template("pause/none.html"), status
    now = utcnow()
    signals = []
    for agreement, (revisions, consents) in histories.items():
        state = derive(revisions, consents, memberships, now)
        if state.in_force and not state.retired:
            signals.append((agreement, state.in_force.revision.fields))
    signals.sort(key=lambda item: item[0].created_at)
    return render_template(
        "pause/page.html",
        ledger=ledger,
        signals=signals,
        labels=field_labels("pause_signal"),
        as_of=now,
        form=PauseNoteForm(),
        agenda_form=agenda_form or AgendaForm(),
        notice=notice,
    ), status


@bp.post("/ledgers/<id:ledger_id>/pauses")
@login_required
def note(ledger_id):
    """Note that a pause was called (optional; the page works without it)."""
    ledger = ledger_for(me(), ledger_id)
    form = PauseNoteForm()
    if not form.validate_on_submit():
        notice = CSRF_EXPLANATION if form.csrf_failed else "That note could not be saved."
        return render_pause(form.status, notice=notice + " The pause itself goes on.")
    started = form.started_at or utcnow()
    PauseLog.create(ledger=ledger, user=me(), started_at=min(started, utcnow()))
    flash("Noted that you paused.")
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
    return redirect(url_for("pause.log", ledger_id=ledger.id))


@bp.get("/ledgers/<id:ledger_id>/pauses")
@login_required
def log(ledger_id):
    return render_log(ledger_for(me(), ledger_id))


def render_log(ledger, status=200, notice=None, cooling_form=None):
    return render_template(
        "pause/log.html",
        ledger=ledger,
        pauses=list(PauseLog.in_ledger(ledger.id)),
        form=ConfirmForm(),
        until=cooling_until(ledger, utcnow()),
        cooling_form=cooling_form or CoolingOffForm(hours=ledger.cooling_off_hours),
        request_open=CoolingOffRequest.open_for(ledger.id),
        notice=notice,
    ), status


@bp.post("/ledgers/<id:ledger_id>/cooling-off")
@login_required
def cooling_off(ledger_id):
    """Turn cooling-off on (anyone, at once) or agree to turn it off (everyone)."""
    ledger = ledger_for(me(), ledger_id)
    form = CoolingOffForm()
    if not form.validate_on_submit():
        notice = CSRF_EXPLANATION if form.csrf_failed else None
        return render_log(ledger, form.status, notice=notice, cooling_form=form)
    if form.action.data == "on":
        from .models import Ledger

        Ledger.update(cooling_off=True, cooling_off_hours=form.hours.data).where(
            Ledger.id == ledger.id
        ).execute()
        open_request = CoolingOffRequest.open_for(ledger.id)
        if open_request:
            open_request.resolve("withdrawn", utcnow())
        flash(f"Cooling-off is on: {form.hours.data} hours after a noted pause.")
    else:
        request_ = CoolingOffRequest.agree(ledger, me(), utcnow())
        if request_.outcome == "agreed":
            flash("Everyone agreed: cooling-off is off.")
        else:
            flash("Your agreement is recorded. Cooling-off stays on until every partner agrees.")
    return redirect(url_for("pause.log", ledger_id=ledger.id))


@bp.route("/ledgers/<id:ledger_id>/agenda", methods=("GET", "POST"))
@login_required
def agenda(ledger_id):
    ledger = ledger_for(me(), ledger_id)
    # Parked from a topic agreement: its id is in the link, never its words
    # (a URL ends up in access logs and browser history).
    topic = ""
    from_agreement = request.args.get("agreement", type=int)
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
