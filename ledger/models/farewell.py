"""Deleting an account: what goes at once, and what stays in shared history.

A person's sessions, devices, calendar feed, reset links, drafts and queued
emails go at once; their memberships end through the normal leave path (so
the stored state, open requests and drafts follow, and a ledger whose last
partner goes is deleted with everything in it). The account row itself is
anonymised, never deleted: its name becomes "Former partner", its email and
password hash are removed, and its UUID stays, so the revisions, answers and
review answers it made stay in the other partners' record, unchanged, and
every chain and stored state still verifies.
"""

from ..db import write_transaction
from .accounts import DeviceSession, KnownDevice, PasswordReset, User
from .agreements import Draft
from .ledgers import Membership
from .mail import EmailConfirmation, Outbox
from .reviews import CalendarFeed

FORMER = "Former partner"
#: No password ever hashes to this: the account can't be signed in to.
DELETED = "!deleted"  # noqa: S105 - a marker, not a secret


def delete_account(user, now):
    """Delete ``user``'s account as above, in one transaction."""
    with write_transaction():
        for membership in Membership.select().where(
            (Membership.user == user.id) & Membership.left_at.is_null()
        ):
            membership.end("left", now)
        for model in (DeviceSession, KnownDevice, PasswordReset, CalendarFeed, EmailConfirmation):
            model.delete().where(model.user == user.id).execute()
        Draft.delete().where(Draft.author == user.id).execute()
        Outbox.delete().where(Outbox.user == user.id).execute()
        (
            User.update(
                display_name=FORMER,
                email="",
                email_key=f"deleted:{user.uuid}",
                password_hash=DELETED,
                discreet=False,
                remind_reviews=False,
                remind_answers=False,
            )
            .where(User.id == user.id)
            .execute()
        )
