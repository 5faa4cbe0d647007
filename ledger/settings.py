"""The account page: profile, password, reminders and signed-in devices; the
links sent by email to confirm a new address and to stop a reminder."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from playhouse.flask_utils import get_object_or_404

from . import mail
from .auth import count_attempt, known_device, remember_device, start_session, throttled_page
from .calendar import feed_url
from .db import utcnow, write_transaction
from .forms.account import DeleteAccountForm, PasswordChangeForm, ProfileForm, ReminderForm
from .forms.auth import ConfirmForm
from .models import CalendarFeed, DeviceSession, EmailConfirmation, Ledger, email_key
from .models.farewell import delete_account
from .models.mail import has_agreement_in_force
from .security import safe_next

bp = Blueprint("settings", __name__, url_prefix="/account")

WRONG_PASSWORDS = (
    "The current password didn't match too many times. To keep your account "
    "safe, please wait {minutes} minutes and try again."
)


def render_account(status=200, **forms):
    """Render the account page with fresh forms where none are given."""
    forms.setdefault("profile_form", ProfileForm(user=current_user, obj=current_user))
    forms.setdefault("password_form", PasswordChangeForm(user=current_user))
    forms.setdefault("confirm_form", ConfirmForm())
    forms.setdefault("reminder_form", ReminderForm(formdata=None, obj=current_user))
    devices = DeviceSession.for_user(current_user)
    page = render_template(
        "settings/account.html", devices=devices, calendar=calendar_link(), **forms
    )
    return page, status


@bp.get("")
@login_required
def account():
    return render_account()


@bp.post("/profile")
@login_required
def profile():
    form = ProfileForm(user=current_user)
    # The form checks the current password only when the email changes.
    valid = _validate_counted(form, (form.email.data or "").lower() != current_user.email_key)
    if valid is None:
        return throttled_page(WRONG_PASSWORDS)
    if valid:
        # Where this Ledger sends email, a new address is used once a link
        # sent to it has been opened; until then the old one stays.
        confirming = mail.enabled() and email_key(form.email.data) != current_user.email_key
        if current_user.update_profile(
            current_user.email if confirming else form.email.data,
            form.display_name.data,
            form.time_zone.data,
            discreet=form.discreet.data,
            pause_alert=form.pause_alert.data,
        ):
            if confirming:
                mail.after_response(mail.request_email_change, current_user.id, form.email.data)
                flash(
                    f"Your details are saved. To use {form.email.data} for your account, "
                    f"open the link we are sending there. Until then, {current_user.email} "
                    "stays your email."
                )
            else:
                flash("Your details are saved.")
            return redirect(url_for("settings.account"))
        form.email.errors.append("This email can't be used for your account.")
    return render_account(form.status, profile_form=form)


@bp.post("/reminders")
@login_required
def reminders():
    form = ReminderForm()
    if not form.validate():
        return render_account(form.status, reminder_form=form)
    back = safe_next(form.next.data) or url_for("settings.account")
    if form.decline.data:
        current_user.set_reminders(False, False, utcnow())
        flash("No reminders by email. You can change this on your account page at any time.")
    else:
        current_user.set_reminders(form.remind_reviews.data, form.remind_answers.data, utcnow())
        flash("Your choice of reminders is saved.")
    return redirect(back)


@bp.app_context_processor
def _reminder_offer():
    return {"reminder_offer": reminder_offer}


def reminder_offer():
    """The form offering reminders, once a partner's first agreement is in
    force, until they answer it; else None."""
    if (
        not current_user.is_authenticated
        or current_user.reminders_offered_at is not None
        or not mail.enabled()
        or not has_agreement_in_force(current_user.id)
    ):
        return None
    return ReminderForm(formdata=None, next=request.full_path.rstrip("?"))


@bp.route("/email/<token>", methods=("GET", "POST"))
def confirm_email(token):
    confirmation = EmailConfirmation.usable(token, "change", utcnow())
    if confirmation is None:
        return render_template("auth/link_invalid.html"), 404
    form = ConfirmForm()
    if form.validate_on_submit():
        used, saved = confirmation.change_email(utcnow())
        if not used:
            return render_template("auth/link_invalid.html"), 404
        if not saved:
            return render_template("auth/address_taken.html"), 409
        flash(f"Your email is now {confirmation.email}.")
        return redirect(
            url_for("settings.account" if current_user.is_authenticated else "auth.login")
        )
    page = render_template("settings/confirm_email.html", form=form, confirmation=confirmation)
    return page, form.status


@bp.route("/reminders/stop/<token>", methods=("GET", "POST"))
def stop_reminders(token):
    found = mail.stop_target(token)
    if found is None or found[0] is None:
        return render_template("auth/link_invalid.html", stop_link=True), 404
    user, kind = found
    form = ConfirmForm()
    # A mail app's one-click unsubscribe (RFC 8058) posts without our form;
    # the signed link itself is what allows it.
    one_click = request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"
    if one_click or form.validate_on_submit():
        user.stop_reminders(kind)
        if one_click:
            return "", 204
        return redirect(url_for("settings.stop_reminders", token=token))
    page = render_template("settings/stop_reminders.html", form=form, user=user, kind=kind)
    return page, form.status


@bp.post("/password")
@login_required
def password():
    form = PasswordChangeForm(user=current_user)
    valid = _validate_counted(form)
    if valid is None:
        return throttled_page(WRONG_PASSWORDS)
    if valid:
        user, remember = current_user._get_current_object(), current_user.device.remember
        with write_transaction():
            user.set_password(form.new_password.data)
            DeviceSession.end_all(user)
        # Every other device is signed out and forgotten; this one continues
        # on a new session token, known again on a new device token.
        start_session(user, remember=remember)
        flash("Your password is changed. Every other device has been signed out.")
        return remember_device(redirect(url_for("settings.account")), user)
    return render_account(form.status, password_form=form)


def _validate_counted(form, checks_password=True):
    """Validate a form that checks the current password, the check counted
    like a login and kept counted only when the password was wrong.

    True or False; None when over a limit, and then no password is looked
    at. A form whose CSRF token fails is refused before any password is.
    """
    if not form.csrf_token.validate(form):
        return False
    attempt = None
    if checks_password:
        user = current_user._get_current_object()
        attempt = count_attempt(user.email, known_device(user))
        if attempt is None:
            return None
    valid = form.validate()
    if attempt is not None and not current_user.password_refused:
        attempt.release()
    return valid


@bp.post("/devices/<id:device_id>/sign-out")
@login_required
def sign_out_device(device_id):
    device = get_object_or_404(DeviceSession.for_user(current_user), DeviceSession.id == device_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_account(form.status, confirm_form=form)
    device.sign_out()
    if device.id == current_user.device.id:
        return _signed_out("This device is signed out.")
    flash("That device is signed out.")
    return redirect(url_for("settings.account"))


@bp.post("/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_account(form.status, confirm_form=form)
    DeviceSession.end_all(current_user)
    return _signed_out("You're signed out on every device, this one included.")


@bp.route("/delete", methods=("GET", "POST"))
@login_required
def delete():
    """Delete my account, after being offered each ledger's export."""
    form = DeleteAccountForm(user=current_user)
    ledgers = Ledger.for_user(current_user)
    if request.method == "POST":
        valid = _validate_counted(form)
        if valid is None:
            return throttled_page(WRONG_PASSWORDS)
        if valid:
            delete_account(current_user._get_current_object(), utcnow())
            return _signed_out(
                "Your account is deleted. What you agreed to stays in your partners' "
                "shared history, under the name “Former partner”. Take care."
            )
    return render_template("settings/delete.html", form=form, ledgers=ledgers), form.status


def _signed_out(message):
    logout_user()
    session.clear()
    flash(message)
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


def calendar_link():
    """The calendar feed for the account page: (the feed or None, its link
    if it was just made, else None: the link is shown once)."""
    feed = CalendarFeed.of(current_user.id)
    fresh = session.pop("new_calendar_link", None) if feed else None
    return feed, feed_url(fresh) if fresh else None


@bp.post("/calendar")
@login_required
def calendar_feed():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_account(form.status, confirm_form=form)
    # Only its hash is stored: keep the link for the one page that shows it.
    session["new_calendar_link"] = CalendarFeed.renew(current_user.id)
    flash("Your calendar link is ready. Add it to your calendar now: it is shown only this once.")
    return redirect(url_for("settings.account", _anchor="calendar-heading"))


@bp.post("/calendar/stop")
@login_required
def stop_calendar_feed():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_account(form.status, confirm_form=form)
    CalendarFeed.revoke(current_user.id)
    flash(
        "Your calendar link no longer works. A calendar that used it stops showing "
        "review dates at its next update."
    )
    return redirect(url_for("settings.account"))
