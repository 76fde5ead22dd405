"""A small city for traceback tests, built only over HTTP: two makers, a sale, a registration,
a battery swap at a repair shop and a fire on the swapped-in battery."""

from __future__ import annotations

from types import SimpleNamespace

from stdnum.cn import ric

from tests.conftest import auth, next_serial

OWNER_ID = "11010519491231002" + ric.calc_check_digit("11010519491231002" + "0")
OWNER = {"name": "王小明", "id_number": OWNER_ID, "phone": "13912345678"}


def post_event(client, token, body):
    r = client.post("/api/v1/events", json=body, headers=auth(token))
    assert r.status_code == 201, (body.get("kind"), r.get_json())
    return r.get_json()


def ship_and_receive(client, from_token, receiver, item):
    kind = item["kind"]
    post_event(client, from_token, {"kind": "ship", kind: item["identifier"], "to": receiver[0]["id"]})
    post_event(client, receiver[1], {"kind": "receive", kind: item["code"]})


def build_city(client, make_org, make_catalogue, *, battery_produced_on="2026-03-01"):
    """Return a namespace: orgs (with tokens), items, the plate and the event answers of each step."""
    vmaker = make_catalogue()  # the vehicle and charger maker
    bmaker = make_catalogue()  # the battery maker
    n = next_serial()
    vehicle_model, cert = f"TV-{n:05d}", f"2026011119{n:06d}"
    r = client.post("/api/v1/certificates", json={"number": cert, "product_kind": "vehicle", "model": vehicle_model,
                                                  "issued_on": "2026-01-01", "expires_on": "2031-01-01"}, headers=auth(vmaker.token))
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v1/models", json={
        "kind": "vehicle", "model": vehicle_model, "certificate": cert,
        "specs": {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55},
        "approved_batteries": [bmaker.battery_model], "approved_chargers": [vmaker.charger_model]}, headers=auth(vmaker.token))
    assert r.status_code == 201, r.get_json()
    dealer = make_org("dealer", f"城南电动车商行{n}")
    other_dealer = make_org("dealer", f"城北车行{n}")
    point = make_org("registration_point", f"鄞州交警登记点{n}")
    shop = make_org("repair_shop", f"老李电动车维修部{n}")
    investigator = make_org("investigator", f"宁波消防救援支队{n}")
    regulator = make_org("regulator", f"市场监管局{n}")
    v = vmaker.commission("vehicle", model=vehicle_model)[0]
    c = vmaker.commission("charger")[0]
    b1 = bmaker.commission("battery", produced_on=battery_produced_on)[0]
    b2 = bmaker.commission("battery")[0]
    for maker, item in ((vmaker, v), (vmaker, c), (bmaker, b1)):
        ship_and_receive(client, maker.token, dealer, item)
    sale = post_event(client, dealer[1], {"kind": "sell", "vehicle": v["code"], "battery": b1["code"], "charger": c["code"],
                                          "buyer": OWNER})
    plate = f"浙B·T{n:04d}"
    registration = post_event(client, point[1], {"kind": "register", "vehicle": v["identifier"], "plate": plate,
                                                 "owner": {**OWNER, "id_type": "resident_id"}})
    ship_and_receive(client, bmaker.token, shop, b2)
    swap = post_event(client, shop[1], {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b1["code"],
                                        "new_battery": b2["code"]})
    r = client.post("/api/v1/photos", data=b"\xff\xd8\xff\xe0 scene photo " + str(n).encode(),
                    headers={**auth(investigator[1]), "Content-Type": "image/jpeg"})
    assert r.status_code == 201, r.get_json()
    photo = r.get_json()["sha256"]
    case_number = f"甬消调〔2026〕{n}号"
    fire = post_event(client, investigator[1], {
        "kind": "report_incident", "battery": b2["code"], "vehicle": v["identifier"], "incident_type": "fire",
        "occurred_at": "2026-11-20T02:10:00+08:00", "region": "330212", "address": "钟公庙街道某小区3幢楼道",
        "state": "charging", "casualties": {"dead": 1, "injured": 1}, "case_number": case_number,
        "scene_identifiers": [b2["identifier"][:10], v["identifier"][:9]], "photos": [photo]})
    return SimpleNamespace(
        vmaker=vmaker, bmaker=bmaker, dealer=dealer, other_dealer=other_dealer, point=point, shop=shop,
        investigator=investigator, regulator=regulator, vehicle=v, charger=c, removed=b1, burnt=b2, plate=plate,
        sale=sale, registration=registration, swap=swap, fire=fire, photo=photo, case_number=case_number,
        vehicle_model=vehicle_model,
    )
