"""Each partner's private calendar feed of review dates (iCalendar).

The feed's address holds a secret token (only its hash is stored). It names
no agreement, no partner and no ledger: calendars are shared and synced to
other companies' servers. Each event is an all-day "Ledger: review of 3
agreements" on a review date, in its ledger's time zone (an overdue review
shows on today's date), with a reminder at 09:00 the day before.
"""

from datetime import timedelta

from flask import Blueprint, abort, make_response, session
from icalendar import Alarm, Calendar, Event

from .db import utcnow
from .models.reviews import CalendarFeed, feed_uid, upcoming_reviews
from .security import external_url

bp = Blueprint("calendar", __name__)

#: Calendar programs fetch a feed every few hours; this keeps a copy briefly
#: in the calendar program itself (``private``: never in a shared cache).
MAX_AGE = 900
#: The reminder: 09:00 on the day before an all-day event that starts at 00:00.
REMINDER = timedelta(hours=-15)


def feed_url(token):
    """The feed's address (built from LEDGER_BASE_URL), for the account page."""
    return external_url("calendar.feed", token=token)


def summary(count, discreet):
    """ "Ledger: review of 3 agreements", or neutral words for discretion."""
    if discreet:
        return "Notes: review" if count == 1 else f"Notes: review of {count}"
    noun = "agreement" if count == 1 else "agreements"
    return f"Ledger: review of {count} {noun}"


def build(user, reviews, now):
    """The feed as bytes: one all-day event per (ledger, date) in ``reviews``."""
    cal = Calendar()
    cal.add("prodid", "-//Notes//EN" if user.discreet else "-//Ledger//Review dates//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Notes" if user.discreet else "Ledger reviews")
    for day, count, ledger_uuid in reviews:
        title = summary(count, user.discreet)
        event = Event()
        event.add("uid", feed_uid(user.uuid, ledger_uuid, day.isoformat()))
        event.add("dtstamp", now)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", title)
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title)
        alarm.add("trigger", REMINDER)
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


@bp.get("/calendar/<token>.ics")
def feed(token):
    user = CalendarFeed.owner(token)
    if user is None:
        abort(404)
    # No cookie: a calendar program is not a visit (the session's CSRF
    # secret, given to every request, is not kept).
    session.modified = False
    now = utcnow()
    response = make_response(build(user, upcoming_reviews(user, now), now))
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'inline; filename="reviews.ics"'
    # The one response that may be kept (briefly, privately): see security.py.
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    return response
