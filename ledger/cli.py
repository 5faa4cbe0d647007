"""Command-line tasks: ``flask --app ledger db upgrade``, ``reset-link``."""

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import schema
from .chain import verify_all
from .db import db
from .models import PasswordReset, User
from .security import external_url

db_cli = AppGroup("db", help="Create and upgrade the database schema.")


def init_app(app):
    app.cli.add_command(db_cli)
    app.cli.add_command(reset_link)
    app.cli.add_command(verify)


@click.command("verify")
@with_appcontext
def verify():
    """Check every hash chain, and every stored state against a replay of its
    history; exit non-zero at the first difference."""
    with db.database.connection_context():
        checked, links, broken = verify_all()
    if broken is not None:
        click.echo(str(broken), err=True)
        raise SystemExit(1)
    click.echo(
        f"All {checked} agreement chains verify ({links} links), "
        "and every stored state matches its history."
    )


@db_cli.command("upgrade")
@click.option("--to", "target", help="Stop after this migration (NNNN_name).")
def upgrade(target):
    """Apply every migration that has not run yet."""
    with db.database.connection_context():
        applied = schema.upgrade(db.database, target)
    if applied:
        click.echo(f"Applied {len(applied)} migration(s): {', '.join(applied)}.")
    else:
        click.echo("The database is up to date.")


@db_cli.command("status")
def status():
    """List migrations and whether each has been applied."""
    with db.database.connection_context():
        rows = schema.runner(db.database).status()
    for row in rows:
        click.echo(f"{'applied' if row.applied else 'pending'}  {row.name}")


@click.command("reset-link")
@click.argument("email")
@with_appcontext
def reset_link(email):
    """Print a single-use link, valid for one hour, to set a new password."""
    with db.database.connection_context():
        user = User.by_email(email)
        if user is None:
            raise click.ClickException(f"No account uses the email {email}.")
        lifetime = current_app.config["RESET_LINK_LIFETIME"]
        token = PasswordReset.issue(user, lifetime)
    click.echo(external_url("auth.reset_password", token=token))
    minutes = int(lifetime.total_seconds() // 60)
    click.echo(
        f"It works once, for {minutes} minutes. Give it only to {user.display_name}.", err=True
    )
