"""Incidents with photos, the clarity rate (查清率), fires by maker and model, recalls and overdue batteries."""

from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.trace_city import build_city, post_event, ship_and_receive

pytestmark = pytest.mark.db

FIRE = {"kind": "report_incident", "incident_type": "fire", "occurred_at": "2026-11-21T21:30:00+08:00", "region": "330212",
        "address": "某小区车棚", "state": "parked", "casualties": {"dead": 0, "injured": 0}}


@pytest.fixture
def city(client, make_org, make_catalogue):
    return build_city(client, make_org, make_catalogue)


def get(client, token, path, **params):
    r = client.get(path, query_string=params, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_photos_are_uploaded_by_investigators_and_an_incident_may_name_only_uploaded_ones(client, city, registry):
    token = city.investigator[1]
    import io

    r = client.post("/api/v1/photos", data={"file": (io.BytesIO(b"\x89PNG scene"), "scene.png")}, headers=auth(token),
                    content_type="multipart/form-data")
    assert r.status_code == 201
    sha = r.get_json()["sha256"]
    assert (registry.instance_path / "photos" / sha).read_bytes() == b"\x89PNG scene"
    assert client.get(f"/api/v1/photos/{sha}", headers=auth(token)).data == b"\x89PNG scene"
    assert client.post("/api/v1/photos", data=b"x", headers=auth(city.dealer[1])).status_code == 403
    assert client.post("/api/v1/photos", data=b"", headers=auth(token)).status_code == 422
    body = {**FIRE, "battery": city.removed["identifier"], "case_number": "甬消调〔2026〕900号"}
    r = client.post("/api/v1/events", json={**body, "photos": [sha, "0" * 64]}, headers=auth(token))
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["photos.1"]
    ok = post_event(client, token, {**body, "photos": [sha]})
    entry = client.get(f"/api/v1/events/{ok['event_id']}", headers=auth(token)).get_json()["body"]
    assert entry["data"]["photos"] == [sha] and entry["data"]["escalated"] is False


def test_a_fatal_incident_is_marked_for_escalated_investigation(client, city):
    event = client.get(f"/api/v1/events/{city.fire['event_id']}", headers=auth(city.regulator[1])).get_json()["body"]
    assert event["data"]["escalated"] is True and event["data"]["casualties"] == {"dead": 1, "injured": 1}


def test_the_clarity_rate_is_the_share_of_incidents_whose_trace_resolves_all_six(client, city, make_org, make_catalogue):
    inv = city.investigator[1]
    # a battery found burning in the vehicle with no record of it being swapped in (现场未发现更换记录)
    stray = city.bmaker.commission("battery")[0]
    ship_and_receive(client, city.bmaker.token, city.shop, stray)
    post_event(client, inv, {**FIRE, "vehicle": city.vehicle["identifier"], "battery": stray["code"], "case_number": "甬消调〔2026〕901号"})
    # a battery that never left its maker: no sale, no owner
    unsold = city.bmaker.commission("battery")[0]
    post_event(client, inv, {**FIRE, "battery": unsold["identifier"], "case_number": "甬消调〔2026〕902号",
                             "occurred_at": "2026-11-22T10:00:00+08:00"})
    answer = get(client, city.regulator[1], "/api/v1/stats/clarity")
    assert (answer["incidents"], answer["clear"], answer["rate"]) == (3, 1, round(1 / 3, 4))
    cases = {c["case_number"]: c for c in answer["cases"]}
    assert cases[city.case_number]["clear"] is True
    stray_case = cases["甬消调〔2026〕901号"]["resolved"]
    assert stray_case == {"maker": True, "seller": True, "owner": True, "battery_type": True, "purchase_time": True,
                          "modification_history": False}
    assert cases["甬消调〔2026〕902号"]["resolved"] == {"maker": True, "seller": False, "owner": False, "battery_type": True,
                                                    "purchase_time": False, "modification_history": False}
    assert answer["criteria"]["maker"] == 3 and answer["criteria"]["modification_history"] == 1
    # the period (days in China Standard Time): the fire of 20 November 02:10 +08:00 only
    day = get(client, inv, "/api/v1/stats/clarity", **{"from": "2026-11-20", "to": "2026-11-20"})
    assert (day["incidents"], day["clear"], day["rate"]) == (1, 1, 1.0)
    assert get(client, inv, "/api/v1/stats/clarity", **{"from": "2027-01-01"})["rate"] is None
    assert client.get("/api/v1/stats/clarity", query_string={"from": "2026-12-01", "to": "2026-11-01"},
                      headers=auth(inv)).status_code == 422
    assert client.get("/api/v1/stats/clarity", headers=auth(city.dealer[1])).status_code == 403


def test_fires_are_counted_by_the_burnt_batterys_and_the_vehicles_maker_and_model(client, city):
    post_event(client, city.investigator[1], {**FIRE, "incident_type": "accident", "vehicle": city.vehicle["identifier"],
                                              "case_number": "甬交〔2026〕1号"})
    fires = get(client, city.regulator[1], "/api/v1/stats/incidents")
    assert (fires["total"], fires["escalated"], fires["dead"], fires["injured"]) == (1, 1, 1, 1)
    assert fires["by_battery_maker"] == [{"maker": {"id": city.bmaker.org["id"], "name": city.bmaker.org["name"], "kind": "manufacturer"}, "count": 1}]
    assert [(r["model"], r["count"]) for r in fires["by_battery_model"]] == [(city.bmaker.battery_model, 1)]
    assert [(r["maker"]["name"], r["count"]) for r in fires["by_vehicle_maker"]] == [(city.vmaker.org["name"], 1)]
    assert [(r["model"], r["count"]) for r in fires["by_vehicle_model"]] == [(city.vehicle_model, 1)]
    everything = get(client, city.regulator[1], "/api/v1/stats/incidents", incident_type="all")
    assert everything["total"] == 2


def test_regulators_list_recalls_and_batteries_overdue_for_assessment(client, city, make_catalogue):
    reg = city.regulator[1]
    r = post_event(client, reg, {"kind": "recall", "model": city.bmaker.battery_model, "reason": "电芯热失控风险"})
    recalls = get(client, reg, "/api/v1/recalls")["recalls"]
    assert recalls[0]["index"] == r["index"] and recalls[0]["open"] is True and recalls[0]["model"] == city.bmaker.battery_model
    assert get(client, reg, "/api/v1/recalls", open="false")["recalls"] == []
    answer = get(client, city.investigator[1], "/api/v1/trace", q=city.burnt["identifier"])
    assert {f["subject"] for f in answer["flags"] if f["code"] == "unremedied_recall"} >= {f"battery:{city.burnt['identifier']}"}
    old = make_catalogue()
    aged = old.commission("battery", n=2, produced_on="2020-01-15")
    overdue = get(client, reg, "/api/v1/stats/overdue-batteries")
    found = [b["identifier"] for b in overdue["batteries"]]
    assert found[:2] == sorted(a["identifier"] for a in aged) and city.burnt["identifier"] not in found
    assert overdue["batteries"][0]["due_on"] == "2025-01-15"
    first = get(client, reg, "/api/v1/stats/overdue-batteries", limit=1)
    assert len(first["batteries"]) == 1 and first["next"]
    second = get(client, reg, "/api/v1/stats/overdue-batteries", limit=1, after=first["next"])
    assert second["batteries"][0]["identifier"] == found[1]
    for path in ("/api/v1/recalls", "/api/v1/stats/overdue-batteries", "/api/v1/stats/incidents"):
        assert client.get(path, headers=auth(city.dealer[1])).status_code == 403
