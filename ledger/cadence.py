"""When an agreement is next revisited: pure calendar arithmetic, no database.

An agreement's content may carry its review cadence (``review_every``, with
``review_weeks`` for "every N weeks") and the end of a trial
(``trial_until``, an ISO date). Content without them is reviewed quarterly:
agreements written before cadences existed keep their words and hash.

Dates are calendar dates in the ledger's time zone. Adding months clamps to
the month's last day: 31 January + 1 month is 28 (or 29) February, and a
quarter after 30 November is 28 (or 29) February.
"""

import calendar
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The cadences a proposal can choose, in the order the form offers them.
CADENCES = {
    "monthly": "Every month",
    "quarterly": "Every three months",
    "twice_a_year": "Twice a year",
    "yearly": "Once a year",
    "weeks": "Every few weeks (say how many)",
}
DEFAULT = "quarterly"
MONTHS = {"monthly": 1, "quarterly": 3, "twice_a_year": 6, "yearly": 12}
MIN_WEEKS, MAX_WEEKS = 1, 104


def zone(name):
    """The ledger's time zone; UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(moment, zone_name):
    """The calendar date of an aware time in a time zone."""
    return moment.astimezone(zone(zone_name)).date()


def add_months(day, months):
    """``day`` plus whole months, clamped to the last day of the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def cadence_of(content):
    """(cadence, weeks) of an agreement's content; quarterly when it names none."""
    every = (content or {}).get("review_every") or DEFAULT
    if every not in CADENCES:
        every = DEFAULT
    weeks = None
    if every == "weeks":
        try:
            weeks = int((content or {}).get("review_weeks") or 0)
        except (TypeError, ValueError):
            weeks = 0
        if not MIN_WEEKS <= weeks <= MAX_WEEKS:
            return DEFAULT, None
    return every, weeks


def trial_until(content):
    """The date a trial ends, or None."""
    value = (content or {}).get("trial_until") or ""
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def after(day, content):
    """The review date one cadence after ``day``."""
    every, weeks = cadence_of(content)
    if every == "weeks":
        return day + timedelta(weeks=weeks)
    return add_months(day, MONTHS[every])


def next_review(content, since, zone_name, trial_open=True):
    """The next review date of content in force: one cadence after ``since``
    (when it came into force or was last reaffirmed), in the ledger's zone.

    A trial's end comes first while the trial is open (no review has settled
    it since it came into force); then it is due on that date, even when that
    date had already passed.
    """
    due = after(local_date(since, zone_name), content)
    trial = trial_until(content) if trial_open else None
    return min(due, trial) if trial else due


def describe(content):
    """ "Every three months", "Every 6 weeks": the cadence in words."""
    every, weeks = cadence_of(content)
    if every == "weeks":
        return "Every week" if weeks == 1 else f"Every {weeks} weeks"
    return CADENCES[every]
