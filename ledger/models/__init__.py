"""The models. Each owns its queries: views call their methods and never build
long queries inline."""

from .accounts import DeviceSession, KnownDevice, LoginFailure, PasswordReset, User
from .agreements import (
    KINDS,
    Activity,
    Agreement,
    Conflict,
    Consent,
    Draft,
    Reaffirmation,
    Revision,
    StoredState,
    Waiting,
)
from .base import BaseModel, email_key, new_token, token_hash
from .ledgers import Invitation, Ledger, Membership, Removal, RemovalConfirmation
from .mail import EmailConfirmation, Outbox, OutboxItem
from .pause import AgendaItem, CoolingOffConfirmation, CoolingOffRequest, PauseLog
from .reviews import CalendarFeed, Review, ReviewAnswer, ReviewItem

#: Every table, in dependency order.
MODELS = [
    User,
    Ledger,
    KnownDevice,
    DeviceSession,
    LoginFailure,
    PasswordReset,
    Invitation,
    Membership,
    Removal,
    RemovalConfirmation,
    Agreement,
    Revision,
    Consent,
    Draft,
    StoredState,
    Waiting,
    Activity,
    PauseLog,
    CoolingOffRequest,
    CoolingOffConfirmation,
    AgendaItem,
    Reaffirmation,
    Review,
    ReviewItem,
    ReviewAnswer,
    CalendarFeed,
    Outbox,
    OutboxItem,
    EmailConfirmation,
]

__all__ = [
    "AgendaItem",
    "CalendarFeed",
    "Reaffirmation",
    "Review",
    "ReviewAnswer",
    "ReviewItem",
    "CoolingOffConfirmation",
    "CoolingOffRequest",
    "PauseLog",
    "KINDS",
    "MODELS",
    "Agreement",
    "Conflict",
    "Consent",
    "Draft",
    "Revision",
    "StoredState",
    "Activity",
    "Waiting",
    "BaseModel",
    "DeviceSession",
    "EmailConfirmation",
    "Invitation",
    "KnownDevice",
    "Ledger",
    "LoginFailure",
    "Outbox",
    "OutboxItem",
    "Membership",
    "PasswordReset",
    "Removal",
    "RemovalConfirmation",
    "User",
    "email_key",
    "new_token",
    "token_hash",
]
