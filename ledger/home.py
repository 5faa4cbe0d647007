"""The front page: an introduction, or the way into your ledger."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from .access import current_ledger

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        ledger = current_ledger()
        if ledger is not None:
            return redirect(url_for("agreements.dashboard", ledger_id=ledger.id))
    return render_template("home/index.html")
