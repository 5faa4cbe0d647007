"""Ledger with one more page, served only by the benchmark: a signed-in page
that does nothing but answer. Measured beside the real pages, it shows what
every signed-in request pays before a page's own work (the session cookie,
the device and its account, the security headers), so each page's ratio can
be read against this ceiling as well as against the bare floor."""

from flask_login import login_required

from ledger import create_app

app = create_app()


@app.get("/bench/signed-in")
@login_required
def signed_in():
    return "ok"
