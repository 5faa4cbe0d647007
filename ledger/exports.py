"""A partner downloads the whole ledger: JSON (to keep, verify or import) or a
readable Markdown document."""

from flask import Blueprint, Response
from flask_login import current_user, login_required

from . import portable
from .access import ledger_for

bp = Blueprint("exports", __name__, url_prefix="/ledgers/<id:ledger_id>")


@bp.get("/export.json")
@login_required
def json_file(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    return _download(
        portable.dumps(portable.export_ledger(ledger, current_user)),
        ledger,
        "json",
        "application/json",
    )


@bp.get("/export.md")
@login_required
def markdown_file(ledger_id):
    ledger = ledger_for(current_user, ledger_id)
    return _download(
        portable.to_markdown(portable.export_ledger(ledger, current_user)),
        ledger,
        "md",
        "text/markdown; charset=utf-8",
    )


def _download(text, ledger, extension, mimetype):
    response = Response(text, mimetype=mimetype)
    # The file is named by the ledger's UUID: its name stays out of file
    # names, download lists and logs.
    response.headers["Content-Disposition"] = (
        f'attachment; filename="ledger-{ledger.uuid}.{extension}"'
    )
    return response
