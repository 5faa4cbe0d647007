"""Template filters: times in the viewer's zone, readable device names.

Pure display helpers: this module imports nothing else of the app.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import current_user

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
