"""Command-line tasks: ``flask --app ledger db upgrade``, ``reset-link``,
``send-reminders``."""

import json
import os

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import exportcheck, mail, portable, schema
from .backup import backup_to
from .chain import verify_all
from .db import db, is_sqlite, utcnow
from .models import Ledger, PasswordReset, Removal, User
from .security import external_url

db_cli = AppGroup("db", help="Create and upgrade the database schema.")


def init_app(app):
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(db_cli)
    app.cli.add_command(reset_link)
    app.cli.add_command(verify)
    app.cli.add_command(settle_removals)
    app.cli.add_command(send_reminders)


@click.command("verify")
@click.argument("export", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def verify(export):
    """Check every hash chain, and every stored state against a replay of its
    history; exit non-zero at the first difference. With EXPORT, check the
    chains of an export file instead, with no database."""
    if export is not None:
        raise SystemExit(exportcheck.main(["verify", export]))
    with db.database.connection_context():
        checked, links, broken = verify_all()
    if broken is not None:
        click.echo(str(broken), err=True)
        raise SystemExit(1)
    click.echo(
        f"All {checked} agreement chains verify ({links} links), "
        "and every stored state matches its history."
    )


@click.command("export")
@click.argument("ledger_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--markdown", is_flag=True, help="A readable document instead of JSON.")
@with_appcontext
def export_command(ledger_id, output, markdown):
    """Export a whole ledger (by its id or UUID) as JSON, or as Markdown."""
    with db.database.connection_context():
        ledger = Ledger.by_id_or_uuid(ledger_id)
        if ledger is None:
            raise click.ClickException(f"No ledger has the id or UUID {ledger_id}.")
        data = portable.export_ledger(ledger)
    text = portable.to_markdown(data) if markdown else portable.dumps(data)
    if output:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
        click.echo(f"Exported “{ledger.name}” to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(file):
    """Restore a ledger from an export, in one transaction (nothing changes if it fails)."""
    try:
        if os.path.getsize(file) > portable.MAX_BYTES:
            raise portable.ImportRefused(
                f"The file is larger than {portable.MAX_BYTES // 2**20} MB: not an export."
            )
        with open(file, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except ValueError as exc:
                raise portable.ImportRefused(f"The file is not complete JSON ({exc}).") from exc
        with db.database.connection_context():
            ledger, placeholders = portable.import_ledger(data)
    except portable.ImportRefused as refused:
        raise click.ClickException(f"Nothing was imported. {refused}") from refused
    click.echo(f"Imported “{ledger.name}” (ledger {ledger.id}).")
    if placeholders:
        click.echo(
            f"{placeholders} partner(s) had no account here and got a placeholder that cannot "
            "sign in: each claims it with `flask --app ledger reset-link UUID`."
        )


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(path):
    """Copy the SQLite database to PATH while the app keeps serving."""
    if not is_sqlite():
        raise click.ClickException(
            "This Ledger runs on PostgreSQL: back it up with pg_dump (see the README)."
        )
    with db.database.connection_context():
        backup_to(path)
    click.echo(f"Backed up to {path}.")


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
    """Print a single-use link, valid for one hour, to set a new password.

    EMAIL may also be an account's UUID: a placeholder account made by an
    import is claimed this way.
    """
    with db.database.connection_context():
        user = User.by_email_or_uuid(email)
        if user is None:
            raise click.ClickException(f"No account uses the email {email}.")
        lifetime = current_app.config["RESET_LINK_LIFETIME"]
        token = PasswordReset.issue(user, lifetime)
    click.echo(external_url("auth.reset_password", token=token))
    minutes = int(lifetime.total_seconds() // 60)
    click.echo(
        f"It works once, for {minutes} minutes. Give it only to {user.display_name}.", err=True
    )


@click.command("send-reminders")
@with_appcontext
def send_reminders():
    """Queue the reminders that are due and send every email waiting in the
    outbox, each at most once. Safe to run as often as you like (cron, a
    systemd timer); without LEDGER_SMTP_HOST, print what it would send."""
    now = utcnow()
    with db.database.connection_context():
        if not mail.enabled():
            _print_preview(mail.preview(now))
            return
        try:
            mail.smtp_settings()  # wrong settings: say so before queueing anything
            queued = mail.queue_reminders(now)
            result = mail.send_pending(now=now)
        except (mail.MailSettingsError, mail.MailServerUnreachable) as exc:
            raise click.ClickException(
                f"{exc} Nothing was sent; the emails wait for the next run."
            ) from exc
    click.echo(f"Queued {queued} reminder(s); sent {result['sent']} email(s).")
    notes = {
        "retry": "turned away by the mail server for now; they are tried again at the next run",
        "failed": "refused by the mail server, or tried too often; they are given up",
        "expired": "not sent before their links expired; they are given up",
        "in doubt": "may or may not have gone out (the connection broke while sending); "
        "they are never sent again",
    }
    for name, note in notes.items():
        if result[name]:
            click.echo(f"{result[name]} email(s) {note}.", err=True)
    if result["in doubt"]:
        raise SystemExit(1)


def _print_preview(emails):
    click.echo(
        "Email is not set up (LEDGER_SMTP_HOST is empty), so nothing is sent. "
        f"With it, this run would send {len(emails)} email(s)."
    )
    for recipient, subject, text in emails:
        click.echo(f"\nTo: {recipient}\nSubject: {subject}\n\n{text.rstrip()}")


@click.command("settle-removals")
@with_appcontext
def settle_removals():
    """Carry out the removals whose 7-day notice period has ended (each in a
    write that holds its ledger). Safe to run as often as you like, from a
    timer; the first request that touches such a ledger does it as well."""
    with db.database.connection_context():
        removed = Removal.carry_out_due()
    click.echo(f"Carried out {removed} removal(s) whose notice period had ended.")
