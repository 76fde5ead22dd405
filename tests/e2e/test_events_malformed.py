"""Malformed input on /events, /events/batch and /checks/sale: always a 4xx problem+json, never a 500.

Every field of every event kind gets every kind of junk, on top of an otherwise
valid body naming real items (so the junk reaches the use case, not only the schema),
sent by a role that may record the kind; then random JSON (hypothesis).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.domain.roles import RECORDED_BY
from schemas.events import SCHEMAS
from tests.conftest import auth
from tests.lifecycle_world import elsewhere, person, world  # noqa: F401

pytestmark = pytest.mark.db

JUNK = [
    None, True, 0, -1, 1.5, 10**30, -(10**30), 1e308, 10**400, "", " ", "x" * 600, "１" * 600, "\u0000", "\ud800", "\udfff\ud800",
    "é\u0301\u202e\ufeff\U0001f525", "浙B·A0001\n; DROP TABLE items;--", "http://registry.test/c/" + "Z" * 200,
    [], ["a"], [None, 1], {}, {"id": "x"}, {"kind": "sell"}, {"name": "张三", "id_number": None},
]


def _bodies(w):
    """An otherwise valid body per kind, naming real items in the right states."""
    v, b, c = w.registered()
    sv, sb, sc = w.stock()
    (spare,) = w.commission("battery")
    w.deliver(spare, "repair_shop")
    opened = w.ok("regulator", {"kind": "recall", "model": w.cat.battery_model, "batch": "NONE", "reason": "x"})
    recall = w.get(f"/api/v1/events/{opened['event_id']}", w.token("regulator"))["body"]["data"]["recall"]
    there = w.elsewhere()
    mv, mb, mc, moved = there.moved_away(w)
    return {
        "transfer_in": {"kind": "transfer_in", "vehicle": mv["code"], "battery": mb["code"], "charger": mc["identifier"],
                        "from_origin": there.origin(), "from_index": moved, "plate": "浙B·T0009", "owner": person(10)},
        "ship": {"kind": "ship", "battery": spare["code"], "to": w.org_id("recycler")},
        "receive": {"kind": "receive", "battery": spare["code"], "inspection": "passed"},
        "sell": {"kind": "sell", "vehicle": sv["code"], "battery": sb["code"], "charger": sc["code"], "buyer": person(7)},
        "register": {"kind": "register", "vehicle": v["code"], "plate": "浙B·A0002", "owner": person(7)},
        "transfer": {"kind": "transfer", "vehicle": v["code"], "new_owner": person(8)},
        "deregister": {"kind": "deregister", "vehicle": v["code"], "reason": "other"},
        "backfill": {"kind": "backfill", "vehicle": "LGC2019A0009", "battery": "OLDBAT0009", "charger": "OLDCHG0009",
                     "vehicle_model": w.cat.vehicle_model, "plate": "浙B·L0009", "owner": person(9)},
        "repair": {"kind": "repair", "vehicle": v["code"], "work": "x"},
        "swap_battery": {"kind": "swap_battery", "vehicle": v["code"], "old_battery": b["code"], "new_battery": spare["code"]},
        "replace_charger": {"kind": "replace_charger", "vehicle": v["code"], "old_charger": c["code"], "new_charger": sc["code"]},
        "report_modification": {"kind": "report_modification", "vehicle": v["code"], "modification": "other"},
        "assess_battery": {"kind": "assess_battery", "battery": b["code"], "result": "passed", "capacity_pct": 90},
        "recall": {"kind": "recall", "model": w.cat.battery_model, "batch": "B", "produced_from": "2026-01-01",
                   "produced_to": "2026-02-01", "certificate": w.cat.battery_certificate, "reason": "x"},
        "recall_remedy": {"kind": "recall_remedy", "recall": recall, "battery": b["code"], "remedy": "repaired"},
        "certificate_status": {"kind": "certificate_status", "certificate": w.cat.certificate, "status": "suspended", "reason": "x"},
        "list_change": {"kind": "list_change", "list": "blacklist", "organisation": w.org_id("dealer"), "action": "add", "reason": "x"},
        "report_stolen": {"kind": "report_stolen", "vehicle": v["code"], "case_number": "x"},
        "report_recovered": {"kind": "report_recovered", "vehicle": v["code"], "case_number": "x"},
        "report_incident": {"kind": "report_incident", "battery": b["code"], "incident_type": "fire",
                            "occurred_at": "2026-11-20T02:10:00+08:00", "region": "330206", "address": "x", "state": "charging",
                            "casualties": {"dead": 0, "injured": 1}, "case_number": "x", "scene_identifiers": ["X"],
                            "photos": ["0" * 64]},
        "retire": {"kind": "retire", "battery": b["code"], "reason": "other"},
        "recycle": {"kind": "recycle", "battery": b["code"], "method": "disassembly"},
        "scrap": {"kind": "scrap", "vehicle": v["code"]},
        "correction": {"kind": "correction", "corrects": w.entries()[spare["index"]]["event_id"], "reason": "incorrect_data",
                       "fields": {"produced_on": "2026-01-01"}},
    }


def _by(kind: str) -> str:
    for org in ("registration_point", "repair_shop", "regulator", "recycler", "investigator", "dealer", "manufacturer", "admin"):
        if org in RECORDED_BY[kind]:
            return org
    raise AssertionError(kind)


def _assert_problem(r, what):
    assert r.status_code < 500, (what, r.status_code, r.get_data(as_text=True)[:500])
    if r.status_code >= 400:
        assert r.mimetype == "application/problem+json", what
        assert isinstance(r.get_json()["code"], str), what


def _send(w, path, by, body):
    return w.client.post(path, data=json.dumps(body), content_type="application/json", headers=auth(w.token(by)))


def test_every_field_of_every_kind_with_every_junk_is_a_4xx_problem(world):
    w = world
    bodies = _bodies(w)
    assert set(bodies) == set(SCHEMAS)
    for kind, body in bodies.items():
        by = _by(kind)
        declared = {f.data_key or name for name, f in SCHEMAS[kind]().fields.items()}
        keys = sorted({*body, *declared, "occurred_at", "note", "unknown"})
        for key in keys:
            for junk in JUNK:
                sent = {**body, key: junk}
                r = _send(w, "/api/v1/events", by, sent)
                _assert_problem(r, (kind, key, junk))
                if key != "kind":
                    r = _send(w, "/api/v1/events/batch", by, {"events": [body, sent]})
                    _assert_problem(r, ("batch", kind, key, junk))
        if kind == "correction":
            incident = next(e for e in w.entries() if e["kind"] == "report_incident") if any(
                e["kind"] == "report_incident" for e in w.entries()) else None
            targets = [(body, "manufacturer")] + ([({**body, "corrects": incident["event_id"]}, "investigator")] if incident else [])
            for target, org in targets:
                for field in ("produced_on", "batch", "address", "state", "casualties", "scene_identifiers", "region", "x" * 600):
                    for junk in JUNK:
                        r = _send(w, "/api/v1/events", org, {**target, "fields": {field: junk}})
                        _assert_problem(r, ("correction fields", org, field, junk))
                        if 200 <= r.status_code < 300 and field not in ("casualties", "scene_identifiers"):
                            assert isinstance(junk, str), ("accepted junk", field, junk)
    for key in ("vehicle", "battery", "charger", "buyer_org", "buyer", "kind", "occurred_at"):
        for junk in JUNK:
            r = _send(w, "/api/v1/checks/sale", "dealer", {**bodies["sell"], key: junk})
            _assert_problem(r, ("check", key, junk))


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/batch", "/api/v1/checks/sale"])
@pytest.mark.parametrize("raw", [
    b"", b"null", b"[]", b"[[]]", b'"sell"', b"42", b"1e999", b"-" + b"9" * 5000, b"{", b'{"kind": "sell"', b"\xff\xfe",
    b'{"kind": "\\ud800"}', b'{"events": null}', b'{"events": {}}', b'{"events": [null]}', b'{"events": ["sell"]}',
    b'{"events": [' + b'{"kind": "ship"},' * 1000 + b'{"kind": "ship"}]}',
    b'{"kind": {"kind": "sell"}}', b'{"kind": ["sell"]}', b'{"kind": "sell", "kind": 5}', b"[" * 10000 + b"]" * 10000,
])
def test_unreadable_or_wrongly_shaped_bodies_are_4xx_problems(client, make_org, raw, path):
    for kind in ("dealer", "registration_point"):
        _, token = make_org(kind)
        for ctype in ("application/json", "text/plain"):
            r = client.post(path, data=raw, content_type=ctype, headers=auth(token))
            assert 400 <= r.status_code < 500, (raw[:80], path, ctype, r.status_code, r.get_data(as_text=True)[:300])
            assert r.mimetype == "application/problem+json"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = sorted({name for schema in SCHEMAS.values() for name in schema().fields} | {"fields", "buyer", "owner", "new_owner"})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(SCHEMAS)) | JSON,
    extra=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=6),
    role=st.sampled_from(["dealer", "registration_point", "repair_shop", "regulator", "recycler"]),
    whole=st.booleans(),
)
def test_random_json_to_events_is_never_a_500(world, kind, extra, role, whole):
    body = {"kind": kind, **extra} if whole else [kind, extra]
    r = world.client.post("/api/v1/events", data=json.dumps(body), content_type="application/json", headers=auth(world.token(role)))
    assert r.status_code < 500, (body, r.status_code, r.get_data(as_text=True)[:500])
    if r.status_code >= 400:
        assert r.mimetype == "application/problem+json"
