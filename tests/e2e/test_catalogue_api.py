"""POST/GET /certificates and /models: who may write them, what is valid, what conflicts."""

from __future__ import annotations

import pytest

from tests.conftest import auth

pytestmark = pytest.mark.db

BATTERY_SPECS = {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}
VEHICLE_SPECS = {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55}


def certificate(number="2026011119000101", kind="vehicle", model="LY-TDT2024", **extra):
    return {"number": number, "product_kind": kind, "model": model, "issued_on": "2026-01-15", "expires_on": "2031-01-14", **extra}


def post(client, path, body, token):
    return client.post(path, json=body, headers=auth(token))


def test_a_manufacturer_records_its_own_certificate_and_anyone_signed_in_reads_it(client, make_org):
    maker, token = make_org("manufacturer")
    r = post(client, "/api/v1/certificates", certificate(), token)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["holder"] == maker["id"] and body["status"] == "valid" and len(body["leaf_hash"]) == 64
    _, dealer = make_org("dealer")
    r = client.get("/api/v1/certificates/2026011119000101", headers=auth(dealer))
    assert r.status_code == 200 and r.get_json()["model"] == "LY-TDT2024" and r.get_json()["index"] == body["index"]


def test_a_manufacturer_may_not_record_a_certificate_for_another_holder(client, make_org):
    other, _ = make_org("manufacturer")
    _, token = make_org("manufacturer")
    r = post(client, "/api/v1/certificates", certificate(holder=other["id"]), token)
    assert r.status_code == 403 and r.get_json()["code"] == "not_own_certificate"


def test_a_regulator_records_a_certificate_for_a_named_manufacturer(client, make_org):
    maker, _ = make_org("manufacturer")
    _, regulator = make_org("regulator")
    assert post(client, "/api/v1/certificates", certificate(), regulator).get_json()["errors"].keys() == {"holder"}
    r = post(client, "/api/v1/certificates", certificate(holder=maker["id"]), regulator)
    assert r.status_code == 201 and r.get_json()["holder"] == maker["id"]
    dealer, _ = make_org("dealer")
    r = post(client, "/api/v1/certificates", certificate("2026011119000102", holder=dealer["id"]), regulator)
    assert r.status_code == 422 and "holder" in r.get_json()["errors"]


@pytest.mark.parametrize("kind", ["dealer", "registration_point", "repair_shop", "swap_operator", "recycler", "investigator", "admin"])
def test_other_roles_get_403_for_certificates_whatever_the_body(client, make_org, admin_token, kind):
    token = admin_token if kind == "admin" else make_org(kind)[1]
    r = client.post("/api/v1/certificates", data="{garbage", content_type="application/json", headers=auth(token))
    assert r.status_code == 403 and r.mimetype == "application/problem+json"


def test_a_certificate_number_is_recorded_once(client, make_org):
    _, token = make_org("manufacturer")
    assert post(client, "/api/v1/certificates", certificate(), token).status_code == 201
    r = post(client, "/api/v1/certificates", certificate(), token)
    assert r.status_code == 409 and r.get_json()["code"] == "certificate_exists"


def test_a_bad_certificate_names_every_bad_field(client, make_org):
    _, token = make_org("manufacturer")
    r = post(client, "/api/v1/certificates", certificate("20260111190001", "boat", "", issued_on="2026-13-01"), token)
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"number", "product_kind", "model", "issued_on"}


def test_an_unknown_certificate_is_404_and_a_malformed_number_422(client, make_org):
    _, token = make_org("dealer")
    assert client.get("/api/v1/certificates/2026011119009999", headers=auth(token)).status_code == 404
    r = client.get("/api/v1/certificates/abc", headers=auth(token))
    assert r.status_code == 422 and "number" in r.get_json()["errors"]
    assert client.get("/api/v1/certificates/2026011119009999").status_code == 401


def test_a_vehicle_model_lists_approved_battery_and_charger_models(client, make_org):
    _, token = make_org("manufacturer")
    post(client, "/api/v1/certificates", certificate(), token)
    assert post(client, "/api/v1/models", {"kind": "battery", "model": "xh-48v20", "specs": BATTERY_SPECS}, token).status_code == 201
    assert post(client, "/api/v1/models", {"kind": "battery", "model": "XH-48V24", "specs": {**BATTERY_SPECS, "capacity_ah": 24, "energy_wh": 1152}}, token).status_code == 201
    r = post(client, "/api/v1/models", {"kind": "charger", "model": "AC-48", "specs": {"output_v": 54.6, "output_a": "3"}}, token)
    assert r.status_code == 201 and r.get_json()["specs"] == {"output_v": "54.6", "output_a": "3"}
    r = post(client, "/api/v1/models", {
        "kind": "vehicle", "model": "ly-tdt2024", "certificate": "2026011119000101", "specs": VEHICLE_SPECS,
        "approved_batteries": ["XH-48V20", {"model": "xh-48v24", "approval": "mutual"}], "approved_chargers": ["AC-48"],
    }, token)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["model"] == "LY-TDT2024" and body["standard"] == "GB17761-2024"
    assert body["approved_batteries"] == [{"model": "XH-48V20", "approval": "standard"}, {"model": "XH-48V24", "approval": "mutual"}]
    got = client.get("/api/v1/models/ly-tdt2024", headers=auth(token)).get_json()
    assert got["approved_chargers"] == [{"model": "AC-48", "approval": "standard"}] and got["specs"]["mass_kg"] == "55"


def test_approved_models_must_exist_and_be_of_the_right_kind(client, make_org):
    _, token = make_org("manufacturer")
    post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "specs": BATTERY_SPECS}, token)
    r = post(client, "/api/v1/models", {"kind": "vehicle", "model": "V1", "specs": VEHICLE_SPECS,
                                         "approved_batteries": ["B1", "NOPE"], "approved_chargers": ["B1"]}, token)
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"approved_batteries.1", "approved_chargers.0"}


def test_a_non_standard_vehicle_model_carries_its_transition_deadline(client, make_org):
    _, token = make_org("manufacturer")
    post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "specs": BATTERY_SPECS}, token)
    post(client, "/api/v1/models", {"kind": "charger", "model": "C1", "specs": {"output_v": 54.6, "output_a": 3}}, token)
    r = post(client, "/api/v1/models", {"kind": "vehicle", "model": "OLD1",
                                         "specs": {"standard": "non_standard", "transition_deadline": "2025-12-31", "max_speed_kmh": 32, "mass_kg": 68},
                                         "approved_batteries": ["B1"], "approved_chargers": ["C1"]}, token)
    assert r.status_code == 201 and r.get_json()["transition_deadline"] == "2025-12-31"


def test_a_dealer_cannot_post_models_even_with_a_garbage_body(client, make_org):
    _, token = make_org("dealer")
    for body in ({"kind": "battery"}, {"x": [1, 2]}):
        r = client.post("/api/v1/models", json=body, headers=auth(token))
        assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed"
    r = client.post("/api/v1/models", data="not json", content_type="application/json", headers=auth(token))
    assert r.status_code == 403


def test_a_regulator_cannot_post_models(client, make_org):
    _, token = make_org("regulator")
    assert post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "specs": BATTERY_SPECS}, token).status_code == 403


def test_a_maker_cannot_write_another_makers_model(client, make_org):
    _, first = make_org("manufacturer")
    _, second = make_org("manufacturer")
    assert post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "specs": BATTERY_SPECS}, first).status_code == 201
    r = post(client, "/api/v1/models", {"kind": "battery", "model": "b1", "specs": BATTERY_SPECS}, second)
    assert r.status_code == 409 and r.get_json()["code"] == "not_own_model"
    r = post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "specs": BATTERY_SPECS}, first)
    assert r.status_code == 409 and r.get_json()["code"] == "model_exists"


def test_a_model_may_only_name_a_certificate_its_maker_holds(client, make_org):
    _, first = make_org("manufacturer")
    _, second = make_org("manufacturer")
    post(client, "/api/v1/certificates", certificate("2026010912000031", "battery", "B1"), first)
    r = post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "certificate": "2026010912000031", "specs": BATTERY_SPECS}, second)
    assert r.status_code == 409 and r.get_json()["code"] == "certificate_not_held"
    r = post(client, "/api/v1/models", {"kind": "charger", "model": "C1", "certificate": "2026010912000031", "specs": {"output_v": 54.6, "output_a": 3}}, first)
    assert r.status_code == 422 and "certificate" in r.get_json()["errors"]


def test_a_model_with_bad_specs_names_each_field_in_english_on_request(client, make_org):
    _, token = make_org("manufacturer")
    r = client.post("/api/v1/models", json={"kind": "battery", "model": "B1", "specs": {"chemistry": "plutonium", "voltage_v": 48.5, "capacity_ah": 20, "energy_wh": 960}},
                    headers={**auth(token), "Accept-Language": "en"})
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert set(errors) == {"specs.chemistry", "specs.voltage_v"} and "whole number" in errors["specs.voltage_v"][0]


def test_a_model_unknown_is_404(client, make_org):
    _, token = make_org("dealer")
    r = client.get("/api/v1/models/NOPE", headers=auth(token))
    assert r.status_code == 404 and r.get_json()["code"] == "model_not_found"


def test_catalogue_events_are_in_the_log_and_replay_to_the_same_projections(client, make_org, runner):
    _, token = make_org("manufacturer")
    post(client, "/api/v1/certificates", certificate("2026010912000031", "battery", "B1"), token)
    post(client, "/api/v1/models", {"kind": "battery", "model": "B1", "certificate": "2026010912000031", "specs": BATTERY_SPECS}, token)
    post(client, "/api/v1/models", {"kind": "charger", "model": "C1", "specs": {"output_v": 54.6, "output_a": 3}}, token)
    post(client, "/api/v1/models", {"kind": "vehicle", "model": "V1", "specs": VEHICLE_SPECS, "approved_batteries": ["B1"], "approved_chargers": [{"model": "C1", "approval": "mutual"}]}, token)
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0
    assert runner.invoke(args=["verify-log"]).exit_code == 0
