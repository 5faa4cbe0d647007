"""Headers on every response, trusted hosts, proxies and links to ourselves."""

import re
from urllib.parse import urlsplit

from flask import abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, ValidationError

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def init_app(app):
    """Install proxy handling, trusted hosts, id URLs, the session and the response headers."""
    app.url_map.converters["id"] = IdConverter
    app.session_interface = SessionInterface()
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    if app.config["ENV_NAME"] == "production" and not app.config.get("TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = [urlsplit(app.config["BASE_URL"]).hostname]
    app.after_request(add_headers)


#: Static files served from the root rather than /static/ (the service
#: worker's scope is the folder it is served from).
STATIC_AT_ROOT = ("/sw.js",)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, left unopened for static files: a
    stylesheet, an icon or the service worker neither checks nor rewrites the
    cookie."""

    def open_session(self, app, request):
        if request.path.startswith(f"{app.static_url_path}/") or request.path in STATIC_AT_ROOT:
            return None  # Flask puts an empty session in its place
        return super().open_session(app, request)


def add_headers(response):
    """Set the security headers; pages that may be private are never stored."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # A calendar feed keeps its own short, private caching (it sets no cookie).
    feed = request.endpoint == "calendar.feed" and response.status_code == 200
    if request.endpoint != "static" and not feed:
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    if current_app.config["HSTS"]:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def external_url(endpoint, **values):
    """Build an absolute link from LEDGER_BASE_URL, never from the Host header."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def safe_next(target):
    """Return ``target`` if it is a path on this site, else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


#: The largest id or revision number the database holds (PostgreSQL's
#: integer): a larger number in a URL names nothing, so it is a 404, never a
#: number the database driver refuses (a 500).
MAX_ID = 2**31 - 1

WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,9}")


def bounded_id(text):
    """Return ``text`` as an id from 1 to MAX_ID, or None."""
    if not WHOLE_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def int_arg(name, default=None):
    """Return the query string's whole number ``name``, from 1 to MAX_ID.

    Absent or empty gives ``default``; anything else (words, zero, a minus
    sign, a number too large) is answered 404, like a missing object.
    """
    text = request.args.get(name, "")
    if text == "":
        return default
    number = bounded_id(text)
    if number is None:
        abort(404)
    return number


class IdConverter(BaseConverter):
    """A positive database id; anything else (or too large) is a 404."""

    regex = WHOLE_NUMBER.pattern
    part_isolating = True

    def to_python(self, value):
        number = bounded_id(value)
        if number is None:
            raise ValidationError()  # no route matches: 404
        return number

    def to_url(self, value):
        return str(int(value))
