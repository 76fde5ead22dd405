"""POST /items/batch and GET /items/{kind}/{identifier}: commissioning all or nothing, and reading items."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.store.models import Item
from tests.conftest import auth

pytestmark = pytest.mark.db


def batch(client, token, items, **headers):
    return client.post("/api/v1/items/batch", json={"items": items}, headers={**auth(token), **headers})


def vehicle(cat, identifier=None, **extra):
    return {"kind": "vehicle", "identifier": cat.identifier("vehicle") if identifier is None else identifier, "model": cat.vehicle_model, "produced_on": "2026-03-01", **extra}


def log_size(registry):
    with registry.reading() as uow:
        return uow.log.size(), uow.session.execute(select(func.count()).select_from(Item)).scalar()


def test_a_batch_commissions_each_item_with_a_signed_code_and_one_event(client, make_catalogue, registry):
    cat = make_catalogue()
    items = [vehicle(cat), {"kind": "battery", "identifier": cat.identifier("battery"), "model": cat.battery_model, "produced_on": "2026-02-01", "batch": "b-1"},
             {"kind": "charger", "identifier": cat.identifier("charger"), "model": cat.charger_model, "produced_on": "2026-02-01"}]
    before, _ = log_size(registry)
    r = batch(client, cat.token, items)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()["items"]
    assert [(o["kind"], o["identifier"]) for o in out] == [(i["kind"], i["identifier"]) for i in items]
    assert [o["index"] for o in out] == [before, before + 1, before + 2]
    assert all(o["code"].startswith("http://registry.test/c/1") for o in out)
    with registry.reading() as uow:
        body = uow.log.entry(out[1]["index"])
        assert body.kind == "commission"
        stored = uow.session.get(Item, f"battery:{items[1]['identifier']}")
        assert stored.state == "commissioned" and stored.holder_org_id == cat.org["id"] and stored.batch == "B-1"
        assert stored.code == out[1]["code"] and stored.commissioned_index == stored.last_index == out[1]["index"]


def test_the_body_may_be_the_bare_list_api_md_shows(client, make_catalogue):
    cat = make_catalogue()
    r = client.post("/api/v1/items/batch", json=[vehicle(cat)], headers=auth(cat.token))
    assert r.status_code == 201 and len(r.get_json()["items"]) == 1


@pytest.mark.parametrize(
    "identifier, code",
    [
        ("11732260000001", "frame_code_length"),  # 14 digits
        ("117332600000001", "frame_code_type"),  # 5th digit not 2
        ("1173226A0000001", "frame_code_not_digits"),  # a letter
        ("", "empty"),
        (None, "not_a_string"),
    ],
)
def test_an_invalid_frame_code_is_refused_with_a_field_error_and_nothing_is_written(client, make_catalogue, registry, identifier, code):
    cat = make_catalogue()
    before = log_size(registry)
    r = batch(client, cat.token, [vehicle(cat), vehicle(cat, identifier) if identifier is not None else {**vehicle(cat), "identifier": None}])
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["code"] == "invalid_items" and list(body["errors"]) == ["items.1.identifier"]
    assert log_size(registry) == before


def test_full_width_input_is_accepted_and_normalised(client, make_catalogue):
    cat = make_catalogue()
    plain = cat.identifier("vehicle")
    wide = " ".join(chr(ord(c) + 0xFEE0) for c in plain)  # ０１２… with spaces
    r = batch(client, cat.token, [vehicle(cat, wide, model=cat.vehicle_model.lower())])
    assert r.status_code == 201 and r.get_json()["items"][0]["identifier"] == plain
    got = client.get(f"/api/v1/items/vehicle/{wide}", headers=auth(cat.token))
    assert got.status_code == 200 and got.get_json()["identifier"] == plain


def test_a_bad_batch_names_every_bad_item_by_position_and_field(client, make_catalogue, registry):
    cat = make_catalogue()
    other = make_catalogue()
    before = log_size(registry)
    items = [
        vehicle(cat),
        {"kind": "boat", "identifier": "X", "model": cat.vehicle_model, "produced_on": "2026-03-01"},
        vehicle(cat, model="NO-SUCH-MODEL"),
        vehicle(cat, model=cat.battery_model),
        vehicle(cat, produced_on="2026-02-30"),
        vehicle(cat, model=other.vehicle_model),
        {**vehicle(cat), "colour": "red"},
        "not an object",
        vehicle(cat, produced_on="2099-01-01"),
        {"kind": "battery", "identifier": "IOIOF48V2026000001", "model": cat.battery_model},
    ]
    r = batch(client, cat.token, items, **{"Accept-Language": "en"})
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert set(errors) == {
        "items.1.kind", "items.2.model", "items.3.model", "items.4.produced_on", "items.5.model", "items.6.colour",
        "items.7", "items.8.produced_on", "items.9.identifier", "items.9.produced_on",
    }
    assert "another manufacturer" in errors["items.5.model"][0]
    assert log_size(registry) == before


def test_a_duplicate_in_the_batch_or_in_the_registry_is_409_and_nothing_is_written(client, make_catalogue, registry):
    cat = make_catalogue()
    (done,) = cat.commission("vehicle")
    fresh = vehicle(cat)
    before = log_size(registry)
    r = batch(client, cat.token, [fresh, vehicle(cat, done["identifier"]), dict(fresh)])
    assert r.status_code == 409 and r.get_json()["code"] == "item_exists"
    assert [p["subject"] for p in r.get_json()["problems"]] == ["items.1", "items.2"]
    assert log_size(registry) == before


@pytest.mark.parametrize("kind", ["dealer", "registration_point", "regulator", "investigator", "recycler"])
def test_only_a_manufacturer_commissions_whatever_the_body(client, make_org, kind):
    _, token = make_org(kind)
    r = client.post("/api/v1/items/batch", data="][", content_type="application/json", headers=auth(token))
    assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed"


def test_an_empty_or_oversized_batch_is_refused(client, make_catalogue):
    cat = make_catalogue()
    assert batch(client, cat.token, []).status_code == 422
    r = batch(client, cat.token, [vehicle(cat)] * 10001)
    assert r.status_code == 422 and "items" in r.get_json()["errors"]


def test_a_reused_battery_is_commissioned_and_flagged(client, make_catalogue):
    cat = make_catalogue()
    (done,) = cat.commission("battery", identifier=f"TSTB48V2026{999001:06d}-R")
    got = client.get(f"/api/v1/items/battery/{done['identifier']}", headers=auth(cat.token)).get_json()
    assert got["flags"]["reused"] is True and got["battery_age_days"] >= 0


def test_any_signed_in_role_reads_an_item_by_identifier_payload_or_token(client, make_catalogue, make_org):
    cat = make_catalogue()
    (done,) = cat.commission("vehicle")
    _, dealer = make_org("dealer")
    token = done["code"].rsplit("/", 1)[1]
    for value in (done["identifier"], done["code"], token, token.lower(), done["code"].upper()):
        r = client.get(f"/api/v1/items/vehicle/{value}", headers=auth(dealer))
        assert r.status_code == 200, (value, r.get_json())
        got = r.get_json()
        assert got["identifier"] == done["identifier"] and got["state"] == "commissioned" and got["maker"] == cat.org["name"]
        assert "owner" not in got
    assert client.get(f"/api/v1/items/vehicle/{done['identifier']}").status_code == 401


def test_reading_an_unknown_invalid_or_forged_item_is_a_problem_not_a_crash(client, make_catalogue):
    cat = make_catalogue()
    (done,) = cat.commission("vehicle")
    h = auth(cat.token)
    r = client.get("/api/v1/items/vehicle/117322699999999", headers=h)
    assert r.status_code == 404 and r.get_json()["code"] == "item_not_found"
    # A 14-digit value may be a legacy frame number (补码), so looking it up is a 404, not a 422.
    assert client.get("/api/v1/items/vehicle/11732269999999", headers=h).status_code == 404
    r = client.get("/api/v1/items/vehicle/1173-2269", headers=h)
    assert r.status_code == 422 and "identifier" in r.get_json()["errors"]
    forged = done["code"][:-1] + ("0" if done["code"][-1] != "0" else "1")
    r = client.get(f"/api/v1/items/vehicle/{forged}", headers=h)
    assert r.status_code == 422 and r.get_json()["code"] == "code_not_genuine"
    r = client.get(f"/api/v1/items/battery/{done['code']}", headers=h)
    assert r.status_code == 422 and r.get_json()["code"] == "code_wrong_kind"
    for path in ("/api/v1/items/boat/X", "/api/v1/items/vehicle/%00", "/api/v1/items/vehicle/" + "9" * 3000):
        r = client.get(path, headers=h)
        assert r.status_code in (404, 422) and r.mimetype == "application/problem+json", path


def test_commissioned_items_replay_to_the_same_projection(client, make_catalogue, runner):
    cat = make_catalogue()
    cat.commission("vehicle", 3)
    cat.commission("battery", 2, batch="x")
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0
    assert runner.invoke(args=["verify-log"]).exit_code == 0


@pytest.mark.parametrize("path", ["/api/v1/items/batch", "/api/v1/models", "/api/v1/certificates", "/api/v1/labels"])
def test_no_body_produces_a_server_error(client, make_catalogue, path):
    cat = make_catalogue()
    weird = [None, 1, 1.5, "x", [], {}, [None], {"items": None}, {"items": "x"}, {"items": [{}]}, {"items": [{"kind": []}]},
             {"items": [{"kind": "vehicle", "identifier": {"a": 1}, "model": ["x"], "produced_on": 5, "batch": 7}]}, "\u0000",
             {"kind": "vehicle", "model": None, "specs": None},
             {"kind": "vehicle", "model": "V", "specs": {"standard": ["x"], "max_speed_kmh": "1e400", "mass_kg": "1e-400", "transition_deadline": 3},
              "approved_batteries": [{"model": None}], "approved_chargers": [[]]},
             {"kind": "battery", "model": "B", "specs": {"chemistry": {}, "voltage_v": "1e999999", "capacity_ah": "-0", "energy_wh": 10**40}}]
    for body in weird:
        r = client.post(path, json=body, headers=auth(cat.token))
        assert 400 <= r.status_code < 500 and r.mimetype == "application/problem+json", (body, r.status_code, r.get_data()[:300])
