"""Ledger: relationship agreements that partners set, change and revisit together."""

import logging
import os
import secrets

from flask import Flask

import config as config_module

from . import (
    agreements,
    auth,
    calendar,
    cli,
    errors,
    exports,
    filters,
    home,
    join,
    ledgers,
    navigation,
    pause,
    reviews,
    security,
    settings,
)
from .db import bind, db, make_database

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: Production refuses a SECRET_KEY shorter than this (in bytes).
MIN_SECRET_KEY_BYTES = 32


class ConfigurationError(RuntimeError):
    """The app cannot start safely with the configuration it was given."""


def create_app(test_config=None):
    """Create and configure a Ledger application."""
    app = Flask(
        __name__,
        template_folder=os.path.join(ROOT, "templates"),
        instance_path=os.environ.get("LEDGER_INSTANCE_PATH", os.path.join(ROOT, "instance")),
    )
    env = (test_config or {}).get("ENV_NAME") or os.environ.get("LEDGER_ENV", "development")
    if env not in config_module.CONFIGS:
        raise ConfigurationError(
            f"LEDGER_ENV must be development, production or testing, not {env!r}."
        )
    app.config.from_object(config_module.CONFIGS[env])
    if test_config:
        app.config.update(test_config)

    _check_configuration(app)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        path = os.path.join(app.instance_path, "ledger.sqlite3")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"
    app.config["DATABASE"] = make_database(app.config["DATABASE_URL"])
    bind(app)
    # peewee logs every query with its parameters at DEBUG: what people wrote.
    logging.getLogger("peewee").setLevel(logging.INFO)
    # FlaskDB hands each request a pooled connection and takes it back after;
    # this also gives back one opened in a bare app context (CLI, shell, tests).
    app.teardown_appcontext(_close_database)

    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    navigation.init_app(app)
    cli.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(ledgers.bp)
    app.register_blueprint(join.bp)
    app.register_blueprint(agreements.bp)
    app.register_blueprint(pause.bp)
    app.register_blueprint(reviews.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(exports.bp)

    if app.config["AUTO_UPGRADE_SCHEMA"]:
        from .schema import upgrade

        with db.database.connection_context():
            upgrade(db.database)
        # Keep no connection from here: a server that forks its workers after
        # creating the app (gunicorn --preload) must not share one.
        db.database.close_idle()
    return app


def _close_database(exc):
    if not db.database.is_closed():
        db.database.close()


def _check_configuration(app):
    """Refuse to start production without what keeps it safe."""
    if app.config["ENV_NAME"] == "production":
        key = app.config.get("SECRET_KEY") or ""
        if len(key.encode() if isinstance(key, str) else key) < MIN_SECRET_KEY_BYTES:
            # A short key can be guessed offline from one signed cookie, and
            # then sessions and CSRF tokens forged.
            raise ConfigurationError(
                f"Set SECRET_KEY to a long random value, at least {MIN_SECRET_KEY_BYTES} "
                "bytes, for example the output "
                "of `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        if not (app.config.get("BASE_URL") or "").startswith("https://"):
            raise ConfigurationError(
                "Set LEDGER_BASE_URL to the https:// address people use to reach this Ledger."
            )
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(app.instance_path)


def _development_secret(instance_path):
    """Keep one random development key in the instance folder across restarts."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()
