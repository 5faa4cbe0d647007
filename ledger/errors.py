"""Friendly error pages, with no stack traces."""

from flask import render_template
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: (
        "Something in that request didn't make sense",
        "Nothing was changed. Please go back and try again.",
    ),
    403: ("This isn't open to you", "Nothing was changed."),
    404: ("We couldn't find that page", "It may have moved, or it may not be yours to see."),
    405: (
        "That can't be done from here",
        "Nothing was changed. Please use the buttons on the page.",
    ),
    413: (
        "That was more than we can take in one go",
        "Nothing was saved. Please shorten the text and send it again.",
    ),
    429: (
        "Let's slow down for a moment",
        "There were many requests in a short time. Please wait a few minutes and try again.",
    ),
    500: (
        "Something went wrong on our side",
        "Nothing you wrote was shared. Please try again in a moment.",
    ),
}


def init_app(app):
    """Answer every HTTP error with a calm page of our own."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(InternalServerError, render_error)


def render_error(error):
    code = error.code if error.code in MESSAGES else 500
    title, message = MESSAGES[code]
    if request_ctx.url_adapter is None:
        # An untrusted Host header: no links can be built, answer in plain text.
        return f"{title}. {message}", code, {"Content-Type": "text/plain; charset=utf-8"}
    page = render_template("errors/error.html", code=code, title=title, message=message)
    response = error.get_response() if code == error.code else None
    headers = dict(response.headers) if response is not None else {}
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    return page, code, headers
