"""Every route of the URL map, as anonymous and signed in: status and headers.

A new route fails ``test_every_route_is_listed`` until it is added to ROUTES
with the statuses it must answer.
"""

from dataclasses import dataclass, field

import pytest

from ledger.models import DeviceSession

from .helpers import PASSWORD, AuthActions


@dataclass
class Route:
    """Expected statuses, GET and POST (without a CSRF token)."""

    get: tuple = ()  # (anonymous, signed in)
    post: tuple = ()
    args: dict = field(default_factory=dict)


def own_device(app):
    with app.app_context():
        return {"device_id": DeviceSession.select().order_by(DeviceSession.id.desc()).first().id}


ROUTES = {
    "home.index": Route(get=(200, 200)),
    "static": Route(get=(200, 200), args={"filename": "style.css"}),
    "auth.register": Route(get=(200, 302), post=(400, 302)),
    "auth.login": Route(get=(200, 302), post=(400, 302)),
    "auth.logout": Route(get=(302, 200), post=(302, 400)),
    "auth.reset_password": Route(get=(404, 404), post=(404, 404), args={"token": "unknown"}),
    "settings.account": Route(get=(302, 200)),
    "settings.profile": Route(get=(405, 405), post=(302, 400)),
    "settings.password": Route(get=(405, 405), post=(302, 400)),
    "settings.sign_out_device": Route(get=(405, 405), post=(302, 400), args=own_device),
    "settings.sign_out_everywhere": Route(get=(405, 405), post=(302, 400)),
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def test_every_route_is_listed(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ROUTES)


def _cases(app):
    for rule in app.url_map.iter_rules():
        spec = ROUTES[rule.endpoint]
        args = spec.args(app) if callable(spec.args) else spec.args
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        for method, expected in (("GET", spec.get), ("POST", spec.post)):
            if expected:
                yield rule.endpoint, method, url, expected


@pytest.mark.parametrize("who", ["anonymous", "signed in"])
def test_walk_every_route(app, who):
    client = app.test_client()
    auth = AuthActions(client)
    auth.register()
    if who == "anonymous":
        auth.logout()
        AuthActions(app.test_client()).register(email="alex@example.org", name="Alex")
    index = 0 if who == "anonymous" else 1
    seen = 0
    for endpoint, method, url, expected in _cases(app):
        response = client.open(url, method=method, data={"email": "sam@example.org"})
        response.close()
        assert response.status_code == expected[index], (endpoint, method, who)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (endpoint, name)
        if endpoint != "static":
            assert response.headers["Cache-Control"] == "no-store", endpoint
        seen += 1
    assert seen >= len(ROUTES)
    # Nothing above signed anyone out: the walk changes nothing.
    if who == "signed in":
        assert client.get("/account").status_code == 200


def test_signed_in_walk_needs_a_real_password_to_change_anything(app):
    """POSTs in the walk carry no token; the password stays as it was."""
    client = app.test_client()
    AuthActions(client).register()
    client.post("/account/password", data={"current_password": PASSWORD, "new_password": "x" * 20})
    AuthActions(client).logout()
    assert AuthActions(client).login().status_code == 302
