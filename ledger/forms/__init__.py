"""The base form every user-typed value passes through."""

import unicodedata
from functools import cache
from importlib import resources
from zoneinfo import TZPATH, available_timezones

from flask import current_app, request, session
from markupsafe import Markup
from wtforms import Form, PasswordField, StringField, TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import ValidationError
from wtforms.widgets import HiddenInput

#: A failed CSRF check re-renders the form with this sentence.
CSRF_EXPLANATION = (
    "This page was open for a long time, or opened in another tab, so nothing "
    "was saved yet. Everything you typed is still here: please send it again."
)


class TokenInput(HiddenInput):
    """The CSRF token's hidden input as templates write it (``id=false``),
    put together directly: every form of every page has one, and WTForms'
    general attribute writer costs several times more than the whole tag.
    Any other call renders through WTForms as before."""

    def __call__(self, field, **kwargs):
        if len(kwargs) != 1 or kwargs.get("id") is not False:
            return super().__call__(field, **kwargs)
        return Markup('<input name="%s" type="hidden" value="%s">') % (field.name, field._value())


class TokenField(CSRFTokenField):
    widget = TokenInput()


class LedgerCSRF(SessionCSRF):
    """SessionCSRF that treats a session without a CSRF secret as a failure.

    WTForms' SessionCSRF raises KeyError (a 500) when the session lost its
    secret, for instance after the browser dropped the session cookie.
    """

    field_class = TokenField

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
                extra.setdefault(name, []).append(invisible_characters_rule(field))
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


class NameField(StringField):
    """A one-line name people know someone or something by (a display name, a
    ledger's name, an invitation's note): it refuses every invisible format
    character, so two names that look the same are the same."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "StringField"  # templates render it as any one-line text


#: Embedding, override and isolate controls: they can make a name or an
#: agreement read differently from what it says.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: Format characters that hide or disguise text, refused in everything others
#: read: the direction controls above, tag characters (invisible letters),
#: the byte-order mark, the deprecated swapping and shaping controls and the
#: interlinear annotation marks. The marks real writing needs stay allowed:
#: LRM, RLM and ALM (right-to-left text), ZWJ (emoji, Indic scripts), ZWNJ
#: (Persian), the soft hyphen and the zero-width space (Thai, Khmer).
DISGUISING = BIDI_CONTROLS | frozenset(
    ["\ufeff", "\ufff9", "\ufffa", "\ufffb"]
    + [chr(c) for c in range(0x206A, 0x2070)]
    + [chr(c) for c in range(0xE0000, 0xE0080)]
)

#: What a person is told they typed (they cannot see it).
INVISIBLE_NAMES = {
    "\u00ad": "a soft hyphen",
    "\u061c": "an Arabic letter mark",
    "\u180e": "a Mongolian vowel separator",
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u200e": "a left-to-right mark",
    "\u200f": "a right-to-left mark",
    "\u2060": "a word joiner",
    "\ufeff": "a byte-order mark",
}


def _describe(ch):
    if ch in INVISIBLE_NAMES:
        return INVISIBLE_NAMES[ch]
    if "\U000e0000" <= ch <= "\U000e007f":
        return "a tag character"
    return f"the character U+{ord(ch):04X}"


def _where(value, index):
    """Where the character is, in words: after the visible text before it."""
    line = value[:index].rsplit("\n", 1)[-1]
    seen = "".join(ch for ch in line if unicodedata.category(ch)[0] != "C").strip()
    return f"right after “{seen[-20:]}”" if seen else "at the very start"


def no_control_characters(multiline=False, kind="text"):
    """Refuse characters nobody can see that change what a text says.

    Every kind refuses control characters (tabs and line breaks are allowed
    where ``multiline``) and the direction controls. ``kind`` "text" (what
    partners read) also refuses the other DISGUISING characters; "name"
    refuses every format character (Unicode category Cf); "password" (never
    shown) refuses no more than it always did, so no one is locked out.
    """
    allowed = {"\t", "\n", "\r"} if multiline else set()

    def check(form, field):
        value = field.data or ""
        if not isinstance(value, str):
            return
        for index, ch in enumerate(value):
            category = unicodedata.category(ch)
            if category in ("Cc", "Cs") and ch not in allowed:
                raise ValidationError(
                    f"There is an invisible control character {_where(value, index)}. "
                    "Please delete it, or retype the text."
                )
            if ch in BIDI_CONTROLS:
                raise ValidationError(
                    f"There is an invisible control character {_where(value, index)} that "
                    "changes the direction of the text, so it can read differently from what "
                    "it says. Please delete it, or retype the text."
                )
            if (kind == "name" and category == "Cf") or (kind == "text" and ch in DISGUISING):
                raise ValidationError(
                    f"There is an invisible character ({_describe(ch)}) {_where(value, index)}."
                    " Please retype this without it."
                )

    return check


def invisible_characters_rule(field):
    """The check for ``field``: names refuse every invisible format character,
    passwords keep the rule they were set under, other text refuses what
    disguises it."""
    if isinstance(field, NameField):
        return no_control_characters(kind="name")
    if isinstance(field, PasswordField):
        return no_control_characters(kind="password")
    return no_control_characters(multiline=isinstance(field, TextAreaField))


#: The tz database's geographic regions, in the order the list shows them.
#: ``Etc/GMT+5`` (whose sign reads backwards) and ``EST``-like zones are left out.
TIME_ZONE_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def _tzdata_source():
    """Return the text of the tz database's ``tzdata.zi``, or "" if there is none.

    It is the same data ``zoneinfo`` reads: the system's, else the ``tzdata``
    package's, so the list and the zones Python can load always agree.
    """
    for directory in TZPATH:
        try:
            with open(f"{directory}/tzdata.zi", encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            continue
    try:
        return resources.files("tzdata.zoneinfo").joinpath("tzdata.zi").read_text("utf-8")
    except (ModuleNotFoundError, OSError):
        return ""


@cache
def _tz_database():
    """Return (canonical zone names, {link name: target}) from the tz database.

    Canonical zones are its ``Z`` (zone) lines; its ``L`` (link) lines name the
    old and alternative spellings, such as ``Asia/Calcutta`` for ``Asia/Kolkata``.
    """
    zones, links = set(), {}
    for line in _tzdata_source().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Z":
            zones.add(parts[1])
        elif len(parts) >= 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    if not zones:  # no tzdata.zi anywhere: every loadable name, without aliases
        zones = set(available_timezones())
    loadable = available_timezones()
    zones = {
        z for z in zones if z in loadable and z.split("/", 1)[0] in TIME_ZONE_REGIONS and "/" in z
    }
    return frozenset(zones), links


def canonical_time_zone(name):
    """Return the canonical name of a zone ("Asia/Calcutta" gives "Asia/Kolkata").

    Any spelling of UTC gives "UTC"; a name that is no alias comes back as it is.
    """
    if not isinstance(name, str):
        return name
    _, links = _tz_database()
    for _ in range(8):  # links point at zones; a chain would be a broken database
        if name not in links:
            break
        name = links[name]
    return "UTC" if name in ("Etc/UTC", "UTC") else name


def _zone_label(name):
    """ "America/Argentina/Buenos_Aires" reads "Buenos Aires, Argentina"."""
    places = name.split("/")[1:]
    return ", ".join(reversed(places)).replace("_", " ")


@cache
def time_zone_choices():
    """Return the canonical IANA zones as WTForms choices: UTC, then one group per region."""
    zones, _ = _tz_database()
    choices = {"UTC": "UTC"}
    for region in TIME_ZONE_REGIONS:
        names = sorted((z for z in zones if z.startswith(region + "/")), key=_zone_label)
        if names:
            choices[region] = {name: _zone_label(name) for name in names}
    return choices


@cache
def time_zone_links():
    """Return {alias: canonical zone} for every alias of a zone in the list (for app.js)."""
    zones, links = _tz_database()
    offered = zones | {"UTC"}
    aliases = {alias: canonical_time_zone(alias) for alias in [*links, "Etc/UTC"]}
    return {alias: zone for alias, zone in sorted(aliases.items()) if zone in offered}
