"""Tokens, organisations and users: who may do what, and problem+json for everything else."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, auth

pytestmark = pytest.mark.db


def test_a_token_is_issued_for_the_right_password_only(client, admin_token):
    assert client.post("/api/v1/tokens", json={"username": "root", "password": "wrong"}).status_code == 401
    assert client.post("/api/v1/tokens", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    r = client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD})
    assert r.status_code == 201 and r.get_json()["token"] and r.get_json()["expires_at"]


def test_an_expired_or_unknown_token_is_401(client, app, registry, admin_token):
    assert client.get("/api/v1/orgs", headers=auth("nonsense")).status_code == 401
    assert client.get("/api/v1/orgs").status_code == 401
    from datetime import timedelta

    from sqlalchemy import update

    from registry.store.models import ApiToken
    from registry.store.log import utc_now

    with registry.writing() as uow:
        uow.session.execute(update(ApiToken).values(expires_at=utc_now() - timedelta(seconds=1)))
        uow.commit()
    r = client.get("/api/v1/orgs", headers=auth(admin_token))
    assert r.status_code == 401 and r.mimetype == "application/problem+json"


@pytest.mark.real_passwords
def test_passwords_are_stored_as_scrypt_hashes_and_sign_in_checks_them(client, registry, admin_token):
    from sqlalchemy import select

    from registry.store.models import User

    with registry.reading() as uow:
        stored = uow.session.execute(select(User.password_hash).where(User.username == "root")).scalar_one()
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD + "x"}).status_code == 401
    assert client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD}).status_code == 201


def test_tokens_are_stored_hashed(client, registry, admin_token):
    from sqlalchemy import select

    from registry.store.models import ApiToken

    with registry.reading() as uow:
        stored = list(uow.session.execute(select(ApiToken.token_hash)).scalars())
    assert admin_token not in stored and len(stored) == 1


def test_only_an_admin_registers_organisations_whatever_the_body(client, make_org):
    _, dealer = make_org("dealer")
    for body in ({"name": "x", "kind": "dealer", "license_no": "1", "region": "330206"}, {"nonsense": True}, None, [1, 2]):
        r = client.post("/api/v1/orgs", json=body, headers=auth(dealer))
        assert r.status_code == 403, body
        assert r.get_json()["code"] == "role_not_allowed"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "kind": "spaceship", "license_no": "1", "region": "330206"}, "kind"),
        ({"name": "x", "kind": "dealer", "license_no": "1", "region": "33"}, "region"),
        ({"name": "", "kind": "dealer", "license_no": "1", "region": "330206"}, "name"),
        ({"name": "x", "kind": "dealer", "license_no": "1", "region": "330206", "extra": 1}, "extra"),
        ({"name": ["x"], "kind": "dealer", "license_no": "1", "region": "330206"}, "name"),
        ({"name": "x" * 600, "kind": "dealer", "license_no": "1", "region": "330206"}, "name"),
    ],
)
def test_a_bad_organisation_is_a_422_naming_the_field_and_writes_nothing(client, admin_token, body, field):
    size = int(client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])
    r = client.post("/api/v1/orgs", json=body, headers=auth(admin_token))
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert field in r.get_json()["errors"]
    assert int(client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1]) == size


@pytest.mark.parametrize("raw", ["null", "[]", '"string"', "{", "42", ""])
def test_malformed_bodies_are_4xx_problems_never_500(client, admin_token, raw):
    r = client.post("/api/v1/orgs", data=raw, headers={**auth(admin_token), "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.mimetype == "application/problem+json"


def test_creating_an_organisation_is_a_log_event_and_users_can_sign_in(client, admin_token):
    r = client.post("/api/v1/orgs", json={"name": "北仑新碶电动车店", "kind": "dealer", "license_no": "JY1", "region": "330206"}, headers=auth(admin_token))
    assert r.status_code == 201
    org = r.get_json()
    assert org["index"] >= 1 and len(org["leaf_hash"]) == 64
    r = client.post(f"/api/v1/orgs/{org['id']}/users", json={"username": "clerk1", "password": PASSWORD}, headers=auth(admin_token))
    assert r.status_code == 201 and r.get_json()["org_id"] == org["id"]
    assert client.post(f"/api/v1/orgs/{org['id']}/users", json={"username": "clerk1", "password": PASSWORD}, headers=auth(admin_token)).status_code == 409
    assert client.post("/api/v1/orgs/nope/users", json={"username": "clerk2", "password": PASSWORD}, headers=auth(admin_token)).status_code == 404
    assert client.post("/api/v1/tokens", json={"username": "clerk1", "password": PASSWORD}).status_code == 201


def test_unknown_paths_and_methods_are_problems(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.delete("/api/v1/log/checkpoint")
    assert r.status_code == 405 and r.mimetype == "application/problem+json"
