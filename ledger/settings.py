"""The account page: profile, password and signed-in devices."""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from playhouse.flask_utils import get_object_or_404

from .auth import start_session
from .db import write_transaction
from .forms.account import PasswordChangeForm, ProfileForm
from .forms.auth import ConfirmForm
from .models import DeviceSession

bp = Blueprint("settings", __name__, url_prefix="/account")


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
    if form.validate_on_submit():
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
    if form.validate_on_submit():
        user, remember = current_user._get_current_object(), current_user.device.remember
        with write_transaction():
            user.set_password(form.new_password.data)
            DeviceSession.end_all(user)
        # Every other device is signed out; this one continues on a new token.
        start_session(user, remember=remember)
        flash("Your password is changed. Every other device has been signed out.")
        return redirect(url_for("settings.account"))
    return render_account(form.status, password_form=form)


@bp.post("/devices/<id:device_id>/sign-out")
@login_required
def sign_out_device(device_id):
    device = get_object_or_404(DeviceSession.for_user(current_user), DeviceSession.id == device_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_account(form.status, confirm_form=form)
    device.delete_instance()
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
