"""A body Python's json cannot read is a 400 problem, never a 500, on every JSON endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import auth

pytestmark = pytest.mark.db

HUGE_INTEGER = '{"kind": ' + "9" * 5000 + "}"  # json raises ValueError, not JSONDecodeError


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/orgs", "/api/v1/certificates", "/api/v1/models", "/api/v1/items/batch", "/api/v1/labels"])
def test_an_integer_too_long_for_python_is_a_400(client, admin_token, path):
    r = client.post(path, data=HUGE_INTEGER, content_type="application/json", headers=auth(admin_token))
    assert r.status_code in (400, 403) and r.mimetype == "application/problem+json", r.get_data()[:200]


def test_the_maker_gets_400_for_it_after_its_role_passed(client, make_org):
    _, token = make_org("manufacturer")
    r = client.post("/api/v1/models", data=HUGE_INTEGER, content_type="application/json", headers=auth(token))
    assert r.status_code == 400 and r.get_json()["code"] == "bad_request"
