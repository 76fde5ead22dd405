"""Traceback (事故全链条溯源) over HTTP: the issue's Done-when lines, and who sees what."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth
from tests.trace_city import OWNER, OWNER_ID, build_city

pytestmark = pytest.mark.db


@pytest.fixture
def city(client, make_org, make_catalogue):
    return build_city(client, make_org, make_catalogue)


def trace(client, token, q, **params):
    r = client.get("/api/v1/trace", query_string={"q": q, **params}, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def names(answer) -> set[str]:
    return {o["name"] for o in answer["organisations"].values()}


@pytest.mark.parametrize("start", ["burnt battery's code", "frame code", "charger code", "plate", "removed battery's code"])
def test_a_trace_from_any_identifier_of_the_set_reaches_the_whole_set_its_makers_dealer_repair_shop_and_owner(client, city, start):
    q = {"burnt battery's code": city.burnt["code"], "frame code": city.vehicle["identifier"],
         "charger code": city.charger["identifier"], "plate": city.plate,
         "removed battery's code": city.removed["identifier"]}[start]
    answer = trace(client, city.investigator[1], q, case_number=city.case_number)
    v, b1, b2, c = (f"{x['kind']}:{x['identifier']}" for x in (city.vehicle, city.removed, city.burnt, city.charger))
    assert answer["vehicle"] == v
    assert answer["set"] == {"vehicles": [v], "batteries": sorted([b1, b2], key=answer["set"]["batteries"].index), "chargers": [c]}
    assert set(answer["set"]["batteries"]) == {b1, b2}
    subjects = answer["subjects"]
    assert subjects[v]["maker"]["name"] == city.vmaker.org["name"]
    assert subjects[b2]["maker"]["name"] == subjects[b1]["maker"]["name"] == city.bmaker.org["name"]
    assert subjects[b2]["certificate"]["status"] == "valid"
    assert [i["vehicle"] for i in subjects[b1]["installations"]] == [v]
    assert subjects[b1]["installations"][0]["removed_index"] == city.swap["index"]
    assert subjects[b2]["installations"][0]["installed_index"] == city.swap["index"]
    assert {city.vmaker.org["name"], city.bmaker.org["name"], city.dealer[0]["name"], city.shop[0]["name"],
            city.point[0]["name"], city.investigator[0]["name"]} <= names(answer)
    # dealer and sale time; the repair shop as installer of the swapped-in battery
    assert [(s["dealer"]["name"], s["index"]) for s in answer["sales"]] == [(city.dealer[0]["name"], city.sale["index"])]
    roles = {p["org"]["name"]: p["roles"] for p in answer["parties"]}
    assert "installer" in roles[city.shop[0]["name"]] and "seller" in roles[city.dealer[0]["name"]]
    assert "maker" in roles[city.bmaker.org["name"]] and "maker" in roles[city.vmaker.org["name"]]
    # the owner, clear for an investigator with a case number
    assert {(o["name"], o["id_number"]) for o in answer["owners"]} == {(OWNER["name"], OWNER_ID)}
    assert answer["registrations"][0]["plate"] == city.plate
    # every event in time order, each with its log index and leaf hash as the public log has them
    kinds = [e["kind"] for e in answer["timeline"]]
    for kind in ("commission", "sell", "register", "swap_battery", "report_incident"):
        assert kind in kinds
    times = [(e["occurred_at"], e["index"]) for e in answer["timeline"]]
    assert times == sorted(times)
    fire = next(e for e in answer["timeline"] if e["kind"] == "report_incident")
    assert fire["index"] == city.fire["index"] and fire["leaf_hash"] == city.fire["leaf_hash"]
    assert fire["org"]["name"] == city.investigator[0]["name"] and fire["user"]
    entry = client.get(f"/api/v1/log/entries/{fire['index']}").get_json()
    assert entry["leaf_hash"] == fire["leaf_hash"]
    incident = answer["incidents"][0]
    assert incident["escalated"] is True and incident["photos"] == [city.photo]
    assert not [f for f in answer["flags"] if f["code"] == "chain_anomaly"], answer["flags"]


def test_every_starting_point_gives_the_same_set_and_timeline(client, city):
    answers = [trace(client, city.regulator[1], q) for q in (
        city.burnt["code"], city.burnt["identifier"], city.vehicle["code"], city.plate.replace("·", ""),
        city.charger["code"], city.removed["code"], f"battery:{city.burnt['identifier']}")]
    first = answers[0]
    for a in answers[1:]:
        assert a["set"] == first["set"] and a["timeline"] == first["timeline"] and a["flags"] == first["flags"]


def test_personal_data_is_masked_without_a_case_number_and_each_reveal_is_recorded(client, city, registry):
    from sqlalchemy import select

    from registry.store.models import Reveal

    masked = json.dumps(trace(client, city.investigator[1], city.plate), ensure_ascii=False)
    assert OWNER_ID not in masked and OWNER["phone"] not in masked and OWNER["name"] not in masked
    regulator = json.dumps(trace(client, city.regulator[1], city.plate, case_number="x"), ensure_ascii=False)
    assert OWNER_ID not in regulator
    with registry.reading() as uow:
        assert uow.session.execute(select(Reveal)).first() is None
    trace(client, city.investigator[1], city.plate, case_number=city.case_number)
    with registry.reading() as uow:
        reveals = list(uow.session.execute(select(Reveal)).scalars())
    assert [(r.org_id, r.case_number, r.purpose) for r in reveals] == [(city.investigator[0]["id"], city.case_number, "trace")]


def test_a_registration_point_sees_the_owner_clear_only_on_registrations_it_recorded(client, city, make_org):
    own = trace(client, city.point[1], city.vehicle["identifier"])
    assert [e["kind"] for e in own["timeline"]] == ["register"]
    assert own["registrations"][0]["owner"]["id_number"] == OWNER_ID
    other = make_org("registration_point")
    text = json.dumps(trace(client, other[1], city.vehicle["identifier"]), ensure_ascii=False)
    assert OWNER_ID not in text


def test_a_dealers_trace_of_someone_elses_vehicle_shows_no_id_number(client, city):
    answer = trace(client, city.other_dealer[1], city.vehicle["identifier"])
    text = json.dumps(answer, ensure_ascii=False)
    assert OWNER_ID not in text and OWNER["phone"] not in text and OWNER["name"] not in text
    assert answer["view"] == "own_records" and answer["timeline"] == [] and answer["owners"] == []
    # the selling dealer sees its own sale, the buyer masked
    own = trace(client, city.dealer[1], city.vehicle["identifier"])
    assert [e["kind"] for e in own["timeline"]] == ["receive", "receive", "sell"] or "sell" in [e["kind"] for e in own["timeline"]]
    assert OWNER_ID not in json.dumps(own, ensure_ascii=False)
    assert own["sales"][0]["buyer"]["masked"] is True


def test_a_battery_produced_more_than_five_years_ago_is_flagged_in_its_trace(client, make_org, make_catalogue):
    old = build_city(client, make_org, make_catalogue, battery_produced_on="2019-05-01")
    answer = trace(client, old.regulator[1], old.vehicle["identifier"])
    flagged = [f for f in answer["flags"] if f["code"] == "battery_past_service_age"]
    assert [f["subject"] for f in flagged] == [f"battery:{old.removed['identifier']}"]
    assert "2019-05-01" in flagged[0]["message"]
    fresh = [f for f in answer["flags"] if f["subject"] == f"battery:{old.burnt['identifier']}"]
    assert not [f for f in fresh if f["code"] == "battery_past_service_age"]


def test_trace_refuses_what_it_cannot_resolve(client, city):
    headers = auth(city.investigator[1])
    assert client.get("/api/v1/trace", query_string={"q": "TSTB48V2026999999"}, headers=headers).status_code == 404
    assert client.get("/api/v1/trace", query_string={"q": "浙Z·99999"}, headers=headers).status_code == 404
    for bad in ("", "!!", "x" * 2000):
        r = client.get("/api/v1/trace", query_string={"q": bad}, headers=headers)
        assert 400 <= r.status_code < 500 and r.mimetype == "application/problem+json", (bad, r.status_code)
    assert client.get("/api/v1/trace", query_string={"q": city.plate}).status_code == 401


ODD = ["vehicle:", "battery:", "charger:x", "kind:thing", "\x00", "😀", "浙", "浙B·", "·", "-", "1" * 63, "1" * 64, "A" * 300,
       "http://registry.test/c/ABC", "http://registry.test/c/" + "Z" * 200, "https://elsewhere.example/c/1ABC", "　浙Ｂ・Ａ０００１　",
       "%", "_", "' OR 1=1 --", "owner:abc", "case:x"]


def test_no_query_makes_trace_search_or_bundle_fail_with_a_500(client, city):
    for q in ODD:
        for path, extra in (("/api/v1/trace", {}), ("/api/v1/search", {}), ("/api/v1/trace/bundle", {"case_number": "x"})):
            r = client.get(path, query_string={"q": q, **extra}, headers=auth(city.investigator[1]))
            assert r.status_code < 500, (path, q, r.status_code, r.get_data(as_text=True)[:300])
            if r.status_code >= 400:
                assert r.mimetype == "application/problem+json"
