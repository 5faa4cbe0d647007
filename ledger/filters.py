"""Template filters: times in the viewer's zone, readable device names."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import current_user

from .access import current_ledger, my_ledgers
from .agreements import waiting_count
from .forms import CSRF_EXPLANATION
from .forms.ledgers import SwitchLedgerForm
from .models import KINDS

BROWSERS = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
]


def init_app(app):
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        csrf_explanation=CSRF_EXPLANATION,
        current_ledger=current_ledger,
        waiting_count=waiting_count,
        kind_label=KINDS.get,
        kinds_labels=KINDS.items,
        my_ledgers=my_ledgers,
        switch_form=lambda: SwitchLedgerForm(
            formdata=None, ledgers=my_ledgers(), ledger=getattr(current_ledger(), "id", None)
        ),
    )
    app.add_template_filter(local_time)
    app.add_template_filter(device_label)


def local_time(value, fmt="%-d %B %Y, %H:%M"):
    """Format an aware UTC datetime in the signed-in user's time zone."""
    if value is None:
        return ""
    zone_name = getattr(current_user, "time_zone", None) or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime(fmt)


def device_label(user_agent):
    """Name a device from its User-Agent, e.g. "Firefox on Android"."""
    ua = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in ua), "A browser")
    system = next((name for mark, name in SYSTEMS if mark in ua), None)
    return f"{browser} on {system}" if system else browser
