"""Every cell of DOMAIN.md's normative table "Who may record which event", over HTTP.

Allowed: the request passes the role gate and, with a valid body in a valid state,
is recorded (2xx). Otherwise: 403 ``role_not_allowed`` whatever the body, and
nothing is written. The table (tests/lifecycle_world.py) is copied from DOMAIN.md,
not imported from the implementation, so the two are checked against each other.
"""

from __future__ import annotations

import pytest

from registry.domain.roles import ORG_KINDS, RECORDED_BY
from tests.conftest import auth, next_serial
from tests.lifecycle_world import DOMAIN_TABLE, elsewhere, person, world  # noqa: F401
from tests.lifecycle_world import ORG_KINDS as KINDS

pytestmark = pytest.mark.db

#: Kinds recorded through their own endpoint (POST /events points there).
DEDICATED = {
    "register_organisation": ("/api/v1/orgs", {"name": "x", "kind": "dealer", "license_no": "L", "region": "330206"}),
    "certificate": ("/api/v1/certificates", {"number": "2026011119999999", "product_kind": "vehicle", "model": "M",
                                             "issued_on": "2026-01-01", "expires_on": "2030-01-01"}),
    "model": ("/api/v1/models", {"kind": "battery", "model": "M", "certificate": "2026011119999999", "specs": {}}),
    "commission": ("/api/v1/items/batch", {"items": [{"kind": "vehicle", "identifier": "117322600000001", "model": "M",
                                                       "produced_on": "2026-01-01"}]}),
}

ALLOWED = [(event, org) for event, orgs in DOMAIN_TABLE.items() for org in KINDS if org in orgs]
DISALLOWED = [(event, org) for event, orgs in DOMAIN_TABLE.items() for org in KINDS if org not in orgs]


def test_the_table_lists_every_event_kind_and_organisation_kind_and_the_implementation_agrees():
    assert set(KINDS) == set(ORG_KINDS)
    assert len(ALLOWED) + len(DISALLOWED) == len(DOMAIN_TABLE) * len(KINDS) == 28 * 9
    assert {k: set(v) for k, v in RECORDED_BY.items()} == {k: set(v) for k, v in DOMAIN_TABLE.items()}


# --- disallowed: 403 whatever the body ----------------------------------------------------

#: Bodies from empty to plausible: a role that may not record the kind learns nothing from them.
def _bodies(event: str, world) -> list:
    v = "117322600000001"
    return [
        {"kind": event},
        {"kind": event, "vehicle": 5, "battery": {"x": 1}, "to": None, "reason": 7},
        {"kind": event, "vehicle": v, "battery": "TSTB48V2026000001", "charger": "MA2H3K8L1-26-48-000001",
         "to": world.org_id("dealer"), "buyer": person(1), "owner": person(1), "plate": "浙B·A0001", "reason": "other",
         "old_battery": "TSTB48V2026000001", "new_battery": "TSTB48V2026000002", "recall": "x", "certificate": "2026011119000001",
         "status": "suspended", "list": "blacklist", "organisation": world.org_id("dealer"), "action": "add",
         "corrects": "00000000-0000-0000-0000-000000000000", "result": "passed", "work": "brakes",
         "modification": "other", "model": "M", "incident_type": "fire"},
        {"kind": event, "vehicle": "x" * 600},
    ]


@pytest.mark.parametrize("org_kind", KINDS)
def test_every_kind_an_organisation_may_not_record_is_403_whatever_the_body(world, org_kind):
    events = [event for event, org in DISALLOWED if org == org_kind]
    token = world.token(org_kind)
    before = world.size()
    for event in events:
        for body in _bodies(event, world):
            r = world.post(token, body)
            assert r.status_code == 403, (org_kind, event, body, r.status_code, r.get_json())
            assert r.mimetype == "application/problem+json" and r.get_json()["code"] == "role_not_allowed", (org_kind, event)
        # in a batch too, whatever comes before or after it
        r = world.client.post("/api/v1/events/batch", json={"events": [{"kind": "teleport"}, {"kind": event}, None]},
                              headers=auth(token))
        assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed", (org_kind, event, r.get_json())
        if event in DEDICATED:
            path, body = DEDICATED[event]
            for b in (body, {}, None, [1, 2]):
                r = world.client.post(path, json=b, headers=auth(token))
                assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed", (org_kind, event, path, r.get_json())
    assert world.size() == before


# --- allowed: each cell's own small scenario ends in 2xx ------------------------------------


def _post_json(world, path, token, body):
    return world.client.post(path, json=body, headers=auth(token))


def _certificate_body(product_kind="battery", model=None):
    n = next_serial()
    return {"number": f"2026011123{n:06d}", "product_kind": product_kind, "model": model or f"CX-{n:05d}",
            "issued_on": "2026-01-01", "expires_on": "2031-01-01"}


def s_register_organisation(w, by):
    return _post_json(w, "/api/v1/orgs", w.token(by), {"name": "新店", "kind": "dealer", "license_no": "JY-1", "region": "330206"})


def s_certificate(w, by):
    body = _certificate_body()
    if by == "regulator":
        body["holder"] = w.org_id("manufacturer")
    return _post_json(w, "/api/v1/certificates", w.token(by), body)


def s_model(w, by):
    cert = _certificate_body()
    assert _post_json(w, "/api/v1/certificates", w.token(by), cert).status_code == 201
    return _post_json(w, "/api/v1/models", w.token(by), {
        "kind": "battery", "model": cert["model"], "certificate": cert["number"],
        "specs": {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 12, "energy_wh": 576}})


def s_commission(w, by):
    n = next_serial()
    return _post_json(w, "/api/v1/items/batch", w.token(by), {"items": [
        {"kind": "battery", "identifier": f"TSTB48V2026{n:06d}", "model": w.cat.battery_model, "produced_on": "2026-03-01"}]})


def s_ship(w, by):
    (item,) = w.commission("battery")
    if by == "manufacturer":
        return w.post(by, {"kind": "ship", "battery": item["code"], "to": w.org_id("dealer")})
    w.deliver(item, by)  # now *by* holds it, and ships it back
    return w.post(by, {"kind": "ship", "battery": item["code"], "to": w.org_id("manufacturer")})


def s_receive(w, by):
    (item,) = w.commission("battery")
    if by == "manufacturer":  # a return: the dealer sends it back
        w.deliver(item, "dealer")
        w.ship(item, "manufacturer", by="dealer")
    else:
        w.ship(item, by)
    return w.post(by, {"kind": "receive", "battery": item["identifier"], "inspection": "passed"})


def s_sell(w, by):
    v, b, c = w.stock()
    return w.post(by, {"kind": "sell", "vehicle": v["code"], "battery": b["code"], "charger": c["code"], "buyer": person(1)})


def s_register(w, by):
    v, b, c = w.sold(person(1))
    return w.post(by, {"kind": "register", "vehicle": v["code"], "battery": b["identifier"], "charger": c["identifier"],
                       "plate": "浙B·A0001", "owner": person(1)})


def s_transfer(w, by):
    v, _, _ = w.registered()
    return w.post(by, {"kind": "transfer", "vehicle": v["identifier"], "new_owner": person(2, "李四")})


def s_deregister(w, by):
    v, _, _ = w.registered()
    return w.post(by, {"kind": "deregister", "vehicle": v["identifier"], "reason": "moved_away"})


def s_backfill(w, by):
    return w.post(by, {"kind": "backfill", "vehicle": "LGC2019A0001", "battery": "OLDBAT7788", "plate": "浙B·L0001",
                       "owner": person(3, "王五")})


def s_transfer_in(w, by):
    there = w.elsewhere()
    v, b, c, index = there.moved_away(w)
    return w.post(by, {"kind": "transfer_in", "vehicle": v["code"], "battery": b["code"], "charger": c["identifier"],
                       "from_origin": there.origin(), "from_index": index, "plate": "浙B·T0001", "owner": person(4, "赵六")})


def s_repair(w, by):
    v, _, _ = w.sold()
    return w.post(by, {"kind": "repair", "vehicle": v["code"], "work": "刹车片更换"})


def s_swap_battery(w, by):
    v, b, _ = w.sold()
    (new,) = w.commission("battery")
    w.deliver(new, by)
    return w.post(by, {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"], "new_battery": new["code"]})


def s_replace_charger(w, by):
    v, _, c = w.sold()
    (new,) = w.commission("charger")
    w.deliver(new, by)
    return w.post(by, {"kind": "replace_charger", "vehicle": v["code"], "old_charger": c["code"], "new_charger": new["code"]})


def s_report_modification(w, by):
    v, _, _ = w.sold()
    return w.post(by, {"kind": "report_modification", "vehicle": v["code"], "modification": "speed_limiter_removed"})


def s_assess_battery(w, by):
    (b,) = w.commission("battery")
    return w.post(by, {"kind": "assess_battery", "battery": b["code"], "result": "passed", "capacity_pct": 92})


def s_recall(w, by):
    return w.post(by, {"kind": "recall", "model": w.cat.battery_model, "reason": "电芯一致性缺陷"})


def recall_id(w, answer: dict) -> str:
    event = w.get(f"/api/v1/events/{answer['event_id']}", w.token("regulator"))
    return event["body"]["data"]["recall"]


def s_recall_remedy(w, by):
    opened = w.ok(by, {"kind": "recall", "model": w.cat.battery_model, "batch": "B1", "reason": "电芯一致性缺陷"})
    return w.post(by, {"kind": "recall_remedy", "recall": recall_id(w, opened), "remedy": "closed"})


def s_certificate_status(w, by):
    return w.post(by, {"kind": "certificate_status", "certificate": w.cat.certificate, "status": "suspended", "reason": "抽检不合格"})


def s_list_change(w, by):
    return w.post(by, {"kind": "list_change", "list": "blacklist", "organisation": w.org_id("manufacturer"),
                       "action": "add", "reason": "虚标容量"})


def s_report_stolen(w, by):
    v, _, _ = w.registered()
    return w.post(by, {"kind": "report_stolen", "vehicle": v["code"], "case_number": "甬公（北）立字〔2026〕1号"})


def s_report_recovered(w, by):
    v, _, _ = w.registered()
    w.ok("registration_point", {"kind": "report_stolen", "vehicle": v["code"]})
    return w.post(by, {"kind": "report_recovered", "vehicle": v["code"]})


def s_report_incident(w, by):
    (b,) = w.commission("battery")
    return w.post(by, {"kind": "report_incident", "battery": b["code"], "incident_type": "fire",
                       "occurred_at": "2026-11-20T02:10:00+08:00", "region": "330206", "address": "新碶街道某小区3幢楼道",
                       "state": "charging", "casualties": {"dead": 0, "injured": 1}, "case_number": "仑消调〔2026〕17号",
                       "scene_identifiers": ["TSTB48V2026"]})


def s_retire(w, by):
    (b,) = w.commission("battery")
    w.deliver(b, by)
    return w.post(by, {"kind": "retire", "battery": b["code"], "reason": "end_of_life"})


def s_recycle(w, by):
    (b,) = w.commission("battery")
    w.deliver(b, by)
    w.ok(by, {"kind": "retire", "battery": b["code"]})
    return w.post(by, {"kind": "recycle", "battery": b["code"], "method": "material_recovery"})


def s_scrap(w, by):
    v, _, _ = w.sold()
    return w.post(by, {"kind": "scrap", "vehicle": v["code"]})


def s_correction(w, by):
    (b,) = w.commission("battery")
    if by in ("manufacturer", "admin"):  # the recording organisation, or admin for anyone
        shipped = w.ship(b, "dealer")
        return w.post(by, {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur", "note": "录入错误"})
    w.ship(b, by)
    received = w.ok(by, {"kind": "receive", "battery": b["code"]})
    return w.post(by, {"kind": "correction", "corrects": received["event_id"], "reason": "did_not_occur"})


SCENARIOS = {name[2:]: fn for name, fn in globals().items() if name.startswith("s_")}


def test_every_event_kind_has_a_scenario():
    assert set(SCENARIOS) == set(DOMAIN_TABLE)


@pytest.mark.parametrize(("event", "org_kind"), ALLOWED, ids=[f"{e}-{o}" for e, o in ALLOWED])
def test_an_allowed_organisation_kind_records_the_event(world, event, org_kind):
    before = world.size()
    r = SCENARIOS[event](world, org_kind)
    assert 200 <= r.status_code < 300, (event, org_kind, r.status_code, r.get_json())
    assert world.size() > before
    if event not in DEDICATED:
        assert r.get_json()["index"] == world.size() - 1
