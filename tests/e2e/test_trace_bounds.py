"""A trace's work is bounded whatever the log and the fleet (issue 7): the queried item's chain paged newest
first, the items bound to it whole when short, else their window of tenure, and the answer says what it left out.

The bounds are made small here (a fleet of a few vehicles stands for one of thousands)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from registry.services import trace as tracing
from tests.conftest import auth
from tests.trace_city import build_city, post_event, ship_and_receive

pytestmark = pytest.mark.db


@pytest.fixture
def small_bounds(monkeypatch):
    monkeypatch.setattr(tracing, "RELATED_VEHICLES", 2)
    monkeypatch.setattr(tracing, "RELATED_PARTS", 3)
    monkeypatch.setattr(tracing, "WHOLE", 4)
    monkeypatch.setattr(tracing, "RELATED_EVENTS", 8)
    monkeypatch.setattr(tracing, "WINDOW", 3)


def build_fleet(client, make_org, make_catalogue, *, vehicles=4, batteries=5, rounds=3):
    """A swap operator's fleet (车电分离): its batteries go round its vehicles, *rounds* swaps per vehicle."""
    maker = make_catalogue()
    dealer = make_org("dealer")
    operator = make_org("swap_operator")
    investigator = make_org("investigator")
    fleet = []
    for v, c in zip(maker.commission("vehicle", n=vehicles), maker.commission("charger", n=vehicles)):
        post_event(client, maker.token, {"kind": "ship", "vehicle": v["identifier"], "to": dealer[0]["id"]})
        post_event(client, maker.token, {"kind": "ship", "charger": c["identifier"], "to": dealer[0]["id"]})
        post_event(client, dealer[1], {"kind": "receive", "vehicle": v["code"], "charger": c["code"]})
        post_event(client, dealer[1], {"kind": "sell", "vehicle": v["code"], "charger": c["code"], "buyer_org": operator[0]["id"]})
        fleet.append(SimpleNamespace(vehicle=v, charger=c, battery=None))
    pool = maker.commission("battery", n=batteries)
    for b in pool:
        ship_and_receive(client, maker.token, operator, b)
    swaps = []
    ns = SimpleNamespace(maker=maker, dealer=dealer, operator=operator, investigator=investigator, fleet=fleet,
                         batteries=list(pool), swaps=swaps)

    def swap(bike):
        new = pool.pop(0)
        body = {"kind": "swap_battery", "vehicle": bike.vehicle["identifier"], "new_battery": new["identifier"]}
        if bike.battery is not None:
            body["old_battery"] = bike.battery["identifier"]
            pool.append(bike.battery)
        swaps.append((post_event(client, operator[1], body)["index"], body.get("old_battery"), new["identifier"]))
        bike.battery = new

    ns.swap = swap
    for _ in range(rounds):
        for bike in fleet:
            swap(bike)
    return ns


def trace(client, token, q, **params):
    r = client.get("/api/v1/trace", query_string={"q": q, **params}, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def subject(item):
    return f"{item['kind']}:{item['identifier']}"


def test_a_fleet_batterys_trace_holds_its_vehicles_windows_and_says_what_it_left_out(client, make_org, make_catalogue, small_bounds):
    f = build_fleet(client, make_org, make_catalogue)
    battery = f.batteries[0]
    answer = trace(client, f.investigator[1], battery["identifier"])
    b = subject(battery)
    vehicles_it_was_in = {i["vehicle"] for i in answer["subjects"][b]["installations"]}
    assert answer["page"]["subject"] == b and answer["page"]["complete"] is True and answer["page"]["next"] is None
    # every vehicle it went round is named; at most RELATED_VEHICLES are held, the rest are omitted, none silently
    assert len(answer["set"]["vehicles"]) == 2
    assert set(answer["set"]["vehicles"]) | set(answer["omitted"]) >= vehicles_it_was_in
    assert answer["truncated"] is True
    # the vehicle it is in now (if any) is held, and the set centres on it
    now = [x.vehicle for x in f.fleet if x.battery["identifier"] == battery["identifier"]]
    for v in now:
        assert subject(v) in answer["set"]["vehicles"] and answer["vehicle"] == subject(v)
    for v in answer["set"]["vehicles"]:
        chain = answer["subjects"][v]["chain"]
        assert chain["shown"] <= max(tracing.WHOLE, tracing.WINDOW) and chain["total"] >= chain["shown"]
        if not chain["complete"]:
            assert chain["window"] == "tenure" and chain["shown"] <= tracing.WINDOW
    indexes = [e["index"] for e in answer["timeline"]]
    assert len(indexes) == len(set(indexes))
    times = [(e["occurred_at"], e["index"]) for e in answer["timeline"]]
    assert times == sorted(times)
    # its own chain is whole: every swap that moved it is there, each vehicle it was in through them
    moved = [(i, old, new) for i, old, new in f.swaps if battery["identifier"] in (old, new)]
    assert moved and {i for i, _, _ in moved} <= set(indexes)
    assert len(answer["subjects"][b]["installations"]) == sum(1 for _, _, new in moved if new == battery["identifier"])
    # a window is no gap: no chain anomaly where the records are sound
    assert not [x for x in answer["flags"] if x["code"] == "chain_anomaly"], answer["flags"]


def test_the_queried_chain_is_paged_newest_first_and_the_pages_join_up(client, make_org, make_catalogue, small_bounds):
    f = build_fleet(client, make_org, make_catalogue, vehicles=2, batteries=3, rounds=4)
    v = f.fleet[0].vehicle
    whole = trace(client, f.investigator[1], v["identifier"])
    assert whole["page"]["complete"] is True and whole["page"]["next"] is None
    everything = [e["index"] for e in whole["timeline"] if subject(v) in e["subjects"]]
    assert len(everything) == whole["page"]["total"] > 5
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        page = trace(client, f.investigator[1], v["identifier"], **params)
        pages += 1
        # its page: its events from from_index to to_index (older ones may be there too, on the chains of its parts)
        lo, hi = page["page"]["from_index"], page["page"]["to_index"]
        mine = [e["index"] for e in page["timeline"] if subject(v) in e["subjects"] and lo <= e["index"] <= hi]
        assert page["page"]["shown"] == len(mine) <= 3 and {lo, hi} <= set(mine)
        assert not set(mine) & set(seen)
        if seen:
            assert max(mine) < min(seen)  # newest first: each page is older than the one before
        seen += mine
        assert page["truncated"] is (page["page"]["total"] > 3)
        after = page["page"]["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(everything) and pages == -(-len(everything) // 3)


def test_a_bad_cursor_or_limit_is_a_422_not_a_500(client, make_org, make_catalogue):
    f = build_fleet(client, make_org, make_catalogue, vehicles=1, batteries=2, rounds=1)
    q = f.fleet[0].vehicle["identifier"]
    for params in ({"after": "x1"}, {"after": "-1"}, {"after": "9" * 30}, {"limit": 0}, {"limit": 201}, {"limit": "many"}):
        r = client.get("/api/v1/trace", query_string={"q": q, **params}, headers=auth(f.investigator[1]))
        assert r.status_code == 422 and r.mimetype == "application/problem+json", (params, r.status_code)
    # a cursor past the start of the chain is an empty page, not an error
    r = trace(client, f.investigator[1], q, after="0")
    assert r["page"]["shown"] == 0 and r["page"]["next"] is None


def test_a_small_set_is_whole_and_not_truncated(client, make_org, make_catalogue):
    city = build_city(client, make_org, make_catalogue)
    answer = trace(client, city.investigator[1], city.burnt["code"])
    assert answer["truncated"] is False and answer["omitted"] == []
    assert answer["page"]["complete"] is True and answer["page"]["next"] is None
    assert all(s["chain"]["complete"] and s["chain"]["window"] == "whole" for s in answer["subjects"].values())


def test_a_fleet_batterys_trace_costs_the_same_statements_when_the_fleet_has_grown(client, registry, make_org, make_catalogue,
                                                                                  small_bounds):
    from tests.integration.test_trace_queries import traced

    f = build_fleet(client, make_org, make_catalogue, vehicles=4, batteries=5, rounds=3)
    q = f.batteries[0]["identifier"]
    before = traced(client, registry, f.investigator[1], q)
    for _ in range(3):
        for bike in f.fleet:
            f.swap(bike)
    after = traced(client, registry, f.investigator[1], q)

    def shapes(statements):
        """The statements' shapes (IN lists and unions of ranges of any length alike); reads of log entries
        apart (one per step, skipped when none is missing)."""
        entries = [sql for sql, _ in statements if "FROM log_entries" in sql]
        out = []
        for sql, _ in statements:
            if "FROM log_entries" not in sql:
                one = r"(?:\?|%\(\w+\)s)(?:::\w+)?"
                sql = re.sub(rf"\({one}(?:, {one})*\)", "(…)", " ".join(sql.split()))
                out.append(re.sub(r"( UNION ALL SELECT .*? BETWEEN \S+ AND \S+)+$", "", sql))
        return out, len(entries)

    (a, a_entries), (b, b_entries) = shapes(before), shapes(after)
    assert a == b and a_entries <= 5 and b_entries <= 5, (a_entries, b_entries)


def test_the_bundle_of_a_fleet_battery_holds_whole_chains_and_verifies(client, make_org, make_catalogue, small_bounds, tmp_path):
    from tests.e2e.test_bundle import verify

    f = build_fleet(client, make_org, make_catalogue, vehicles=3, batteries=4, rounds=2)
    battery = f.batteries[0]
    post_event(client, f.investigator[1], {
        "kind": "report_incident", "battery": battery["code"], "incident_type": "fire", "occurred_at": "2026-11-20T02:10:00+08:00",
        "region": "330212", "address": "某换电柜旁", "state": "charging", "case_number": "甬消调〔2026〕77号"})
    r = client.get("/api/v1/trace/bundle", query_string={"q": battery["code"], "case_number": "甬消调〔2026〕77号"},
                   headers=auth(f.investigator[1]))
    assert r.status_code == 200, r.get_json()
    path = tmp_path / "fleet.zip"
    path.write_bytes(r.data)
    done = verify(path)
    assert done.returncode == 0, done.stdout + done.stderr
