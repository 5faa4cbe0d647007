"""Email: settings, composing from templates/mail, the outbox, sending, reminders.

Every email is queued in the outbox (``ledger.models.mail.Outbox``) and sent
from there at most once: right after the response of the request that queued
it, and by ``flask --app ledger send-reminders``, which also queues the
reminders that are due. Emails carry no agreement content, only a short
sentence and a link built from LEDGER_BASE_URL; for a partner who chose
discretion they say "Notes", never "Ledger".

Reminders come from sources: ``register_reminder_source(fn)`` adds one, and
``fn(now)`` yields a ``Reminder`` for each email due at ``now``. The command
sends only those a partner chose, once per key, each with a link that stops it.
"""

import logging
import smtplib
import ssl
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from flask import after_this_request, current_app, render_template
from itsdangerous import BadData, URLSafeSerializer

from .db import db, utcnow
from .models import EmailConfirmation, Outbox, PasswordReset, User, new_token, token_hash
from .models.accounts import REMINDER_CHOICES
from .models.mail import waiting_for_answers
from .security import external_url, safe_next

log = logging.getLogger(__name__)

#: How the connection to the mail server is protected, and its usual port.
SECURITY_PORTS = {"starttls": 587, "tls": 465, "none": 25}
#: The name a partner who chose discretion sees instead of "Ledger".
NEUTRAL_NAME = "Notes"

#: The subject of each email (templates/mail/<name>.txt and .html), after
#: "Ledger: " (or "Notes: ").
SUBJECTS = {
    "reset": "Set a new password",
    "register": "Confirm your email to create your account",
    "address-in-use": "You already have an account",
    "confirm-email": "Confirm your new email",
    "answers": "Something waits for your answer",
}


class MailSettingsError(Exception):
    """The email settings cannot work; the text says what to change."""


class MailServerUnreachable(Exception):
    """No connection to the mail server; nothing was sent or claimed."""


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    timeout: float


def enabled(config=None):
    """True when this Ledger sends email (LEDGER_SMTP_HOST is set)."""
    return bool((config if config is not None else current_app.config).get("SMTP_HOST"))


def smtp_settings(config=None):
    """Return the SMTP settings, checked; MailSettingsError says what is wrong."""
    config = config if config is not None else current_app.config
    security = str(config.get("SMTP_SECURITY") or "starttls").strip().lower()
    if security not in SECURITY_PORTS:
        raise MailSettingsError(
            f"LEDGER_SMTP_SECURITY must be starttls, tls or none, not {security!r}."
        )
    port = config.get("SMTP_PORT") or SECURITY_PORTS[security]
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise MailSettingsError(
            f"LEDGER_SMTP_PORT must be a port number (usually 587 for starttls, 465 for "
            f"tls), not {config.get('SMTP_PORT')!r}."
        )
    _, address = parseaddr(config.get("MAIL_FROM") or "")
    if "@" not in address:
        raise MailSettingsError(
            "Set LEDGER_MAIL_FROM to the address Ledger sends from, for example "
            '"Ledger <ledger@example.org>".'
        )
    user, password = config.get("SMTP_USER"), config.get("SMTP_PASSWORD")
    if bool(user) != bool(password):
        raise MailSettingsError("Set both LEDGER_SMTP_USER and LEDGER_SMTP_PASSWORD, or neither.")
    return SMTPSettings(
        host=config["SMTP_HOST"],
        port=port,
        security=security,
        user=user,
        password=password,
        sender=config["MAIL_FROM"],
        timeout=config.get("SMTP_TIMEOUT", 30),
    )


# Composing and queueing.


def app_name(user):
    """ "Notes" for a partner who chose discretion, else "Ledger"."""
    return NEUTRAL_NAME if user is not None and user.discreet else "Ledger"


def compose(template, user=None, subject=None, **context):
    """Render an email to ``user`` (None: someone without an account yet):
    (subject, plain text, HTML)."""
    name = app_name(user)
    context = {"app_name": name, "user": user, **context}
    return (
        f"{name}: {subject or SUBJECTS[template]}",
        render_template(f"mail/{template}.txt", **context),
        render_template(f"mail/{template}.html", **context),
    )


def queue(template, key, user=None, to=None, expires_at=None, items=(), stop=None, **context):
    """Compose an email and put it in the outbox under ``key``; None if it was
    queued before. ``stop``: the kind of reminder its link stops."""
    stop_link = stop_url(user, stop) if stop else ""
    subject, text, html = compose(template, user, stop_url=stop_link, **context)
    return Outbox.queue(
        user,
        key,
        subject,
        text,
        html,
        to=to,
        expires_at=expires_at,
        items=items,
        stop_url=stop_link,
    )


def after_response(fn, *args):
    """Run ``fn(*args)`` once the response has gone out, in an app context of
    its own.

    Looking an address up, queueing and talking to the mail server then
    neither delay the page nor show in how long it took to answer, so the
    page cannot tell whether an address has an account.
    """
    app = current_app._get_current_object()

    @after_this_request
    def schedule(response):
        response.call_on_close(lambda: _run_detached(app, fn, args))
        return response


def _run_detached(app, fn, args):
    with app.app_context(), db.database.connection_context():
        try:
            fn(*args)
        except Exception:
            app.logger.exception("An email could not be queued or sent.")


def _room_for_link(address, now):
    """True while fewer than MAIL_LINKS_PER_HOUR link emails went to this address
    in the last hour (so nobody can fill someone's inbox)."""
    limit = current_app.config["MAIL_LINKS_PER_HOUR"]
    return Outbox.links_sent_to(address, now - timedelta(hours=1)) < limit


def _send_now(row):
    if row is not None:
        send_pending(ids=[row.id])


def send_reset_link(email):
    """Email a single-use link to set a new password, if an account uses ``email``."""
    now, config = utcnow(), current_app.config
    user = User.by_email(email)
    if user is None or not _room_for_link(user.email, now):
        return
    lifetime = config["RESET_LINK_LIFETIME"]
    with db.database.atomic():
        token = PasswordReset.issue(user, lifetime)
        row = queue(
            "reset",
            f"reset:{token_hash(token)}",
            user=user,
            expires_at=now + lifetime,
            url=external_url("auth.reset_password", token=token),
            minutes=int(lifetime.total_seconds() // 60),
        )
    _send_now(row)


def request_registration(email, display_name, password_hash, time_zone, next_url=None):
    """Email a link that creates the account, or, when the address already
    has one, a note saying so to its owner."""
    now = utcnow()
    if not _room_for_link(email, now):
        return
    owner = User.by_email(email)
    lifetime = current_app.config["EMAIL_LINK_LIFETIME"]
    with db.database.atomic():
        if owner is not None:
            row = _address_in_use(owner)
        else:
            token = EmailConfirmation.issue(
                "register",
                email,
                now,
                lifetime,
                display_name=display_name,
                password_hash=password_hash,
                time_zone=time_zone,
                next_url=safe_next(next_url),
            )
            row = queue(
                "register",
                f"register:{token_hash(token)}",
                to=email,
                expires_at=now + lifetime,
                url=external_url("auth.confirm_registration", token=token),
                hours=int(lifetime.total_seconds() // 3600),
            )
    _send_now(row)


def request_email_change(user_id, email):
    """Email the new address a link that moves the account to it, or, when it
    belongs to another account, a note saying so to its owner."""
    now = utcnow()
    user = User.get_or_none(User.id == user_id)
    if user is None or not _room_for_link(email, now):
        return
    owner = User.by_email(email)
    if owner is not None and owner.id == user.id:
        return
    lifetime = current_app.config["EMAIL_LINK_LIFETIME"]
    with db.database.atomic():
        if owner is not None:
            row = _address_in_use(owner)
        else:
            token = EmailConfirmation.issue("change", email, now, lifetime, user=user)
            row = queue(
                "confirm-email",
                f"confirm-email:{token_hash(token)}",
                user=user,
                to=email,
                expires_at=now + lifetime,
                url=external_url("settings.confirm_email", token=token),
                hours=int(lifetime.total_seconds() // 3600),
            )
    _send_now(row)


def _address_in_use(owner):
    return queue(
        "address-in-use",
        f"address-in-use:{new_token()}",
        user=owner,
        login_url=external_url("auth.login"),
        forgot_url=external_url("auth.forgot_password"),
    )


# The one-click link that stops a kind of reminder.


def _stop_serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="ledger.stop-reminders")


def stop_url(user, kind):
    """The link that stops this kind of reminder for this partner (signed, for
    nothing else)."""
    token = _stop_serializer().dumps([user.uuid.hex, kind])
    return external_url("settings.stop_reminders", token=token)


def stop_target(token):
    """(user, kind) named by a stop link's token, or None."""
    try:
        user_uuid, kind = _stop_serializer().loads(token)
    except (BadData, TypeError, ValueError):
        return None
    if kind not in REMINDER_CHOICES or not isinstance(user_uuid, str) or len(user_uuid) != 32:
        return None
    try:
        return User.get_or_none(User.uuid == user_uuid), kind
    except ValueError:
        return None


# Reminders.


@dataclass(frozen=True)
class Reminder:
    """One reminder email that a source finds due.

    ``kind``: the partner's choice that allows it ("reviews" or "answers"),
    which its link stops. ``key``: its name in the outbox, so it goes out
    once (e.g. "review-due:<ledger>:<date>:<user>"). ``template``:
    templates/mail/<template>.txt and .html, which extend mail/base.txt and
    .html and get ``context``; ``subject`` (else SUBJECTS[template]).
    ``items``: further keys it covers; a reminder any of them was covered by
    before is not sent.
    """

    user: User
    kind: str
    key: str
    template: str
    context: dict = field(default_factory=dict)
    subject: str | None = None
    items: tuple = ()


_SOURCES = []


def register_reminder_source(source):
    """Add ``source(now)``, which yields the Reminders due at ``now`` (usable as
    a decorator); ``send-reminders`` asks every source at each run."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def due_reminders(now):
    """The reminders due now that their partners chose and no email covered yet."""
    found = [r for source in _SOURCES for r in source(now) if r.user.wants_reminders(r.kind)]
    known = Outbox.known([r.key for r in found] + [key for r in found for key in r.items])
    return [r for r in found if r.key not in known and not known.intersection(r.items)]


def queue_reminders(now):
    """Queue every reminder due now; return how many were queued."""
    queued = 0
    for r in due_reminders(now):
        row = queue(
            r.template,
            r.key,
            user=r.user,
            items=r.items,
            stop=r.kind,
            subject=r.subject,
            **r.context,
        )
        queued += row is not None
    return queued


def preview(now):
    """What a run would send now, without queueing or sending anything:
    (recipient, subject, plain text) per email."""
    emails = [(row.recipient, row.subject, row.text) for row in Outbox.pending()]
    for r in due_reminders(now):
        subject, text, _ = compose(
            r.template, r.user, subject=r.subject, stop_url=stop_url(r.user, r.kind), **r.context
        )
        emails.append((r.user.email, subject, text))
    return emails


@register_reminder_source
def answers_waiting(now):
    """Something new waits for a partner's answer: one email per partner and
    ledger, covering each waiting agreement once per revision."""
    groups = {}
    for row in waiting_for_answers():
        state = row.state
        asked = "change" if state.change_requested else "answer"
        item = f"waiting:{row.agreement_id}:{state.latest_number}:{asked}:{row.user.id}"
        groups.setdefault((row.ledger_id, row.user.id), (row.user, []))[1].append(item)
    known = Outbox.known(item for _, items in groups.values() for item in items)
    for (ledger_id, user_id), (user, items) in groups.items():
        new = tuple(item for item in items if item not in known)
        if new:
            yield Reminder(
                user=user,
                kind="answers",
                key=f"answers:{ledger_id}:{user_id}:{new[0]}",
                template="answers",
                context={
                    "count": len(items),
                    "url": external_url("agreements.dashboard", ledger_id=ledger_id),
                },
                items=new,
            )


# Sending.


#: Errors where the mail server answered that it does not take the message.
REFUSALS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)


def _refusal(exc):
    """(temporary?, error text) for a refusal: 4xx codes may pass, 5xx won't."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
    else:
        codes = [getattr(exc, "smtp_code", 500)]
    temporary = bool(codes) and all(400 <= code < 500 for code in codes)
    return temporary, f"{type(exc).__name__}: {exc}"


def connect(settings):
    """Open an authenticated connection to the mail server, or raise
    MailServerUnreachable."""
    context = ssl.create_default_context()
    smtp = None
    try:
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            if settings.security == "starttls":
                smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, settings.password)
    except (smtplib.SMTPException, OSError) as exc:
        if smtp is not None:
            smtp.close()
        raise MailServerUnreachable(
            f"Could not use the mail server at {settings.host}:{settings.port} "
            f"({settings.security}): {exc}"
        ) from exc
    return smtp


def message(row, settings, now):
    """The email of an outbox row: plain text with a simple HTML alternative."""
    name, address = parseaddr(settings.sender)
    if row.user is not None and row.user.discreet:
        name = NEUTRAL_NAME
    msg = EmailMessage()
    msg["From"] = formataddr((name, address)) if name else address
    msg["To"] = row.recipient
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-generated"
    if row.stop_url:
        # One-click unsubscribe (RFC 8058): mail apps offer it next to the sender.
        msg["List-Unsubscribe"] = f"<{row.stop_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(row.text)
    msg.add_alternative(row.html, subtype="html")
    return msg


def send_pending(ids=None, now=None):
    """Send the emails waiting in the outbox (only ``ids``, if given), each at
    most once; return the counts (sent, retry, failed, in doubt, expired).

    Each email is claimed in its own committed write before it is handed to
    the mail server, and marked sent after. A run that stops in between
    leaves it claimed, "in doubt", and no run sends it again. Call outside
    any transaction.
    """
    settings = smtp_settings()
    now = now or utcnow()
    result = Counter(expired=Outbox.expire(now))
    rows = list(Outbox.pending(ids))
    if not rows:
        return result
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    smtp = connect(settings)
    try:
        for row in rows:
            try:
                msg = message(row, settings, now)
            except (ValueError, TypeError) as exc:  # a header that cannot be written
                row.claim(now)
                row.refused(f"{type(exc).__name__}: {exc}", False, max_attempts, now)
                result["failed"] += 1
                continue
            if not row.claim(now):
                continue  # another run took it
            try:
                smtp.send_message(msg)
            except REFUSALS as exc:
                temporary, error = _refusal(exc)
                retry = temporary and row.attempts < max_attempts
                row.refused(error, temporary, max_attempts, now)
                result["retry" if retry else "failed"] += 1
            except (smtplib.SMTPException, OSError) as exc:
                # The message may or may not have reached the server: it stays
                # claimed and is never sent again. Stop: the connection is gone.
                log.warning("Sending email %s broke off: %s", row.id, exc)
                result["in doubt"] += 1
                break
            else:
                row.mark_sent(now)
                result["sent"] += 1
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return result
