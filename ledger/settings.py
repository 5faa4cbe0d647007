"""The account page: profile, password and signed-in devices."""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from playhouse.flask_utils import get_object_or_404

from .auth import count_attempt, known_device, remember_device, start_session, throttled_page
from .db import write_transaction
from .forms.account import PasswordChangeForm, ProfileForm
from .forms.auth import ConfirmForm
from .models import DeviceSession

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
    devices = DeviceSession.for_user(current_user)
    page = render_template("settings/account.html", devices=devices, **forms)
    return page, status


@bp.get("")
@login_required
def account():
    return render_account()


@bp.post("/profile")
@login_required
def profile():
    form = ProfileForm(user=current_user)
    if not form.csrf_token.validate(form):
        return render_account(form.status, profile_form=form)  # no password checked
    attempt = None
    # The form checks the current password only when the email changes.
    if (form.email.data or "").lower() != current_user.email_key:
        attempt = _count_password_check()
        if attempt is None:
            return throttled_page(WRONG_PASSWORDS)
    valid = form.validate()
    _settle(attempt)
    if valid:
        if current_user.update_profile(
            form.email.data,
            form.display_name.data,
            form.time_zone.data,
            discreet=form.discreet.data,
            pause_alert=form.pause_alert.data,
        ):
            flash("Your details are saved.")
            return redirect(url_for("settings.account"))
        form.email.errors.append("This email can't be used for your account.")
    return render_account(form.status, profile_form=form)


@bp.post("/password")
@login_required
def password():
    form = PasswordChangeForm(user=current_user)
    if not form.csrf_token.validate(form):
        return render_account(form.status, password_form=form)  # no password checked
    attempt = _count_password_check()
    if attempt is None:
        return throttled_page(WRONG_PASSWORDS)
    valid = form.validate()
    _settle(attempt)
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


def _count_password_check():
    """Count a current-password check like a login; None when over a limit."""
    user = current_user._get_current_object()
    return count_attempt(user.email, known_device(user))


def _settle(attempt):
    """Keep the attempt counted only if a wrong password was given."""
    if attempt is not None and not current_user.password_refused:
        attempt.release()


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


def _signed_out(message):
    logout_user()
    session.clear()
    flash(message)
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
