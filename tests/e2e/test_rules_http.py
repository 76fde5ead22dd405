"""Every rule of issue 4 over HTTP: each refusal names its rule and leaves the log as it was."""

from __future__ import annotations

import pytest

from tests.conftest import auth, next_serial
from tests.lifecycle_world import person, world  # noqa: F401

pytestmark = pytest.mark.db


def codes(answer: dict) -> set[str]:
    return {p["code"] for p in answer.get("problems", [])}


def sale(v, b, c, **extra) -> dict:
    body = {"kind": "sell", "vehicle": v["code"], "charger": c["code"], "buyer": person(1), **extra}
    if b is not None:
        body["battery"] = b["code"]
    return body


def parts(v, b, c) -> dict:
    return {k: x["code"] for k, x in (("vehicle", v), ("battery", b), ("charger", c)) if x is not None}


def recall_id(w, answer: dict) -> str:
    return w.get(f"/api/v1/events/{answer['event_id']}", w.token("regulator"))["body"]["data"]["recall"]


def vehicle_model(w, specs: dict, issued_on="2026-01-01", expires_on="2031-01-01") -> str:
    """A new vehicle model of the world's maker, approving its battery and charger models."""
    n = next_serial()
    name, number = f"VX-{n:05d}", f"2026011119{n:06d}"
    r = w.client.post("/api/v1/certificates", json={"number": number, "product_kind": "vehicle", "model": name,
                                                    "issued_on": issued_on, "expires_on": expires_on}, headers=auth(w.cat.token))
    assert r.status_code == 201, r.get_json()
    r = w.client.post("/api/v1/models", json={"kind": "vehicle", "model": name, "certificate": number, "specs": specs,
                                              "approved_batteries": [w.cat.battery_model],
                                              "approved_chargers": [w.cat.charger_model]}, headers=auth(w.cat.token))
    assert r.status_code == 201, r.get_json()
    return name


STANDARD = {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55}


# --- certificates ---------------------------------------------------------------------------


@pytest.mark.parametrize(("certificate", "status", "subject"), [
    ("certificate", "suspended", "vehicle"), ("battery_certificate", "revoked", "battery"),
    ("charger_certificate", "suspended", "charger"),
])
def test_a_suspended_or_revoked_certificate_refuses_sales_at_once(world, certificate, status, subject):
    w = world
    v, b, c = w.stock()
    assert w.check(**parts(v, b, c))["ok"]
    w.ok("regulator", {"kind": "certificate_status", "certificate": getattr(w.cat, certificate), "status": status, "reason": "抽检不合格"})
    answer = w.check(**parts(v, b, c))
    assert [(p["code"], p["subject"]) for p in answer["problems"]] == [(f"certificate_{status}", subject)]
    w.refused("dealer", sale(v, b, c), 409, "sale_refused", {f"certificate_{status}"})
    if status == "revoked":  # for good
        w.refused("regulator", {"kind": "certificate_status", "certificate": getattr(w.cat, certificate), "status": "valid",
                                "reason": "复核"}, 409, "certificate_revoked")
        return
    w.refused("regulator", {"kind": "certificate_status", "certificate": getattr(w.cat, certificate), "status": status,
                            "reason": "again"}, 409, "certificate_status_unchanged")
    w.ok("regulator", {"kind": "certificate_status", "certificate": getattr(w.cat, certificate), "status": "valid", "reason": "整改完成"})
    w.ok("dealer", sale(v, b, c))


def test_an_expired_certificate_refuses_the_sale(world):
    w = world
    model = vehicle_model(w, STANDARD, issued_on="2020-01-01", expires_on="2025-01-01")
    (v,) = w.commission("vehicle", model=model)
    (b,) = w.commission("battery")
    (c,) = w.commission("charger")
    for item in (v, b, c):
        w.deliver(item, "dealer")
    assert [(p["code"], p["subject"]) for p in w.check(**parts(v, b, c))["problems"]] == [("certificate_expired", "vehicle")]
    w.refused("dealer", sale(v, b, c), 409, "sale_refused", {"certificate_expired"})
    # backdating the sale does not bring the certificate back to life
    w.refused("dealer", sale(v, b, c, occurred_at="2024-06-01T10:00:00+08:00"), 409, "sale_refused", {"certificate_expired"})


def test_an_unknown_or_forged_code_and_a_part_of_the_wrong_kind_are_named(world):
    w = world
    v, b, c = w.stock()
    forged = b["code"][:-3] + ("AAA" if not b["code"].endswith("AAA") else "BBB")
    answer = w.check(vehicle=v["code"], battery=forged, charger="MA2H3K8L1-26-48-999999")
    assert [(p["code"], p["subject"]) for p in answer["problems"]] == [("code_not_genuine", "battery"), ("unknown_item", "charger")]
    w.refused("dealer", {**sale(v, b, c), "battery": forged}, 409, "sale_refused", {"code_not_genuine"})
    # a genuine code of another kind of item is the wrong kind, not a forgery
    answer = w.check(vehicle=b["code"], battery=c["code"], charger=c["code"])
    assert [(p["code"], p["subject"]) for p in answer["problems"]] == [("wrong_kind", "vehicle"), ("wrong_kind", "battery")]
    assert b["identifier"] in answer["problems"][0]["message"]
    w.refused("dealer", {**sale(v, b, c), "battery": c["code"]}, 409, "sale_refused", {"wrong_kind"})


# --- recalls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["model", "batch", "dates", "certificate"])
def test_a_recall_flags_the_items_it_covers_and_refuses_their_sale_until_remedied(world, scope):
    w = world
    v, b, c = w.stock(batch="RB-7")
    (other,) = w.commission("battery", batch="OTHER", produced_on="2026-06-01")
    body = {"kind": "recall", "reason": "电芯一致性缺陷",
            **{"model": {"model": w.cat.battery_model},
               "batch": {"batch": "RB-7"},
               "dates": {"produced_from": "2026-02-01", "produced_to": "2026-03-31"},
               "certificate": {"certificate": w.cat.battery_certificate}}[scope]}
    if scope == "dates":
        body["model"] = w.cat.battery_model  # a date range of one model's production
    opened = w.ok("regulator", body)
    rid = recall_id(w, opened)
    assert w.scan(b)["flags"]["recalled"] is True
    assert w.item("battery", b["identifier"])["flags"]["recalled"] is True
    assert w.scan(other)["flags"]["recalled"] is (scope in ("model", "certificate"))
    assert w.scan(v)["flags"]["recalled"] is (scope == "batch")  # the vehicle shares the batch name
    answer = w.check(**parts(v, b, c))
    assert ("open_recall", "battery") in {(p["code"], p["subject"]) for p in answer["problems"]}
    w.refused("dealer", sale(v, b, c), 409, "sale_refused", {"open_recall"})

    # a remedy per item clears that item only
    w.ok("regulator", {"kind": "recall_remedy", "recall": rid, "battery": b["code"], "remedy": "replaced"})
    assert w.scan(b)["flags"]["recalled"] is False
    w.refused("regulator", {"kind": "recall_remedy", "recall": rid, "battery": b["code"]}, 409, "item_not_under_recall")
    if scope == "batch":
        assert w.scan(v)["flags"]["recalled"] is True
        w.refused("dealer", sale(v, b, c), 409, "sale_refused", {"open_recall"})
        # closing the recall clears everything it covered
        w.ok("regulator", {"kind": "recall_remedy", "recall": rid, "remedy": "closed"})
        assert w.scan(v)["flags"]["recalled"] is False
        w.refused("regulator", {"kind": "recall_remedy", "recall": rid, "remedy": "closed"}, 409, "recall_closed")
    w.ok("dealer", sale(v, b, c))


def test_closing_a_recall_clears_every_item_and_a_maker_recalls_only_its_own_models(world, make_catalogue):
    w = world
    items = w.commission("battery", n=3)
    opened = w.ok("manufacturer", {"kind": "recall", "model": w.cat.battery_model, "reason": "自愿召回"})
    assert all(w.scan(i)["flags"]["recalled"] for i in items)
    w.ok("manufacturer", {"kind": "recall_remedy", "recall": recall_id(w, opened), "remedy": "closed"})
    assert not any(w.scan(i)["flags"]["recalled"] for i in items)
    other = make_catalogue()
    w.refused("manufacturer", {"kind": "recall", "model": other.battery_model, "reason": "x"}, 403, "not_own_model")
    w.refused("manufacturer", {"kind": "recall", "certificate": other.battery_certificate, "reason": "x"}, 403, "not_own_model")
    w.refused("regulator", {"kind": "recall", "model": "NO-SUCH-MODEL", "reason": "x"}, 422)
    w.refused("regulator", {"kind": "recall", "reason": "no scope"}, 422)
    w.refused("regulator", {"kind": "recall", "produced_from": "2026-05-01", "produced_to": "2026-01-01", "reason": "x"}, 422)
    w.refused("regulator", {"kind": "recall_remedy", "recall": "00000000-0000-0000-0000-000000000000"}, 404, "recall_not_found")


# --- lists ------------------------------------------------------------------------------------


def test_a_blacklisted_maker_is_refused_until_removed(world):
    w = world
    v, b, c = w.stock()
    change = {"kind": "list_change", "list": "blacklist", "organisation": w.org_id("manufacturer"), "reason": "虚标容量"}
    w.ok("regulator", {**change, "action": "add"})
    answer = w.check(**parts(v, b, c))
    assert {(p["code"], p["subject"]) for p in answer["problems"]} == {("maker_blacklisted", s) for s in ("vehicle", "battery", "charger")}
    w.refused("dealer", sale(v, b, c), 409, "sale_refused", {"maker_blacklisted"})
    w.refused("regulator", {**change, "action": "add"}, 409, "already_listed")
    w.ok("regulator", {**change, "action": "remove"})
    w.refused("regulator", {**change, "action": "remove"}, 409, "not_listed")
    w.ok("dealer", sale(v, b, c))


def test_while_a_positive_list_is_in_force_only_listed_makers_sell(world, make_catalogue):
    w = world
    v, b, c = w.stock()
    other = make_catalogue()
    w.ok("regulator", {"kind": "list_change", "list": "positive", "organisation": other.org["id"], "action": "add", "reason": "首批"})
    answer = w.check(**parts(v, b, c))
    assert {p["code"] for p in answer["problems"]} == {"maker_not_listed"}
    w.refused("dealer", sale(v, b, c), 409, "sale_refused", {"maker_not_listed"})
    w.ok("regulator", {"kind": "list_change", "list": "positive", "organisation": w.org_id("manufacturer"), "action": "add", "reason": "第二批"})
    w.ok("dealer", sale(v, b, c))


# --- reused batteries and swaps -----------------------------------------------------------------


def test_a_reused_battery_is_refused_at_sale_and_at_a_swap(world):
    w = world
    v, _, c = w.stock()
    (reused,) = w.commission("battery", identifier=f"TSTB48V2025{next_serial():06d}-R")
    w.deliver(reused, "dealer")
    answer = w.check(vehicle=v["code"], battery=reused["code"], charger=c["code"])
    assert [(p["code"], p["subject"]) for p in answer["problems"]] == [("reused_battery", "battery")]
    w.refused("dealer", sale(v, reused, c), 409, "sale_refused", {"reused_battery"})
    v2, b2, _ = w.sold()
    (reused2,) = w.commission("battery", identifier=f"TSTB48V2025{next_serial():06d}-R")
    w.deliver(reused2, "repair_shop")
    w.refused("repair_shop", {"kind": "swap_battery", "vehicle": v2["code"], "old_battery": b2["code"], "new_battery": reused2["code"]},
              409, "swap_refused", {"reused_battery"})


def test_a_swap_needs_the_installed_old_part_and_an_approved_certified_new_one_in_stock(world):
    w = world
    v, b, c = w.sold()
    v2, b2, _ = w.sold()
    (new,) = w.commission("battery")
    (larger,) = w.commission("battery", model=w.cat.larger_battery_model)
    (elsewhere,) = w.commission("battery")
    for item in (new, larger):
        w.deliver(item, "repair_shop")
    swap = {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"], "new_battery": new["code"]}
    w.refused("repair_shop", {**swap, "old_battery": b2["code"]}, 409, "swap_refused", {"old_battery_not_installed"})
    w.refused("repair_shop", {**swap, "new_battery": larger["code"]}, 409, "swap_refused", {"battery_not_approved_for_model"})
    w.refused("repair_shop", {**swap, "new_battery": elsewhere["code"]}, 409, "swap_refused", {"not_in_shop_stock"})
    w.refused("repair_shop", {**swap, "new_battery": b2["code"]}, 409, "swap_refused", {"battery_already_installed"})
    w.refused("repair_shop", {k: x for k, x in swap.items() if k != "old_battery"}, 409, "swap_refused", {"old_battery_not_installed"})
    w.ok("repair_shop", swap)
    old = w.item("battery", b["identifier"])
    assert (old["state"], old["holder_org_id"], old["installed_in"]) == ("removed", w.org_id("repair_shop"), None)
    assert w.item("vehicle", v["identifier"])["battery"] == f"battery:{new['identifier']}"
    assert w.item("battery", new["identifier"])["installed_in"] == f"vehicle:{v['identifier']}"
    # the removed battery may not be fitted once retired; it goes to a recycler, retired once
    w.deliver(b, "recycler", by="repair_shop")
    w.ok("recycler", {"kind": "retire", "battery": b["code"]})
    w.refused("recycler", {"kind": "retire", "battery": b["code"]}, 409, "item_retired")

    # a charger replacement alike
    (charger,) = w.commission("charger")
    w.deliver(charger, "repair_shop")
    w.refused("repair_shop", {"kind": "replace_charger", "vehicle": v["code"], "new_charger": charger["code"]}, 409, "swap_refused")
    w.ok("repair_shop", {"kind": "replace_charger", "vehicle": v["code"], "old_charger": c["code"], "new_charger": charger["code"]})
    assert w.item("charger", c["identifier"])["state"] == "removed"


def test_a_swap_operator_buys_without_battery_registers_and_fits_batteries_by_swap(world):
    w = world
    op = w.org_id("swap_operator")
    (v,) = w.commission("vehicle")
    (v2,) = w.commission("vehicle")
    (c,) = w.commission("charger")
    (c2,) = w.commission("charger")
    for item in (v, v2, c, c2):
        w.deliver(item, "dealer")
    no_battery = {"kind": "sell", "vehicle": v["code"], "charger": c["code"]}
    # a person may not buy without a battery; only a swap operator buys as an organisation
    w.refused("dealer", {**no_battery, "buyer": person(1)}, 409, "sale_refused", {"battery_missing"})
    w.refused("dealer", {**no_battery, "buyer_org": w.org_id("repair_shop")}, 422)
    w.refused("dealer", {**no_battery, "buyer_org": "nosuchorg"}, 404)
    w.refused("dealer", {**no_battery, "buyer_org": op, "buyer": person(1)}, 422)
    assert w.check(vehicle=v["code"], charger=c["code"], buyer_org=op)["ok"]
    w.ok("dealer", {**no_battery, "buyer_org": op})
    w.ok("dealer", {"kind": "sell", "vehicle": v2["code"], "charger": c2["code"], "buyer_org": op})
    sold = w.item("vehicle", v["identifier"])
    assert (sold["state"], sold["holder_org_id"], sold["battery"]) == ("sold", op, None)

    # registered without a battery (the rider's plate, the operator's fleet)
    w.ok("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·K0001", "owner": person(5, "骑手甲")})
    assert w.item("vehicle", v["identifier"])["state"] == "registered"

    # a repair shop may not fit the first battery; the operator does, by swap_battery with no old_battery, in a batch
    batteries = w.commission("battery", n=2)
    for item in batteries:
        w.deliver(item, "swap_operator")
    (shop_battery,) = w.commission("battery")
    w.deliver(shop_battery, "repair_shop")
    w.refused("repair_shop", {"kind": "swap_battery", "vehicle": v["code"], "new_battery": shop_battery["code"]},
              409, "swap_refused", {"vehicle_without_battery"})
    n = w.size()
    r = w.client.post("/api/v1/events/batch", headers=auth(w.token("swap_operator")), json={"events": [
        {"kind": "swap_battery", "vehicle": v["code"], "new_battery": batteries[0]["code"]},
        {"kind": "swap_battery", "vehicle": v2["code"], "new_battery": batteries[1]["code"]},
    ]})
    assert r.status_code == 201, r.get_json()
    assert [e["index"] for e in r.get_json()["events"]] == [n, n + 1]
    assert w.item("vehicle", v["identifier"])["battery"] == f"battery:{batteries[0]['identifier']}"
    # and swaps it at volume: the removed battery stays with the operator, to go round the fleet
    (fresh,) = w.commission("battery")
    w.deliver(fresh, "swap_operator")
    w.ok("swap_operator", {"kind": "swap_battery", "vehicle": v["code"], "old_battery": batteries[0]["code"], "new_battery": fresh["code"]})
    w.ok("swap_operator", {"kind": "swap_battery", "vehicle": v2["code"], "old_battery": batteries[1]["code"],
                           "new_battery": batteries[0]["code"]})
    assert w.item("battery", batteries[1]["identifier"])["holder_org_id"] == op


# --- registration ---------------------------------------------------------------------------------


def test_registration_refuses_an_invalid_owner_document(world):
    w = world
    v, b, c = w.sold()
    bad = {**person(1), "id_number": person(1)["id_number"][:-1] + ("0" if person(1)["id_number"][-1] != "0" else "1")}
    answer = w.refused("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0001", "owner": bad},
                       422)
    assert "owner.id_number" in answer["errors"]
    for owner in ({**person(1), "id_type": "passport", "id_number": "!"}, {**person(1), "id_type": "unknown"}, "张三", None, [],
                  {**person(1), "phone": "123"}):
        answer = w.refused("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0001", "owner": owner}, 422)
        assert any(f.startswith("owner") for f in answer["errors"]), answer
    w.ok("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0001",
                                "owner": {**person(1), "id_type": "passport", "id_number": "E12345678"}})


def test_a_plate_is_used_once_with_or_without_the_middle_dot_and_deregistering_frees_it(world):
    w = world
    v1, _, _ = w.registered(plate="浙B·A0001")
    v2, _, _ = w.sold(person(2))
    for plate in ("浙B·A0001", "浙BA0001", "浙b a0001", "浙Ｂ·Ａ0001"):
        w.refused("registration_point", {"kind": "register", "vehicle": v2["code"], "plate": plate, "owner": person(2)},
                  409, "registration_refused", {"plate_taken"})
    w.refused("registration_point", {"kind": "register", "vehicle": v2["code"], "plate": "XX", "owner": person(2)}, 422)
    w.refused("registration_point", {"kind": "register", "vehicle": v1["code"], "plate": "浙B·A0002", "owner": person(1)},
              409, "registration_refused", {"already_registered"})
    w.ok("registration_point", {"kind": "deregister", "vehicle": v1["code"], "reason": "moved_away"})
    assert w.item("vehicle", v1["identifier"])["plate"] is None
    assert w.item("vehicle", v1["identifier"])["state"] == "deregistered"
    w.refused("registration_point", {"kind": "deregister", "vehicle": v1["code"]}, 409, "vehicle_not_registered")
    w.ok("registration_point", {"kind": "register", "vehicle": v2["code"], "plate": "浙BA0001", "owner": person(2)})
    assert w.item("vehicle", v2["identifier"])["plate"] in ("浙BA0001", "浙B·A0001")


def test_registration_needs_a_sold_vehicle_with_its_bound_parts(world):
    w = world
    v, b, c = w.stock()
    w.refused("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0009", "owner": person(1)},
              409, "registration_refused", {"vehicle_not_sold"})
    w.ok("dealer", sale(v, b, c))
    (stray,) = w.commission("battery")
    w.refused("registration_point", {"kind": "register", "vehicle": v["code"], "battery": stray["code"], "plate": "浙B·A0009",
                                     "owner": person(1)}, 409, "battery_not_bound")


def test_a_non_standard_vehicle_is_not_registered_after_its_transition_deadline(world):
    w = world
    past = vehicle_model(w, {"standard": "non_standard", "transition_deadline": "2025-12-31", "max_speed_kmh": 32, "mass_kg": 68})
    future = vehicle_model(w, {"standard": "non_standard", "transition_deadline": "2099-12-31", "max_speed_kmh": 32, "mass_kg": 68})
    registered = {}
    for model in (past, future):
        (v,) = w.commission("vehicle", model=model)
        (b,) = w.commission("battery")
        (c,) = w.commission("charger")
        for item in (v, b, c):
            w.deliver(item, "dealer")
        w.ok("dealer", sale(v, b, c))
        registered[model] = v
    body = {"kind": "register", "vehicle": registered[past]["code"], "plate": "浙B·N0001", "owner": person(1)}
    w.refused("registration_point", body, 409, "registration_refused", {"non_standard_after_deadline"})
    # backdating the registration to within the transition period does not help
    w.refused("registration_point", {**body, "occurred_at": "2025-12-01T09:00:00+08:00"}, 409, "registration_refused",
              {"non_standard_after_deadline"})
    w.ok("registration_point", {**body, "vehicle": registered[future]["code"]})
    # nor may such a vehicle be backfilled
    w.refused("registration_point", {"kind": "backfill", "vehicle": "NSOLD20190001", "vehicle_model": past, "plate": "浙B·N0002",
                                     "owner": person(2)}, 409, "backfill_refused", {"non_standard_after_deadline"})


def test_a_registered_vehicle_is_transferred_to_a_new_owner(world):
    w = world
    v, b, c = w.registered(owner=person(1))
    n = w.size()
    w.refused("registration_point", {"kind": "transfer", "vehicle": v["code"], "new_owner": person(1)}, 409, "same_owner")
    moved = w.ok("registration_point", {"kind": "transfer", "vehicle": v["code"], "new_owner": person(2, "李四")})
    assert moved["index"] == n
    event = w.get(f"/api/v1/events/{moved['event_id']}", w.token("regulator"))["body"]
    assert event["data"]["from"] != event["data"]["to"] and event["data"]["to"].startswith("owner:")
    assert set(event["prev"]) >= {f"vehicle:{v['identifier']}", f"battery:{b['identifier']}", f"charger:{c['identifier']}"}
    item = w.item("vehicle", v["identifier"])
    assert (item["state"], item["plate"]) == ("registered", "浙B·A0001")
    w.ok("registration_point", {"kind": "report_stolen", "vehicle": v["code"]})
    w.refused("registration_point", {"kind": "transfer", "vehicle": v["code"], "new_owner": person(3, "王五")}, 409, "vehicle_stolen")
    (unsold,) = w.commission("vehicle")
    w.refused("registration_point", {"kind": "transfer", "vehicle": unsold["code"], "new_owner": person(3)}, 409, "vehicle_not_registered")


# --- stolen, backfill -------------------------------------------------------------------------------


def test_a_stolen_report_warns_every_later_scan_until_recovered(world):
    w = world
    v, b, c = w.registered()
    assert w.scan(v)["flags"]["stolen"] is False
    w.refused("investigator", {"kind": "report_recovered", "vehicle": v["code"]}, 409, "not_reported_stolen")
    w.ok("investigator", {"kind": "report_stolen", "vehicle": v["code"], "battery": b["code"], "case_number": "甬公立〔2026〕88号"})
    for item in (v, b):
        assert w.scan(item)["flags"]["stolen"] is True
        assert w.client.get("/api/v1/codes", query_string={"q": item["identifier"]}).get_json()["flags"]["stolen"] is True
        assert w.item(item["kind"], item["identifier"], by="dealer")["flags"]["stolen"] is True
    assert w.scan(c)["flags"]["stolen"] is False
    w.refused("registration_point", {"kind": "report_stolen", "vehicle": v["code"]}, 409, "already_reported_stolen")
    w.ok("registration_point", {"kind": "report_recovered", "vehicle": v["code"], "battery": b["code"]})
    assert w.scan(v)["flags"]["stolen"] is False and w.scan(b)["flags"]["stolen"] is False


def test_backfill_codes_a_bike_on_the_road_with_legacy_identifiers(world):
    w = world
    body = {"kind": "backfill", "vehicle": "lgc 2019 a0001", "battery": "OLDBAT7788", "charger": "OLDCHG5566",
            "plate": "浙B·L0001", "owner": person(3, "王五")}
    done = w.ok("registration_point", body)
    vehicle = w.item("vehicle", "LGC2019A0001")
    battery = w.item("battery", "OLDBAT7788")
    charger = w.item("charger", "OLDCHG5566")
    assert (vehicle["state"], vehicle["plate"], vehicle["battery"], vehicle["charger"]) == (
        "registered", "浙B·L0001", "battery:OLDBAT7788", "charger:OLDCHG5566")
    assert (battery["state"], battery["installed_in"]) == ("installed", "vehicle:LGC2019A0001")
    assert charger["state"] == "installed"
    for item in (vehicle, battery, charger):
        assert item["flags"]["backfilled"] is True and item["flags"]["legacy"] is True
        scanned = w.scan(item)
        assert scanned["genuine"] is True and scanned["identifier"] == item["identifier"]
        assert scanned["flags"]["backfilled"] is True
    assert done["index"] == w.size() - 1
    # coded once; the plate is then taken; a reused battery is never backfilled into an e-bike
    w.refused("registration_point", {**body, "plate": "浙B·L0002"}, 409, "already_coded")
    w.refused("registration_point", {**body, "vehicle": "LGC2019A0002", "battery": "OLDBAT7789", "charger": "OLDCHG5567"},
              409, "backfill_refused", {"plate_taken"})
    w.refused("registration_point", {"kind": "backfill", "vehicle": "LGC2019A0003", "battery": f"TSTB48V2025{next_serial():06d}-R",
                                     "plate": "浙B·L0003", "owner": person(4)}, 409, "reused_battery")
    # a standard identifier not yet coded is backfilled without the legacy flag
    w.ok("registration_point", {"kind": "backfill", "vehicle": f"1173226{next_serial():08d}", "plate": "浙B·L0004", "owner": person(4)})
    # a battery-less backfilled vehicle is still a vehicle: the state rules hold after it
    w.refused("registration_point", {"kind": "register", "vehicle": vehicle["code"], "plate": "浙B·L0005", "owner": person(3)},
              409, "registration_refused", {"already_registered"})


# --- corrections ------------------------------------------------------------------------------------


def test_voiding_a_ship_restores_the_item_and_the_item_moves_on(world):
    w = world
    (v,) = w.commission("vehicle")
    before = w.item("vehicle", v["identifier"])
    shipped = w.ship(v, "dealer")
    assert w.item("vehicle", v["identifier"])["state"] == "shipped"
    w.refused("dealer", {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur"}, 403, "correction_refused")
    w.ok("manufacturer", {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur", "note": "发错"})
    after = w.item("vehicle", v["identifier"])
    assert {k: after[k] for k in ("state", "holder_org_id", "shipped_to_org_id")} == {
        k: before[k] for k in ("state", "holder_org_id", "shipped_to_org_id")} == {
        "state": "commissioned", "holder_org_id": w.org_id("manufacturer"), "shipped_to_org_id": None}
    w.refused("dealer", {"kind": "receive", "vehicle": v["code"]}, 409, "not_shipped_to_you")
    w.refused("manufacturer", {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur"}, 409,
              "correction_refused", {"event_already_voided"})
    w.deliver(v, "repair_shop")
    assert w.item("vehicle", v["identifier"])["holder_org_id"] == w.org_id("repair_shop")


def test_a_correction_that_would_leave_a_later_event_impossible_is_refused(world):
    w = world
    (b,) = w.commission("battery")
    shipped = w.ship(b, "dealer")
    received = w.ok("dealer", {"kind": "receive", "battery": b["code"]})
    w.refused("manufacturer", {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur"},
              409, "correction_refused", {"correction_breaks_later_events"})
    # undone from the latest back, both go
    w.ok("dealer", {"kind": "correction", "corrects": received["event_id"], "reason": "did_not_occur"})
    assert w.item("battery", b["identifier"])["state"] == "shipped"
    w.ok("manufacturer", {"kind": "correction", "corrects": shipped["event_id"], "reason": "did_not_occur"})
    assert w.item("battery", b["identifier"])["state"] == "commissioned"
    w.refused("admin", {"kind": "correction", "corrects": "00000000-0000-0000-0000-000000000000", "reason": "did_not_occur"},
              404, "event_not_found")


def test_incorrect_data_replaces_the_production_date_and_the_projections_follow(world, runner):
    w = world
    (b,) = w.commission("battery", produced_on="2026-03-01")
    event_id = w.entries()[b["index"]]["event_id"]
    w.deliver(b, "dealer")  # later events do not stop a data correction
    w.ok("manufacturer", {"kind": "correction", "corrects": event_id, "reason": "incorrect_data", "fields": {"produced_on": "2026-02-14"}})
    assert w.item("battery", b["identifier"])["produced_on"] == "2026-02-14"
    assert w.item("battery", b["identifier"])["state"] == "in_stock"
    w.refused("manufacturer", {"kind": "correction", "corrects": event_id, "reason": "incorrect_data", "fields": {"model": "X"}}, 422)
    w.refused("manufacturer", {"kind": "correction", "corrects": event_id, "reason": "incorrect_data",
                               "fields": {"produced_on": "14/02/2026"}}, 422)
    w.refused("manufacturer", {"kind": "correction", "corrects": event_id, "reason": "incorrect_data"}, 422)
    w.refused("dealer", {"kind": "correction", "corrects": event_id, "reason": "incorrect_data", "fields": {"produced_on": "2026-01-01"}},
              403, "correction_refused")
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0


# --- assessments and end of life -------------------------------------------------------------------


def test_a_battery_health_assessment_is_recorded_and_a_failure_voids_the_pass(world):
    w = world
    v, b, c = w.sold()
    w.ok("repair_shop", {"kind": "assess_battery", "battery": b["code"], "result": "passed", "capacity_pct": 88})
    assert w.item("battery", b["identifier"])["assessed_on"] is not None
    w.ok("regulator", {"kind": "assess_battery", "battery": b["code"], "result": "failed", "capacity_pct": 55})
    assert w.item("battery", b["identifier"])["assessed_on"] is None
    w.refused("recycler", {"kind": "assess_battery", "battery": b["code"], "result": "maybe"}, 422)
    w.refused("recycler", {"kind": "assess_battery", "battery": b["code"], "result": "passed", "capacity_pct": 900}, 422)
    w.refused("recycler", {"kind": "assess_battery", "battery": v["code"], "result": "passed"}, 422)


def test_scrap_then_retire_then_recycle(world):
    w = world
    v, b, c = w.registered()
    w.refused("recycler", {"kind": "retire", "battery": b["code"]}, 409, "item_installed")
    w.ok("recycler", {"kind": "scrap", "vehicle": v["code"]})
    vehicle = w.item("vehicle", v["identifier"])
    assert (vehicle["state"], vehicle["plate"], vehicle["battery"]) == ("scrapped", None, None)
    for part in (b, c):
        item = w.item(part["kind"], part["identifier"])
        assert (item["state"], item["holder_org_id"]) == ("removed", w.org_id("recycler"))
    w.refused("recycler", {"kind": "scrap", "vehicle": v["code"]}, 409, "vehicle_scrapped")
    w.refused("recycler", {"kind": "recycle", "battery": b["code"]}, 409, "item_not_retired")
    w.ok("recycler", {"kind": "retire", "battery": b["code"], "charger": c["code"], "reason": "end_of_life"})
    w.ok("recycler", {"kind": "recycle", "battery": b["code"], "method": "material_recovery"})
    assert w.item("battery", b["identifier"])["state"] == "recycled"
    w.refused("recycler", {"kind": "recycle", "battery": b["code"]}, 409, "item_recycled")
    w.refused("investigator", {"kind": "report_stolen", "battery": b["code"]}, 409, "item_recycled")
    # the plate of a scrapped vehicle is free again
    v2, _, _ = w.sold(person(2))
    w.ok("registration_point", {"kind": "register", "vehicle": v2["code"], "plate": "浙B·A0001", "owner": person(2)})
    # a part in transit or in another's stock is not the recycler's to retire
    (spare,) = w.commission("battery")
    w.ship(spare, "recycler")
    w.refused("recycler", {"kind": "retire", "battery": spare["code"]}, 409, "item_in_transit")
    (kept,) = w.commission("battery")
    w.refused("recycler", {"kind": "retire", "battery": kept["code"]}, 409, "item_not_in_your_stock")


def test_every_accepted_event_follows_the_last_one_directly_and_the_log_verifies(world, runner):
    w = world
    v, b, c = w.registered()
    entries = w.entries()
    assert [e.get("index", i) for i, e in enumerate(entries)] == list(range(len(entries)))
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output


def test_voiding_a_regulators_fact_restores_it_and_catalogue_records_are_not_voided(world, runner):
    w = world
    v, b, c = w.stock()
    suspended = w.ok("regulator", {"kind": "certificate_status", "certificate": w.cat.certificate, "status": "suspended", "reason": "x"})
    listed = w.ok("regulator", {"kind": "list_change", "list": "blacklist", "organisation": w.org_id("manufacturer"),
                                "action": "add", "reason": "x"})
    opened = w.ok("regulator", {"kind": "recall", "model": w.cat.battery_model, "reason": "x"})
    closed = w.ok("regulator", {"kind": "recall_remedy", "recall": recall_id(w, opened), "remedy": "closed"})
    assert codes(w.check(**parts(v, b, c))) == {"certificate_suspended", "maker_blacklisted"}
    for event in (suspended, listed):
        w.refused("dealer", {"kind": "correction", "corrects": event["event_id"], "reason": "did_not_occur"}, 403, "correction_refused")
        w.ok("regulator", {"kind": "correction", "corrects": event["event_id"], "reason": "did_not_occur"})
    assert w.check(**parts(v, b, c))["ok"]
    w.ok("regulator", {"kind": "correction", "corrects": closed["event_id"], "reason": "did_not_occur"})
    assert codes(w.check(**parts(v, b, c))) == {"open_recall"}  # the recall is open again
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0
    # a certificate is revoked, not voided
    cert_event = next(e for e in w.entries() if e["kind"] == "certificate")
    w.refused("admin", {"kind": "correction", "corrects": cert_event["event_id"], "reason": "did_not_occur"}, 409,
              "correction_refused", {"correction_not_reversible"})
    # a status change with a later one on the same certificate stands
    s1 = w.ok("regulator", {"kind": "certificate_status", "certificate": w.cat.charger_certificate, "status": "suspended", "reason": "x"})
    w.ok("regulator", {"kind": "certificate_status", "certificate": w.cat.charger_certificate, "status": "revoked", "reason": "y"})
    w.refused("regulator", {"kind": "correction", "corrects": s1["event_id"], "reason": "did_not_occur"}, 409,
              "correction_refused", {"correction_breaks_later_events"})


def test_a_step_may_not_say_it_happens_in_the_future(world):
    w = world
    (b,) = w.commission("battery")
    w.refused("manufacturer", {"kind": "ship", "battery": b["code"], "to": w.org_id("dealer"),
                               "occurred_at": "2099-01-01T00:00:00+08:00"}, 422)
    w.refused("manufacturer", {"kind": "ship", "battery": b["code"], "to": w.org_id("dealer"),
                               "occurred_at": "0001-01-01T00:00:00+08:00"}, 422)
    w.ok("manufacturer", {"kind": "ship", "battery": b["code"], "to": w.org_id("dealer"), "occurred_at": "2026-01-05T09:30:00+08:00"})


def test_voiding_the_latest_step_restores_every_item_it_touched(world, runner):
    w = world

    def void(by, event):
        w.ok(by, {"kind": "correction", "corrects": event["event_id"], "reason": "did_not_occur"})

    def states(*items):
        return [w.item(i["kind"], i["identifier"])["state"] for i in items]

    v, b, c = w.stock()
    void("dealer", w.ok("dealer", sale(v, b, c)))
    assert states(v, b, c) == ["in_stock"] * 3
    w.ok("dealer", sale(v, b, c, buyer=person(2)))
    void("registration_point", w.ok("registration_point", {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0001",
                                                           "owner": person(2)}))
    assert (w.item("vehicle", v["identifier"])["state"], w.item("vehicle", v["identifier"])["plate"]) == ("sold", None)
    (new,) = w.commission("battery")
    w.deliver(new, "repair_shop")
    void("repair_shop", w.ok("repair_shop", {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"],
                                             "new_battery": new["code"]}))
    assert states(b, new) == ["installed", "in_stock"]
    assert w.item("vehicle", v["identifier"])["battery"] == f"battery:{b['identifier']}"
    void("investigator", w.ok("investigator", {"kind": "report_stolen", "vehicle": v["code"]}))
    assert w.scan(v)["flags"]["stolen"] is False
    void("recycler", w.ok("recycler", {"kind": "scrap", "vehicle": v["code"]}))
    assert states(v, b, c) == ["sold", "installed", "installed"]
    void("registration_point", w.ok("registration_point", {"kind": "backfill", "vehicle": "LGC2019A0001", "battery": "OLDBAT0001",
                                                           "plate": "浙B·L0001", "owner": person(3)}))
    r = w.client.get("/api/v1/items/vehicle/LGC2019A0001", headers=auth(w.token("dealer")))
    assert r.status_code == 404
    w.ok("registration_point", {"kind": "backfill", "vehicle": "LGC2019A0001", "battery": "OLDBAT0001", "plate": "浙B·L0001",
                                "owner": person(3)})
    (x,) = w.commission("battery")
    void("manufacturer", w.entries()[x["index"]])
    assert w.client.get(f"/api/v1/items/battery/{x['identifier']}", headers=auth(w.token("dealer"))).status_code == 404
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output
