"""A small city driven only over HTTP: the issue's whole lifecycle, refusals included."""

from __future__ import annotations

import base64

import pytest
from stdnum.cn import ric

from tests.conftest import auth

pytestmark = pytest.mark.db

BUYER_ID = "33020619900101123" + ric.calc_check_digit("33020619900101123" + "0")
BUYER = {"name": "张三", "id_number": BUYER_ID, "phone": "13800138000"}


def size(client):
    return int(client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])


def post(client, token, body, **kw):
    return client.post("/api/v1/events", json=body, headers={**auth(token), **kw})


@pytest.fixture
def city(client, make_org, make_catalogue):
    cat = make_catalogue()
    orgs = {kind: make_org(kind) for kind in ("dealer", "registration_point", "repair_shop", "recycler",
                                             "investigator", "regulator", "swap_operator")}
    orgs["dealer2"] = make_org("dealer")
    v = cat.commission("vehicle")[0]
    b = cat.commission("battery")[0]
    c = cat.commission("charger")[0]
    big = cat.commission("battery", model=cat.larger_battery_model)[0]
    spare = cat.commission("battery")[0]
    return cat, orgs, v, b, c, big, spare


def ship_and_receive(client, cat_token, receiver, item, from_token=None):
    kind = item["kind"]
    r = post(client, from_token or cat_token, {"kind": "ship", kind: item["identifier"], "to": receiver[0]["id"]})
    assert r.status_code == 201, r.get_json()
    r = post(client, receiver[1], {"kind": "receive", kind: item["code"]})
    assert r.status_code == 201, r.get_json()


def check(client, token, **parts):
    r = client.post("/api/v1/checks/sale", json=parts, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_city_goes_through_the_lifecycle_and_the_rules_refuse_what_policy_forbids(client, city, runner):
    cat, orgs, v, b, c, big, spare = city
    dealer, dealer2 = orgs["dealer"], orgs["dealer2"]
    sale = {"vehicle": v["code"], "battery": b["code"], "charger": c["identifier"]}

    # the sale check fails before receiving …
    before = check(client, dealer[1], **sale)
    assert not before["ok"] and {p["code"] for p in before["problems"]} == {"not_in_dealer_stock"}
    assert all(p["message"] for p in before["problems"])
    for item in (v, b, c, big):
        ship_and_receive(client, cat.token, dealer, item)
    # … and passes after
    assert check(client, dealer[1], **sale) == {"ok": True, "problems": []}

    # a non-approved (larger) battery fails the check and the sale, naming the rule
    wrong = {**sale, "battery": big["identifier"]}
    assert [p["code"] for p in check(client, dealer[1], **wrong)["problems"]] == ["battery_not_approved_for_model"]
    n = size(client)
    r = post(client, dealer[1], {"kind": "sell", **wrong, "buyer": BUYER})
    assert r.status_code == 409 and r.get_json()["code"] == "sale_refused"
    assert r.get_json()["problems"][0]["subject"] == "battery"

    # a split sale (no battery) is refused
    r = post(client, dealer[1], {"kind": "sell", "vehicle": v["code"], "charger": c["code"], "buyer": BUYER})
    assert r.status_code == 409 and "battery_missing" in {p["code"] for p in r.get_json()["problems"]}
    assert size(client) == n  # refusals leave nothing behind

    # the sale, then the same sale again
    r = post(client, dealer[1], {"kind": "sell", **sale, "buyer": BUYER})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["index"] == n  # the accepted event follows the last accepted one directly
    assert post(client, dealer[1], {"kind": "sell", **sale, "buyer": BUYER}).status_code == 409

    # another dealer cannot sell stock it does not hold
    r = post(client, dealer2[1], {"kind": "sell", "vehicle": v["code"], "battery": big["code"], "charger": c["code"], "buyer": BUYER})
    assert r.status_code == 409 and "not_in_dealer_stock" in {p["code"] for p in r.get_json()["problems"]}

    # a dealer cannot register; the registration point can
    reg = {"kind": "register", "vehicle": v["identifier"], "plate": "浙B·A0001",
           "owner": {"name": "张三", "id_type": "resident_id", "id_number": BUYER_ID, "phone": "13800138000"}}
    assert post(client, dealer[1], reg).status_code == 403
    r = post(client, orgs["registration_point"][1], reg)
    assert r.status_code == 201, r.get_json()
    item = client.get(f"/api/v1/items/vehicle/{v['identifier']}", headers=auth(dealer[1])).get_json()
    assert item["state"] == "registered"

    # an approved swap works, a larger battery is refused
    shop = orgs["repair_shop"]
    ship_and_receive(client, cat.token, shop, spare)
    big2 = cat.commission("battery", model=cat.larger_battery_model)[0]
    ship_and_receive(client, cat.token, shop, big2)
    r = post(client, shop[1], {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"], "new_battery": big2["code"]})
    assert r.status_code == 409 and r.get_json()["code"] == "swap_refused"
    assert "battery_not_approved_for_model" in {p["code"] for p in r.get_json()["problems"]}
    r = post(client, shop[1], {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"], "new_battery": spare["code"]})
    assert r.status_code == 201, r.get_json()

    # the removed battery goes to a recycler; a dealer cannot retire, a recycler can, once
    recycler = orgs["recycler"]
    ship_and_receive(client, None, recycler, b, from_token=shop[1])
    assert post(client, dealer[1], {"kind": "retire", "battery": b["code"]}).status_code == 403
    assert post(client, recycler[1], {"kind": "retire", "battery": b["code"]}).status_code == 201
    assert post(client, recycler[1], {"kind": "retire", "battery": b["code"]}).status_code == 409

    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output


def test_no_log_entry_holds_a_name_id_number_or_phone_and_erasure_keeps_the_log_valid(client, city, admin_token, runner, registry):
    cat, orgs, v, b, c, big, spare = city
    for item in (v, b, c):
        ship_and_receive(client, cat.token, orgs["dealer"], item)
    r = post(client, orgs["dealer"][1], {"kind": "sell", "vehicle": v["code"], "battery": b["code"], "charger": c["code"], "buyer": BUYER})
    assert r.status_code == 201
    bodies = [base64.b64decode(client.get(f"/api/v1/log/entries/{i}").get_json()["body"]).decode() for i in range(size(client))]
    for body in bodies:
        assert "张三" not in body and BUYER_ID not in body and "13800138000" not in body
    pseudonym = registry.vault.pseudonym("resident_id", BUYER_ID)
    assert any(pseudonym in body for body in bodies)
    assert client.delete(f"/api/v1/persons/{pseudonym}", json={"reason": "PIPL 删除请求"}, headers=auth(orgs["dealer"][1])).status_code == 403
    r = client.delete(f"/api/v1/persons/{pseudonym}", json={"reason": "PIPL 删除请求"}, headers=auth(admin_token))
    assert r.status_code == 204
    assert client.delete(f"/api/v1/persons/{pseudonym}", json={"reason": "again"}, headers=auth(admin_token)).status_code == 404
    assert runner.invoke(args=["verify-log"]).exit_code == 0


@pytest.mark.parametrize("body", [
    None, [], "string", 42, {"kind": "teleport"}, {"kind": 7}, {"kind": "sell", "vehicle": 5},
    {"kind": "sell", "vehicle": "1" * 600, "charger": "x", "buyer": BUYER},
    {"kind": "ship", "vehicle": {"id": "x"}, "to": "y"}, {"kind": "sell", "vehicle": None},
    {"kind": "sell", "vehicle": "117322600000001", "charger": "x", "buyer": {"name": "李四", "id_number": "330206199001011230"}},
    {"kind": "retire"}, {"kind": "register", "vehicle": "117322600000001", "plate": "浙B1", "owner": "张三"},
    {"kind": "commission"},
])
def test_malformed_bodies_are_4xx_problems_never_500(client, city, body):
    _, orgs, *_ = city
    for token in (orgs["dealer"][1], orgs["recycler"][1], orgs["registration_point"][1]):
        r = client.post("/api/v1/events", json=body, headers=auth(token))
        assert 400 <= r.status_code < 500, (body, r.status_code, r.get_json())
        assert r.mimetype == "application/problem+json"


def test_a_role_that_may_not_record_a_kind_gets_403_whatever_the_body(client, city):
    _, orgs, *_ = city
    for body in ({"kind": "retire"}, {"kind": "retire", "battery": 5}, {"kind": "retire", "battery": "CATL0000000X"}):
        r = post(client, orgs["dealer"][1], body)
        assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed"


def test_a_retried_write_with_the_same_idempotency_key_writes_once(client, city):
    cat, orgs, v, *_ = city
    body = {"kind": "ship", "vehicle": v["identifier"], "to": orgs["dealer"][0]["id"]}
    first = post(client, cat.token, body, **{"Idempotency-Key": "ship-1"})
    n = size(client)
    again = post(client, cat.token, body, **{"Idempotency-Key": "ship-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert size(client) == n
    other = post(client, cat.token, {**body, "to": orgs["dealer2"][0]["id"]}, **{"Idempotency-Key": "ship-1"})
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"


def test_a_batch_is_all_or_nothing(client, city):
    cat, orgs, v, b, c, big, spare = city
    n = size(client)
    to = orgs["swap_operator"][0]["id"]
    r = client.post("/api/v1/events/batch", json={"events": [
        {"kind": "ship", "battery": b["identifier"], "to": to},
        {"kind": "ship", "battery": "TSTB48V2026999999", "to": to},
    ]}, headers=auth(cat.token))
    assert r.status_code == 404 and size(client) == n
    r = client.post("/api/v1/events/batch", json={"events": [
        {"kind": "ship", "battery": b["identifier"], "to": to},
        {"kind": "ship", "battery": spare["identifier"], "to": to},
    ]}, headers=auth(cat.token))
    assert r.status_code == 201, r.get_json()
    assert [e["index"] for e in r.get_json()["events"]] == [n, n + 1]
    assert size(client) == n + 2
