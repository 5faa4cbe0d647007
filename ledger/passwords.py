"""Password hashing at the configured strength, with upgrade on login."""

from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash


def hash_password(password):
    """Hash a password exactly as typed, with the configured method."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def needs_rehash(password_hash):
    """Tell whether a stored hash is weaker than (or unlike) the configured one."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    return password_hash.split("$", 1)[0] != method


@cache
def _dummy_hash(method):
    return generate_password_hash("not a real password", method=method)


def verify_nobody(password):
    """Spend the same time as a real check when the email is unknown."""
    check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
    return False


def verify(password_hash, password):
    """Check a password against a stored hash."""
    return check_password_hash(password_hash, password)
