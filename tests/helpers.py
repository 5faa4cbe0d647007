"""Helpers for tests: forms with CSRF tokens, signing in, cookies."""

import re

PASSWORD = "quiet harbour lantern 42"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, url):
    """GET a page and return the CSRF token of its first form."""
    response = client.get(url)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def post_form(client, url, data, page=None, **kwargs):
    """POST ``data`` with a valid CSRF token taken from ``page`` (or ``url``)."""
    token = csrf_token(client, page or url)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


class AuthActions:
    """Register, log in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def register(
        self, email="sam@example.org", name="Sam", password=PASSWORD, time_zone="Europe/Berlin"
    ):
        return post_form(
            self.client,
            "/register",
            {"email": email, "display_name": name, "password": password, "time_zone": time_zone},
        )

    def login(self, email="sam@example.org", password=PASSWORD, remember=False, **kw):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return post_form(self.client, "/login", data, **kw)

    def logout(self):
        return post_form(self.client, "/logout", {})


def cookie_value(client, name):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


LINK_RE = re.compile(r'id="invitation-link"[^>]*value="([^"]+)"')


def create_ledger(client, name="Sam & Alex", time_zone="Europe/Berlin"):
    """Start a ledger through the form; return its id."""
    response = post_form(client, "/ledgers/new", {"name": name, "time_zone": time_zone})
    assert response.status_code == 302, response.status_code
    return int(response.headers["Location"].rsplit("/", 1)[1])


def invite(client, ledger_id, note="for a partner"):
    """Create an invitation; return (its id, the join path from its link)."""
    response = post_form(
        client, f"/ledgers/{ledger_id}/invitations", {"note": note}, page=f"/ledgers/{ledger_id}"
    )
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    page = client.get(location).get_data(as_text=True)
    link = LINK_RE.search(page).group(1)
    return int(location.rsplit("/", 1)[1]), link.removeprefix("http://ledger.test")


def join(client, path):
    """Confirm joining through an invitation path; return the response."""
    return post_form(client, path, {})


HASH_RE = re.compile(r'name="content_hash" type="hidden" value="([0-9a-f]{64})"')


def propose(client, ledger_id, kind="general", **fields):
    """Propose a new agreement through the form; return its page path."""
    data = {
        "title": "Our Sunday check-in",
        "text": "Half an hour, every Sunday.",
        "reason": "",
        "action": "propose",
        **fields,
    }
    response = post_form(client, f"/ledgers/{ledger_id}/agreements/new/{kind}", data)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return response.headers["Location"]


def answer(client, path, number, decision="accept", note=""):
    """Answer revision ``number`` of the agreement at ``path`` as shown."""
    page = client.get(path).get_data(as_text=True)
    match = HASH_RE.search(page)
    assert match, "no answer form on the agreement page"
    return post_form(
        client,
        f"{path}/revisions/{number}/answer",
        {"decision": decision, "note": note, "content_hash": match.group(1)},
        page=path,
    )


#: A pause signal's fields as the form posts them.
PAUSE_SIGNAL = {
    "signal": "A T with both hands",
    "meaning": "I'm flooded and need to stop.",
    "who_may_call": "Any of us",
    "minimum_minutes": "20",
    "grounding": "Separate rooms, slow breathing.",
    "way_back_who": "The one who called it",
    "way_back_hours": "2",
}


def person(app, name):
    """A new client, registered (and signed in) as ``name``."""
    client = app.test_client()
    response = AuthActions(client).register(email=f"{name}@example.org", name=name.title())
    assert response.status_code == 302
    return client
