"""Every flag code of a trace, each on the step it rests on."""

from __future__ import annotations

import pytest

from registry.domain.roles import Actor
from registry.services.recording import record
from registry.services.trace import FLAG_CODES
from tests.conftest import auth
from tests.trace_city import OWNER, build_city, post_event, ship_and_receive

pytestmark = pytest.mark.db

FIRE = {"kind": "report_incident", "incident_type": "fire", "occurred_at": "2026-11-22T21:30:00+08:00", "region": "330212",
        "address": "某小区车棚", "state": "parked", "case_number": "甬消调〔2026〕990号"}


@pytest.fixture
def city(client, make_org, make_catalogue):
    return build_city(client, make_org, make_catalogue)


def flags(client, token, q) -> list[dict]:
    r = client.get("/api/v1/trace", query_string={"q": q}, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["flags"]


def codes(flags, subject=None) -> set[str]:
    return {f["code"] for f in flags if subject is None or f["subject"] == subject}


def test_every_flag_code_has_a_meaning_in_both_languages():
    assert set(FLAG_CODES) == {"battery_past_service_age", "part_not_approved", "part_uncertified", "swap_by_unlicensed",
                               "unremedied_recall", "maker_blacklisted", "shop_blacklisted", "reused_battery", "backfilled",
                               "chain_anomaly", "stolen"}
    assert all(zh and en for zh, en in FLAG_CODES.values())


def test_a_swap_by_a_blacklisted_shop_is_flagged_on_the_swap(client, make_org, make_catalogue):
    city = build_city(client, make_org, make_catalogue)
    reg = city.regulator[1]
    post_event(client, reg, {"kind": "list_change", "list": "blacklist", "organisation": city.shop[0]["id"], "action": "add",
                             "reason": "无证经营"})
    spare = city.bmaker.commission("battery")[0]
    ship_and_receive(client, city.bmaker.token, city.shop, spare)
    swap = post_event(client, city.shop[1], {"kind": "swap_battery", "vehicle": city.vehicle["code"],
                                             "old_battery": city.burnt["code"], "new_battery": spare["code"]})
    found = [f for f in flags(client, reg, city.plate) if f["index"] == swap["index"]]
    assert {f["code"] for f in found} == {"swap_by_unlicensed", "shop_blacklisted"}
    assert all(city.shop[0]["name"] in f["message"] for f in found)
    # the earlier swap, before the listing, is not flagged
    assert not [f for f in flags(client, reg, city.plate) if f["index"] == city.swap["index"]]


def test_a_suspended_certificate_a_blacklisted_maker_and_a_stolen_vehicle_are_flagged(client, city):
    reg = city.regulator[1]
    status = post_event(client, reg, {"kind": "certificate_status", "certificate": city.bmaker.battery_certificate,
                                      "status": "suspended", "reason": "抽检不合格"})
    listing = post_event(client, reg, {"kind": "list_change", "list": "blacklist", "organisation": city.bmaker.org["id"],
                                       "action": "add", "reason": "伪造检验报告"})
    stolen = post_event(client, city.point[1], {"kind": "report_stolen", "vehicle": city.vehicle["identifier"], "case_number": "甬公〔2026〕1号"})
    found = flags(client, reg, city.vehicle["identifier"])
    burnt = f"battery:{city.burnt['identifier']}"
    assert {"code": "part_uncertified", "subject": burnt, "index": status["index"]} == {k: v for k, v in next(
        f for f in found if f["code"] == "part_uncertified" and f["subject"] == burnt).items() if k != "message"}
    assert (burnt, listing["index"]) in {(f["subject"], f["index"]) for f in found if f["code"] == "maker_blacklisted"}
    assert ("vehicle:" + city.vehicle["identifier"], stolen["index"]) in {(f["subject"], f["index"]) for f in found if f["code"] == "stolen"}


def test_an_incident_on_a_retired_battery_and_a_battery_found_where_no_record_put_it_are_chain_anomalies(client, city, make_org):
    recycler = make_org("recycler")
    ship_and_receive(client, city.shop[1], recycler, city.removed)
    post_event(client, recycler[1], {"kind": "retire", "battery": city.removed["code"]})
    fire = post_event(client, city.investigator[1], {**FIRE, "vehicle": city.vehicle["identifier"], "battery": city.removed["code"]})
    found = [f for f in flags(client, city.investigator[1], city.removed["identifier"]) if f["code"] == "chain_anomaly"]
    removed = f"battery:{city.removed['identifier']}"
    assert {(f["subject"], f["index"]) for f in found} == {(removed, fire["index"])}
    messages = " ".join(f["message"] for f in found)
    assert "退役" in messages and "未发现更换记录" in messages


def test_backfilled_and_reused_batteries_are_flagged(client, city, make_org):
    backfill = post_event(client, city.point[1], {"kind": "backfill", "vehicle": "LGC2019A7788", "battery": "OLDBAT7788",
                                                  "plate": "浙B·L7788", "owner": {**OWNER, "id_type": "resident_id"}})
    found = flags(client, city.regulator[1], "浙B·L7788")
    assert {(f["code"], f["index"]) for f in found} >= {("backfilled", backfill["index"])}
    assert codes(found) == {"backfilled"}
    n = city.bmaker.identifier("battery")
    r = client.post("/api/v1/items/batch", json={"items": [{"kind": "battery", "identifier": n + "-R", "model": city.bmaker.battery_model,
                                                              "produced_on": "2026-03-01"}]}, headers=auth(city.bmaker.token))
    assert r.status_code == 201, r.get_json()
    assert "reused_battery" in codes(flags(client, city.regulator[1], n + "-R"))


def test_a_part_installed_in_two_vehicles_by_an_unlicensed_party_and_not_approved_is_flagged(client, city, registry, make_org):
    """States the rules refuse over HTTP, as an imported (or forged) record would hold them."""
    other = city.vmaker.commission("vehicle")[0]  # a model that does not approve the burnt battery's model
    dealer = city.dealer[0]["id"]
    v2 = f"vehicle:{other['identifier']}"
    burnt = f"battery:{city.burnt['identifier']}"
    with registry.writing() as uow:
        actor = Actor(org_id=dealer, org_kind="dealer", user_id="imported")
        a = record(uow, actor, "swap_battery", [v2, burnt], {
            "old_battery": None, "new_battery": burnt,
            "effects": {v2: {"battery": burnt}, burnt: {"installed_in": v2, "holder_org_id": None}}})
        uow.commit()
    found = flags(client, city.investigator[1], city.burnt["identifier"])
    at = {(f["code"], f["subject"]) for f in found if f["index"] == a.index}
    assert ("swap_by_unlicensed", burnt) in at
    assert ("chain_anomaly", burnt) in at  # still installed in the first vehicle
    assert ("part_not_approved", burnt) in at
