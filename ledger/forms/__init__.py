"""The base form every user-typed value passes through."""

import unicodedata
from functools import cache
from zoneinfo import available_timezones

from flask import current_app, request, session
from wtforms import Form, StringField, TextAreaField
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import ValidationError

#: A failed CSRF check re-renders the form with this sentence.
CSRF_EXPLANATION = (
    "This page was open for a long time, or opened in another tab, so nothing "
    "was saved yet. Everything you typed is still here: please send it again."
)


class LedgerCSRF(SessionCSRF):
    """SessionCSRF that treats a session without a CSRF secret as a failure.

    WTForms' SessionCSRF raises KeyError (a 500) when the session lost its
    secret, for instance after the browser dropped the session cookie.
    """

    def validate_csrf_token(self, form, field):
        if "csrf" not in self.session:
            raise ValidationError("CSRF token missing.")
        super().validate_csrf_token(form, field)


class BaseForm(Form):
    """A form with a session CSRF token and no control characters.

    On POST it reads ``request.form``; otherwise it starts from defaults.
    """

    class Meta:
        csrf = True
        csrf_class = LedgerCSRF

        @property
        def csrf_secret(self):
            return current_app.config["SECRET_KEY"].encode()

        @property
        def csrf_context(self):
            return session

        @property
        def csrf_time_limit(self):
            return current_app.config["CSRF_TIME_LIMIT"]

    def __init__(self, *args, **kwargs):
        if not args and "formdata" not in kwargs and request.method == "POST":
            kwargs["formdata"] = request.form
        super().__init__(*args, **kwargs)

    def validate_on_submit(self):
        """Validate a POST; False for any other method."""
        return request.method == "POST" and self.validate()

    def validate(self, extra_validators=None):
        extra = {name: list(v) for name, v in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField):
                multiline = isinstance(field, TextAreaField)
                extra.setdefault(name, []).append(no_control_characters(multiline=multiline))
        return super().validate(extra)

    @property
    def csrf_failed(self):
        """True when the only thing wrong may be an expired or missing token."""
        return bool(self.meta.csrf and self.csrf_token.errors)

    @property
    def status(self):
        """The status to answer a re-rendered form with."""
        if request.method != "POST":
            return 200
        return 400 if self.csrf_failed else 422


#: Embedding, override and isolate controls: they can make a name or an
#: agreement read differently from what it says.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def no_control_characters(multiline=False):
    """Refuse control characters; tabs and newlines only where multiline."""
    allowed = {"\t", "\n", "\r"} if multiline else set()

    def check(form, field):
        value = field.data or ""
        if any(
            (unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed) or ch in BIDI_CONTROLS
            for ch in value
        ):
            raise ValidationError("This contains an invisible control character; please retype it.")

    return check


@cache
def time_zone_choices():
    """Return every IANA time zone name, sorted, as WTForms choices."""
    names = (n for n in available_timezones() if "/" in n or n == "UTC")
    return {name: name.replace("_", " ") for name in sorted(names)}
