"""Helpers for the page tests: organisations with a user who logs in through /login, and that login."""

from __future__ import annotations

import re
import uuid

from tests.conftest import PASSWORD, auth

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_web_user(client, admin_token: str, kind: str, name: str | None = None, region: str = "330206") -> tuple[dict, str]:
    """Create an organisation of *kind* with one user; return (the organisation, the username)."""
    r = client.post("/api/v1/orgs", headers=auth(admin_token), json={
        "name": name or f"{kind} {uuid.uuid4().hex[:6]}", "kind": kind, "license_no": f"L-{uuid.uuid4().hex[:8]}",
        "region": region})
    assert r.status_code == 201, r.get_json()
    org = r.get_json()
    username = f"{kind}-{uuid.uuid4().hex[:8]}"
    r = client.post(f"/api/v1/orgs/{org['id']}/users", json={"username": username, "password": PASSWORD}, headers=auth(admin_token))
    assert r.status_code == 201, r.get_json()
    return org, username


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log *client* in through the login form; return the response to the form's POST."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def token_for(username: str, client) -> str:
    """Return a bearer token for a user (to set up data through the API)."""
    r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["token"]
