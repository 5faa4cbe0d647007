"""Configuration classes; each reads its settings from the environment.

``create_app`` picks the class named by ``LEDGER_ENV`` (development,
production or testing) and then applies the mapping a test passes in.
"""

import os
from datetime import timedelta

#: The hash every new password gets. werkzeug's default (scrypt at n=2**15)
#: sits below OWASP ASVS 5.0 V11.4.2; PBKDF2-HMAC-SHA256 at 1,000,000
#: iterations meets it. A weaker stored hash is upgraded at the next login.
PRODUCTION_PASSWORD_HASH = "pbkdf2:sha256:1000000"  # noqa: S105 (a method, not a secret)


def _env_int(name, default):
    return int(os.environ.get(name, default))


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    DATABASE_URL = os.environ.get("LEDGER_DATABASE_URL")  # None: instance file
    BASE_URL = os.environ.get("LEDGER_BASE_URL", "http://127.0.0.1:5000")
    #: How many reverse proxies in front of the app set X-Forwarded-For/-Proto.
    PROXY_COUNT = _env_int("LEDGER_PROXY_COUNT", 0)
    AUTO_UPGRADE_SCHEMA = False

    PASSWORD_HASH_METHOD = PRODUCTION_PASSWORD_HASH
    PASSWORD_MIN_SCORE = 3

    #: Requests larger than this are answered 413 before any form is parsed.
    MAX_CONTENT_LENGTH = 512 * 1024
    #: CSRF tokens stay valid long enough to write a long agreement.
    CSRF_TIME_LIMIT = timedelta(hours=8)

    #: So no one partner can make the others' pages huge: private drafts per
    #: partner per ledger, and agreements in force or proposed per ledger.
    MAX_DRAFTS_PER_PARTNER = 100
    MAX_AGREEMENTS_PER_LEDGER = 1000

    #: Login throttling, stored in the database so it holds across workers.
    #: Wrong current passwords on the account page and every registration
    #: attempt count too; a known device counts only its own failures, under
    #: the per-email limit.
    LOGIN_WINDOW = timedelta(minutes=15)
    LOGIN_MAX_FAILURES_PER_EMAIL = 10
    LOGIN_MAX_FAILURES_PER_ADDRESS = 50

    #: A device that is not remembered is signed out when the browser closes,
    #: and on the server after this long at the latest.
    SESSION_ABSOLUTE = timedelta(hours=24)
    #: "Remember this device": 30 days of inactivity, 90 days at most.
    REMEMBER_IDLE = timedelta(days=30)
    REMEMBER_ABSOLUTE = timedelta(days=90)
    RESET_LINK_LIFETIME = timedelta(hours=1)

    #: Email. No host: Ledger sends nothing (``send-reminders`` prints what it
    #: would send) and accounts keep working without email. SMTP_SECURITY is
    #: "starttls" (upgrade a plain connection, usually port 587), "tls"
    #: (TLS from the start, usually port 465) or "none" (only for a relay on
    #: the same machine).
    SMTP_HOST = os.environ.get("LEDGER_SMTP_HOST") or None
    #: None: 587 for starttls, 465 for tls, 25 for none.
    SMTP_PORT = os.environ.get("LEDGER_SMTP_PORT") or None
    SMTP_SECURITY = os.environ.get("LEDGER_SMTP_SECURITY", "starttls")
    SMTP_USER = os.environ.get("LEDGER_SMTP_USER") or None
    SMTP_PASSWORD = os.environ.get("LEDGER_SMTP_PASSWORD") or None
    #: The sender, e.g. "Ledger <ledger@example.org>".
    MAIL_FROM = os.environ.get("LEDGER_MAIL_FROM") or None
    #: Seconds to wait for the mail server before giving up on a connection.
    SMTP_TIMEOUT = 30
    #: Links sent to confirm an address (registering, changing one's email).
    EMAIL_LINK_LIFETIME = timedelta(hours=24)
    #: At most this many emails with a link (reset, confirm, "you already have
    #: an account") go to one address per hour, so nobody can fill an inbox.
    MAIL_LINKS_PER_HOUR = 3
    #: An email the mail server turned away for now is tried again at the next
    #: runs, this many times in all.
    MAIL_MAX_ATTEMPTS = 5

    SESSION_COOKIE_NAME = "ledger_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_NAME = "ledger_remember"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    # flask-login's refresh-each-request would remember every session; the
    # loader refreshes the cookie of remembered devices instead (daily).
    REMEMBER_COOKIE_REFRESH_EACH_REQUEST = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    #: A browser that logged in with the password stays known (held only to
    #: its own failed logins) until a year after its last login there.
    DEVICE_COOKIE_NAME = "ledger_device"
    KNOWN_DEVICE_LIFETIME = timedelta(days=365)

    HSTS = False


class DevelopmentConfig(Config):
    """Local use: the schema is created and upgraded on start."""

    ENV_NAME = "development"
    AUTO_UPGRADE_SCHEMA = True


class ProductionConfig(Config):
    """Behind HTTPS: secure cookies with the __Host- prefix, HSTS."""

    ENV_NAME = "production"
    BASE_URL = os.environ.get("LEDGER_BASE_URL")
    SESSION_COOKIE_NAME = "__Host-ledger_session"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_NAME = "__Host-ledger_remember"
    REMEMBER_COOKIE_SECURE = True
    DEVICE_COOKIE_NAME = "__Host-ledger_device"
    HSTS = True
    #: Host names this app answers to; default: the host of LEDGER_BASE_URL.
    TRUSTED_HOSTS = [
        h.strip() for h in os.environ.get("LEDGER_TRUSTED_HOSTS", "").split(",") if h.strip()
    ] or None


class TestingConfig(Config):
    """The test suite: a cheap password hash so tests stay quick."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
    BASE_URL = "http://ledger.test"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105
    #: Tests that send email start their own server and say so.
    SMTP_HOST = None


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}
