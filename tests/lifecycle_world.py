"""Helpers for the lifecycle HTTP tests: a small world of organisations and a catalogue, built over HTTP.

Import the ``world`` fixture into a test module to use them
(``from tests.lifecycle_world import world  # noqa: F401``; test users' passwords are cheap everywhere, see tests/conftest.py).
"""

from __future__ import annotations

import base64
import json

import pytest
from stdnum.cn import ric

from tests.conftest import auth

ORG_KINDS = ("manufacturer", "dealer", "registration_point", "repair_shop", "swap_operator", "recycler",
             "investigator", "regulator", "admin")

EVERYONE = frozenset(ORG_KINDS)

#: DOMAIN.md "Who may record which event". "The current holder of the item", "the organisation it
#: was shipped to" and "the organisation that recorded the corrected event, or admin" name no kind:
#: any kind passes the role gate and the use case checks the rest (409 / 403 correction_not_yours).
DOMAIN_TABLE: dict[str, frozenset[str]] = {
    "register_organisation": frozenset({"admin"}),
    "certificate": frozenset({"manufacturer", "regulator"}),
    "model": frozenset({"manufacturer"}),
    "commission": frozenset({"manufacturer"}),
    "ship": EVERYONE,
    "receive": EVERYONE,
    "sell": frozenset({"dealer"}),
    "register": frozenset({"registration_point"}),
    "transfer": frozenset({"registration_point"}),
    "deregister": frozenset({"registration_point"}),
    "backfill": frozenset({"registration_point"}),
    # not in DOMAIN.md's table: a vehicle arriving from another region's log (docs/REGIONS.md)
    "transfer_in": frozenset({"registration_point"}),
    "repair": frozenset({"repair_shop", "swap_operator"}),
    "swap_battery": frozenset({"repair_shop", "swap_operator"}),
    "replace_charger": frozenset({"repair_shop", "swap_operator"}),
    "report_modification": frozenset({"repair_shop", "registration_point", "investigator", "regulator"}),
    "assess_battery": frozenset({"repair_shop", "recycler", "regulator"}),
    "recall": frozenset({"regulator", "manufacturer"}),
    "recall_remedy": frozenset({"regulator", "manufacturer"}),
    "certificate_status": frozenset({"regulator"}),
    "list_change": frozenset({"regulator"}),
    "report_stolen": frozenset({"registration_point", "investigator"}),
    "report_recovered": frozenset({"registration_point", "investigator"}),
    "report_incident": frozenset({"investigator"}),
    "retire": frozenset({"recycler"}),
    "recycle": frozenset({"recycler"}),
    "scrap": frozenset({"recycler"}),
    "correction": EVERYONE,
}


def resident_id(prefix17: str = "33020619900101123") -> str:
    """Return a valid 18-character resident ID (GB 11643 check digit) starting with *prefix17*."""
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def person(n: int = 1, name: str = "张三") -> dict:
    return {"name": name, "id_number": resident_id(f"33020619900101{n:03d}"), "phone": f"138{n:08d}"}


class World:
    """One organisation of every kind, one manufacturer's catalogue, and helpers to move items."""

    def __init__(self, client, make_org, make_catalogue, admin_token, kinds=ORG_KINDS):
        self.client = client
        self.make_org = make_org
        self.cat = make_catalogue()
        self.orgs: dict[str, tuple[dict, str]] = {"manufacturer": (self.cat.org, self.cat.token)}
        admin_org = self.get("/api/v1/orgs", admin_token)
        for kind in kinds:
            if kind == "manufacturer":
                continue
            if kind == "admin":
                org = next((o for o in admin_org if o["kind"] == "admin"), {"id": None}) if isinstance(admin_org, list) else {"id": None}
                self.orgs["admin"] = (org, admin_token)
                continue
            self.orgs[kind] = make_org(kind)

    # -- plumbing ------------------------------------------------------------------------

    def get(self, path, token=None, **kw):
        r = self.client.get(path, headers=auth(token) if token else {}, **kw)
        return r.get_json()

    def token(self, kind: str) -> str:
        return self.orgs[kind][1]

    def org_id(self, kind: str) -> str:
        return self.orgs[kind][0]["id"]

    def post(self, kind_or_token: str, body, **headers):
        token = self.orgs[kind_or_token][1] if kind_or_token in self.orgs else kind_or_token
        return self.client.post("/api/v1/events", json=body, headers={**auth(token), **headers})

    def ok(self, by: str, body, status=201) -> dict:
        r = self.post(by, body)
        assert r.status_code == status, (by, body, r.status_code, r.get_json())
        return r.get_json()

    def size(self) -> int:
        return int(self.client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])

    def refused(self, by: str, body, status: int, code: str | None = None, problems: set | None = None) -> dict:
        """Post *body*; assert it is refused with *status* (and *code*, *problems*) and wrote nothing."""
        before = self.size()
        r = self.post(by, body)
        answer = r.get_json()
        assert r.status_code == status, (body, r.status_code, answer)
        assert r.mimetype == "application/problem+json"
        if code is not None:
            assert answer["code"] == code, answer
        if problems is not None:
            assert problems <= {p["code"] for p in answer.get("problems", [])}, answer
        assert self.size() == before, "a refused request left an entry behind"
        return answer

    def item(self, kind: str, identifier: str, by: str = "regulator") -> dict:
        r = self.client.get(f"/api/v1/items/{kind}/{identifier}", headers=auth(self.token(by)))
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def scan(self, item: dict) -> dict:
        """The public code check of an item (its payload's token)."""
        token = item["code"].rsplit("/", 1)[1]
        r = self.client.get(f"/api/v1/codes/{token}")
        assert r.status_code == 200
        return r.get_json()

    def check(self, by: str = "dealer", **parts) -> dict:
        r = self.client.post("/api/v1/checks/sale", json=parts, headers=auth(self.token(by)))
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def entries(self) -> list[dict]:
        out = []
        for i in range(self.size()):
            body = self.client.get(f"/api/v1/log/entries/{i}").get_json()["body"]
            out.append(json.loads(base64.b64decode(body)))
        return out

    def origin(self) -> str:
        """This registry's log origin (the checkpoint's first line)."""
        return self.client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[0]

    def moved_away(self, to: "World", plate: str = "浙B·M0001") -> tuple[dict, dict, dict, int]:
        """A set registered here, then deregistered to *to*'s region; return it and the deregistration's index."""
        v, b, c = self.registered(plate)
        out = self.ok("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "moved_away",
                                             "to_origin": to.origin()})
        return v, b, c, out["index"]

    # -- moving items --------------------------------------------------------------------

    def commission(self, kind: str, n: int = 1, **fields) -> list[dict]:
        return self.cat.commission(kind, n, **fields)

    def ship(self, item: dict, to: str, by: str = "manufacturer") -> dict:
        return self.ok(by, {"kind": "ship", item["kind"]: item["identifier"], "to": self.org_id(to)})

    def deliver(self, item: dict, to: str, by: str = "manufacturer") -> None:
        """Ship *item* from *by* to *to*, and *to* receives it."""
        self.ship(item, to, by)
        self.ok(to, {"kind": "receive", item["kind"]: item["code"]})

    def stock(self, to: str = "dealer", battery_model: str | None = None, **fields) -> tuple[dict, dict, dict]:
        """Commission a vehicle, a battery and a charger and deliver them to *to*."""
        v = self.commission("vehicle", **fields)[0]
        b = self.commission("battery", **({"model": battery_model} if battery_model else {}), **fields)[0]
        c = self.commission("charger", **fields)[0]
        for item in (v, b, c):
            self.deliver(item, to)
        return v, b, c

    def sold(self, buyer: dict | None = None) -> tuple[dict, dict, dict]:
        """A set sold by the dealer to a person."""
        v, b, c = self.stock()
        self.ok("dealer", {"kind": "sell", "vehicle": v["code"], "battery": b["code"], "charger": c["code"],
                           "buyer": buyer or person(1)})
        return v, b, c

    def registered(self, plate: str = "浙B·A0001", owner: dict | None = None) -> tuple[dict, dict, dict]:
        """A set sold and registered under *plate*."""
        owner = owner or person(1)
        v, b, c = self.sold(owner)
        self.ok("registration_point", {"kind": "register", "vehicle": v["code"], "plate": plate, "owner": owner})
        return v, b, c


@pytest.fixture
def world(client, make_org, make_catalogue, admin_token, request):
    w = World(client, make_org, make_catalogue, admin_token)
    w.elsewhere = lambda: request.getfixturevalue("elsewhere")
    return w


@pytest.fixture
def elsewhere(other_region_app):
    """A World in a second region (its own log), a peer of ``world``'s registry."""
    from tests.conftest import catalogue_maker, first_admin_token, org_maker

    client = other_region_app.test_client()
    token = first_admin_token(client, other_region_app.extensions["registry"])
    make_org = org_maker(client, token)
    return World(client, make_org, catalogue_maker(client, make_org), token,
                 kinds=("manufacturer", "dealer", "registration_point", "investigator", "admin"))
