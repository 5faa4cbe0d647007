"""Registering, logging in and out, throttling and password reset links."""

import json
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

from . import mail, passwords
from .db import utcnow, write_transaction
from .forms import time_zone_links
from .forms.auth import (
    ConfirmForm,
    ConfirmRegistrationForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
)
from .models import (
    DeviceSession,
    EmailConfirmation,
    KnownDevice,
    LoginFailure,
    PasswordReset,
    User,
)
from .security import safe_next

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

THROTTLED = (
    "There have been too many attempts to log in here. For everyone's safety, "
    "please wait {minutes} minutes and try again."
)
REGISTRATION_THROTTLED = (
    "There have been many attempts to create an account from here. For "
    "everyone's safety, please wait {minutes} minutes and try again."
)
#: Every registration attempt counts against the address under this key,
#: which no real email can have.
REGISTRATION_KEY = "registration attempt"
RESET_REQUESTS_THROTTLED = (
    "There have been many requests for a new password from here. For "
    "everyone's safety, please wait {minutes} minutes and try again."
)
#: Every request for a reset link counts against the address, like registering.
RESET_REQUEST_KEY = "reset link request"


def init_app(app):
    """Bind flask-login: sessions are device rows, looked up by their token."""
    login_manager.init_app(app)
    login_manager.session_protection = None  # phones change address often
    app.before_request(ensure_csrf_secret)
    app.after_request(_clear_ended_session)


@bp.app_context_processor
def _email_context():
    """Pages say how to get a new password: by email where this Ledger sends it."""
    return {"sends_email": mail.enabled()}


def ensure_csrf_secret():
    """Give the session its CSRF secret before any page renders a form.

    Created lazily, two pages loading at once (the pause page and the service
    worker refreshing its copy, say) would each invent one, and the cookie of
    whichever answered last would void the other page's tokens. Static files
    have no session to give it to (``security.SessionInterface``).
    """
    if "csrf" not in session and not current_app.session_interface.is_null_session(
        session._get_current_object()
    ):
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
    # A form with a valid token is counted before it is judged (judging a
    # password costs CPU); one without is turned back before either.
    submitted = request.method == "POST" and form.csrf_token.validate(form)
    if submitted and count_attempt(REGISTRATION_KEY, by_email=False) is None:
        return throttled_page(REGISTRATION_THROTTLED)
    if submitted and form.validate() and (opened := open_account(form, next_url)):
        return opened
    page = render_template(
        "auth/register.html",
        form=form,
        next_url=next_url,
        tz_links=json.dumps(time_zone_links(), separators=(",", ":")),
    )
    return page, form.status


def open_account(form, next_url):
    """Create the account a valid registration form asks for and sign it in,
    or, with email on, send the link that creates it; the response to give,
    or None (the reason added to the form) when this email can't have one."""
    password_hash = passwords.hash_password(form.password.data)
    if mail.enabled():
        # The same answer whether or not the address has an account; the
        # email says which (a link to create it, or a note to its owner).
        mail.after_response(
            mail.request_registration,
            form.email.data,
            form.display_name.data,
            password_hash,
            form.time_zone.data,
            next_url,
        )
        return redirect(url_for("auth.check_inbox"))
    user = User.create_account(
        form.email.data, form.display_name.data, password_hash, form.time_zone.data
    )
    if user is None:
        form.email.errors.append(
            "An account can't be created with this email. If you already have "
            "one, log in instead, or ask whoever runs this Ledger for a reset link."
        )
        return None
    start_session(user, remember=form.remember.data)
    flash(f"Welcome, {user.display_name}. Your account is ready.")
    return remember_device(redirect(next_url or url_for("home.index")), user)


@bp.get("/register/check-your-inbox")
def check_inbox():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    return render_template("auth/check_inbox.html")


@bp.route("/register/confirm/<token>", methods=("GET", "POST"))
def confirm_registration(token):
    confirmation = EmailConfirmation.usable(token, "register", utcnow())
    if confirmation is None:
        return render_template("auth/link_invalid.html"), 404
    if current_user.is_authenticated:
        flash(
            f"You're logged in as {current_user.display_name}. To create another "
            "account, log out first, then open the link again."
        )
        return redirect(url_for("home.index"))
    form = ConfirmRegistrationForm()
    if form.validate_on_submit():
        used, user = confirmation.create_account(utcnow())
        if not used:
            return render_template("auth/link_invalid.html"), 404
        if user is None:
            return render_template("auth/address_taken.html"), 409
        start_session(user, remember=form.remember.data)
        flash(f"Welcome, {user.display_name}. Your account is ready.")
        next_url = safe_next(confirmation.next_url) or url_for("home.index")
        return remember_device(redirect(next_url), user)
    page = render_template("auth/confirm_registration.html", form=form, confirmation=confirmation)
    return page, form.status


@bp.route("/forgot-password", methods=("GET", "POST"))
def forgot_password():
    if current_user.is_authenticated:
        return redirect(url_for("settings.account"))
    if not mail.enabled():
        return render_template("auth/forgot.html", form=None)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        if count_attempt(RESET_REQUEST_KEY, by_email=False) is None:
            return throttled_page(RESET_REQUESTS_THROTTLED)
        # The same answer whether or not the address has an account.
        mail.after_response(mail.send_reset_link, form.email.data)
        return redirect(url_for("auth.forgot_password", sent="1"))
    sent = request.method == "GET" and request.args.get("sent") == "1"
    return render_template("auth/forgot.html", form=form, sent=sent), form.status


@bp.route("/login", methods=("GET", "POST"))
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email, password = form.email.data, form.password.data
        user = User.by_email(email)
        if count_attempt(email, known_device(user)) is None:
            return throttled_page()
        if user is not None and user.check_password(password):
            LoginFailure.forget_email(email)
            if passwords.needs_rehash(user.password_hash):
                user.set_password(password)
            start_session(user, remember=form.remember.data)
            return remember_device(redirect(next_url or url_for("home.index")), user)
        if user is None:
            passwords.verify_nobody(password)
        form.password.errors.append("That email and password don't match an account here.")
        return render_template("auth/login.html", form=form, next_url=next_url), 422
    return render_template("auth/login.html", form=form, next_url=next_url), form.status


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
        # logout_user() asks flask-login, through the session, to delete the
        # remember cookie; session.clear() just emptied that request: delete
        # the cookie here, or the browser keeps a dead token for 30 days.
        config = current_app.config
        response.delete_cookie(
            config["REMEMBER_COOKIE_NAME"],
            path="/",
            secure=config["REMEMBER_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
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


def count_attempt(email, known=None, by_email=True):
    """Count an attempt with a password for ``email`` from this address.

    Returns the attempt (``release()`` it when the password was right), or
    None when a limit is reached. ``known`` is this browser's known-device
    record for the account, if any.
    """
    config = current_app.config
    limits = (
        config["LOGIN_MAX_FAILURES_PER_EMAIL"] if by_email else None,
        config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    )
    address = request.remote_addr or ""
    return LoginFailure.reserve(email, address, utcnow(), _window(), limits, known)


def throttled_page(message=THROTTLED):
    """Return the calm 429 page that asks to wait for the window."""
    seconds = int(_window().total_seconds())
    page = render_template("auth/throttled.html", message=message.format(minutes=seconds // 60))
    return page, 429, {"Retry-After": str(seconds)}


def known_device(user):
    """Return this browser's valid known-device record for ``user``, or None."""
    config = current_app.config
    token = request.cookies.get(config["DEVICE_COOKIE_NAME"])
    return KnownDevice.find(token, user, utcnow(), config["KNOWN_DEVICE_LIFETIME"])


def remember_device(response, user):
    """Record this browser as a known device of ``user`` on a fresh token.

    A known device is held only to its own failed logins, so a partner who
    fails on purpose cannot lock the other out of their own phone.
    """
    config = current_app.config
    lifetime = config["KNOWN_DEVICE_LIFETIME"]
    old_token = request.cookies.get(config["DEVICE_COOKIE_NAME"])
    record, token = KnownDevice.remember(user, old_token, utcnow(), lifetime)
    user.device.link(record)
    response.set_cookie(
        config["DEVICE_COOKIE_NAME"],
        token,
        max_age=int(lifetime.total_seconds()),
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return response
