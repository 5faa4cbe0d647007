"""The base model and the helpers for secret tokens."""

import hashlib
import secrets

from ..db import db


class BaseModel(db.Model):
    pass


def new_token():
    """Return a fresh secret of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token):
    """Return the SHA-256 of a secret token; only this is ever stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def email_key(email):
    """Return the case-insensitive form of an email, for lookups and limits."""
    return email.strip().lower()
