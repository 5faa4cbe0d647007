"""Registering, logging in and out, throttling and password reset links."""

import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from . import passwords
from .db import utcnow, write_transaction
from .forms.auth import ConfirmForm, LoginForm, RegisterForm, ResetPasswordForm
from .models import DeviceSession, LoginFailure, PasswordReset, User
from .security import safe_next

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

THROTTLED = (
    "There have been too many attempts to log in here. For everyone's safety, "
    "please wait {minutes} minutes and try again."
)
#: Registration attempts that hit an email in use count against the address
#: under this key, which no real email can have.
REGISTRATION_KEY = "registration attempt"


def init_app(app):
    """Bind flask-login: sessions are device rows, looked up by their token."""
    login_manager.init_app(app)
    login_manager.session_protection = None  # phones change address often
    app.before_request(ensure_csrf_secret)
    app.after_request(_clear_ended_session)


def ensure_csrf_secret():
    """Give the session its CSRF secret before any page renders a form.

    Created lazily, two pages loading at once (the pause page and the service
    worker refreshing its copy, say) would each invent one, and the cookie of
    whichever answered last would void the other page's tokens.
    """
    if request.endpoint != "static" and "csrf" not in session:
        session["csrf"] = secrets.token_hex(20)


def _clear_ended_session(response):
    """A session that ended elsewhere ("log out everywhere", expiry): forget it
    here too, with any offline copy of the pause page."""
    signed_out_entry = (
        request.method == "GET"
        and request.endpoint in ("auth.login", "home.index")
        and not current_user.is_authenticated
    )
    if signed_out_entry and not g.get("ended_session"):
        # Whoever comes to the door signed out gets no offline copy of the
        # last person's pause page (a session that ended with the browser).
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
    if g.get("ended_session"):
        # The session cookie is left alone: rewriting it here could undo a
        # fresher one (a background request racing a new login page).
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        config = current_app.config
        response.delete_cookie(
            config["REMEMBER_COOKIE_NAME"],
            path="/",
            secure=config["REMEMBER_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


@login_manager.user_loader
def load_user(token):
    """Return the user of a live device session, in one query."""
    device = DeviceSession.lookup(token)
    if device is None:
        g.ended_session = True
        return None
    now = utcnow()
    if device.expired(now, current_app.config):
        device.delete_instance()
        g.ended_session = True
        return None
    if device.touch(now) and device.remember:
        # Slide the 30 days of "remember this device" along with the use.
        session["_remember"] = "set"
    user = device.user
    user.device = device
    return user


@login_manager.unauthorized_handler
def unauthorized():
    flash("Please log in to continue.")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def start_session(user, remember):
    """Sign the user in on this device with a fresh session (no fixation)."""
    session.clear()
    ensure_csrf_secret()
    user.device = DeviceSession.start(user, remember, request.headers.get("User-Agent", ""))
    login_user(user, remember=remember)


@bp.route("/register", methods=("GET", "POST"))
def register():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        throttled = _throttled(REGISTRATION_KEY, check_email=False)
        if throttled:
            return throttled
        user = User.create_account(
            form.email.data,
            form.display_name.data,
            passwords.hash_password(form.password.data),
            form.time_zone.data,
        )
        if user is not None:
            start_session(user, remember=form.remember.data)
            flash(f"Welcome, {user.display_name}. Your account is ready.")
            return _remember_device(redirect(next_url or url_for("home.index")), user)
        LoginFailure.record(REGISTRATION_KEY, request.remote_addr, utcnow(), _window())
        form.email.errors.append(
            "An account can't be created with this email. If you already have "
            "one, log in instead, or ask whoever runs this Ledger for a reset link."
        )
    return render_template("auth/register.html", form=form), form.status


@bp.route("/login", methods=("GET", "POST"))
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email, password = form.email.data, form.password.data
        user = User.by_email(email)
        throttled = _throttled(email, check_email=not _known_device(user))
        if throttled:
            return throttled
        if user is not None and user.check_password(password):
            LoginFailure.forget_email(email)
            if passwords.needs_rehash(user.password_hash):
                user.set_password(password)
            start_session(user, remember=form.remember.data)
            return _remember_device(redirect(next_url or url_for("home.index")), user)
        if user is None:
            passwords.verify_nobody(password)
        LoginFailure.record(email, request.remote_addr, utcnow(), _window())
        form.password.errors.append("That email and password don't match an account here.")
        return render_template("auth/login.html", form=form), 422
    return render_template("auth/login.html", form=form), form.status


@bp.route("/logout", methods=("GET", "POST"))
def logout():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    form = ConfirmForm()
    if form.validate_on_submit():
        current_user.device.delete_instance()
        logout_user()
        session.clear()
        flash("You're logged out. Take care.")
        response = redirect(url_for("auth.login"))
        # Also drop anything the browser cached of our pages (offline copies).
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response
    return render_template("auth/logout.html", form=form), form.status


@bp.route("/reset/<token>", methods=("GET", "POST"))
def reset_password(token):
    reset = PasswordReset.usable(token, utcnow())
    if reset is None:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm(user=reset.user)
    if form.validate_on_submit():
        with write_transaction():
            used = reset.use(utcnow())
            if used:
                reset.user.set_password(form.password.data)
                DeviceSession.end_all(reset.user)
        if not used:
            return render_template("auth/reset_invalid.html"), 404
        logout_user()
        session.clear()
        flash("Your new password is set. Please log in with it.")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, user=reset.user), form.status


def _window():
    return current_app.config["LOGIN_WINDOW"]


def _throttled(email, check_email=True):
    """Return a 429 page if this email or address failed too often, else None."""
    config = current_app.config
    by_email, by_address = LoginFailure.counts(email, request.remote_addr, utcnow() - _window())
    if (check_email and by_email >= config["LOGIN_MAX_FAILURES_PER_EMAIL"]) or (
        by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    ):
        minutes = int(_window().total_seconds() // 60)
        page = render_template("auth/throttled.html", message=THROTTLED.format(minutes=minutes))
        return page, 429, {"Retry-After": str(int(_window().total_seconds()))}
    return None


def _device_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="ledger.known-device")


def _known_device(user):
    """Tell whether this browser has signed in to ``user`` before."""
    if user is None:
        return False
    cookie = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
    if not cookie:
        return False
    max_age = current_app.config["DEVICE_COOKIE_LIFETIME"].total_seconds()
    try:
        known = _device_serializer().loads(cookie, max_age=max_age)
    except BadSignature:
        return False
    return isinstance(known, list) and user.uuid.hex in known


def _remember_device(response, user):
    """Mark this browser as one that has signed in to ``user``.

    A known device is exempt from the per-email limit, so a partner who fails
    on purpose cannot lock the other out of their own phone.
    """
    config = current_app.config
    try:
        known = _device_serializer().loads(request.cookies.get(config["DEVICE_COOKIE_NAME"], ""))
    except BadSignature:
        known = []
    account = user.uuid.hex
    known = [a for a in known if a != account][-4:] + [account]
    response.set_cookie(
        config["DEVICE_COOKIE_NAME"],
        _device_serializer().dumps(known),
        max_age=int(config["DEVICE_COOKIE_LIFETIME"].total_seconds()),
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return response
