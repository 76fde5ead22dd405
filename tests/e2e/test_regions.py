"""Two regional registries, each its own log, origin and key: a vehicle moves from one to the other.

``elsewhere`` is a second registry (its own database) whose directory lists this
one, and the other way round (registry.regions). The move is a ``deregister``
naming this log's origin there, and a ``transfer_in`` here naming that entry;
here the entry is read from the other log and proven against its signed
checkpoint before anything is written.
"""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import text

from registry.ledger.hashing import hasher_for
from registry.ledger.tree import verify_inclusion
from tests.conftest import auth
from tests.integration.test_verify_log import drop_triggers
from tests.lifecycle_world import elsewhere, person, world  # noqa: F401

pytestmark = pytest.mark.db


def arriving(there, w, v, b, c, index, **over) -> dict:
    body = {"kind": "transfer_in", "vehicle": v["code"], "battery": b and b["code"], "charger": c and c["code"],
            "from_origin": there.origin(), "from_index": index, "plate": "浙B·T0001", "owner": person(4, "赵六")}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def entry(w, index: int) -> dict:
    return json.loads(base64.b64decode(w.client.get(f"/api/v1/log/entries/{index}").get_json()["body"]))


def test_a_vehicle_that_moved_away_is_registered_here_from_the_other_logs_proven_entry(world, elsewhere):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)

    # there: the vehicle is deregistered, and the entry says where it went and what went with it
    left = entry(there, index)
    assert left["data"]["to_origin"] == w.origin() == "registry.test/log"
    assert {s.split(":")[0] for s in left["prev"]} == {"vehicle", "battery", "charger"}
    assert left["data"]["carries"]["battery"]["identifier"] == b["identifier"]
    assert there.item("vehicle", v["identifier"], by="registration_point")["state"] == "deregistered"

    # here: scanned with the labels it came with, registered to its new owner under a local plate
    recorded = w.ok("registration_point", arriving(there, w, v, b, c, index))
    mine = w.item("vehicle", v["identifier"])
    assert (mine["state"], mine["plate"]) == ("registered", "浙B·T0001")
    assert mine["battery"] == f"battery:{b['identifier']}" and mine["charger"] == f"charger:{c['identifier']}"
    assert w.item("battery", b["identifier"])["state"] == "installed"

    # the entry here holds a pointer anyone can check against the other log's public API
    here = entry(w, recorded["index"])
    pointer = here["data"]["from"]
    assert (pointer["origin"], pointer["index"]) == ("elsewhere.test/log", index)
    served = there.client.get(f"/api/v1/log/entries/{index}").get_json()
    assert served["leaf_hash"] == pointer["leaf_hash"]
    proof = there.client.get(f"/api/v1/log/proofs/inclusion?index={index}&tree_size={pointer['tree_size']}").get_json()
    assert proof["root_hash"] == pointer["root_hash"]
    verify_inclusion(hasher_for("sha256"), index, pointer["tree_size"], bytes.fromhex(pointer["leaf_hash"]),
                     [bytes.fromhex(p) for p in proof["proof"]], bytes.fromhex(pointer["root_hash"]))
    # no personal data crossed: the owner here is this registry's pseudonym, none of the other's
    assert "赵六" not in json.dumps(here, ensure_ascii=False) and here["data"]["owner"].startswith("owner:")

    # it goes on here like any vehicle registered here (its old labels still scan as genuine)
    r = w.client.get(f"/api/v1/codes/{b['code'].rsplit('/', 1)[1]}")
    assert r.status_code == 200, r.get_json()
    w.ok("registration_point", {"kind": "transfer", "vehicle": v["code"], "new_owner": person(5, "钱七")})


def test_a_move_that_cannot_be_proven_or_is_not_to_here_writes_nothing(world, elsewhere):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    sold_here_before = there.registered("浙B·M0002")  # a vehicle that never left
    unmoved = there.ok("registration_point", {"kind": "deregister", "vehicle": sold_here_before[0]["code"], "reason": "moved_away"})

    w.refused("registration_point", arriving(there, w, v, b, c, index, from_origin="nowhere.test/log"), 422)
    w.refused("registration_point", arriving(there, w, v, b, c, index, from_origin=w.origin()), 422)
    w.refused("registration_point", arriving(there, w, v, b, c, index, from_index=True), 422)
    w.refused("registration_point", arriving(there, w, v, b, c, index + 10_000), 409, "transfer_not_proven")
    # an entry of the other log that is not this vehicle leaving for here
    w.refused("registration_point", arriving(there, w, v, b, c, index - 1), 409, "not_transferred_here")
    s = sold_here_before
    w.refused("registration_point", arriving(there, w, s[0], s[1], s[2], unmoved["index"]), 409, "not_transferred_here")
    w.refused("registration_point", arriving(there, w, s[0], s[1], s[2], index), 409, "not_transferred_here")
    # the parts scanned must be the ones that left with it
    w.refused("registration_point", arriving(there, w, v, s[1], c, index), 409, "battery_not_bound")
    w.refused("registration_point", arriving(there, w, v, b, None, index), 409, "charger_not_bound")
    # the owner's document and the plate are checked as at any registration
    answer = w.refused("registration_point", arriving(there, w, v, b, c, index, owner={"name": "x", "id_number": "1"}), 422)
    assert answer["code"] != "transfer_not_proven"

    # without from_index: the vehicle's latest entry in that log, proven like any
    w.refused("registration_point", arriving(there, w, s[0], s[1], s[2], None), 409, "not_transferred_here")
    w.refused("registration_point", arriving(there, w, {"code": "117322699999998"}, None, None, None), 409, "not_transferred_here")
    done = w.ok("registration_point", arriving(there, w, v, b, c, None))
    assert entry(w, done["index"])["data"]["from"]["index"] == index
    w.refused("registration_point", arriving(there, w, v, b, c, index, plate="浙B·T0002"), 409, "already_in_registry")


def test_an_entry_altered_in_the_other_database_is_not_taken_for_proven(world, elsewhere, other_region_app):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    other = other_region_app.extensions["registry"]
    drop_triggers(other)  # the store refuses to rewrite an entry: whoever forges one goes around it
    with other.db.engine.begin() as conn:
        body = bytes(conn.execute(text("SELECT body FROM log_entries WHERE idx = :i"), {"i": index}).scalar())
        forged = body.replace(b'"moved_away"', b'"moved_away" ')
        assert forged != body
        conn.execute(text("UPDATE log_entries SET body = :b WHERE idx = :i"), {"b": forged, "i": index})
    w.refused("registration_point", arriving(there, w, v, b, c, index), 409, "transfer_not_proven")


def test_a_checkpoint_signed_by_a_key_the_directory_does_not_list_proves_nothing(world, elsewhere, other_region_app):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    other = other_region_app.extensions["registry"]
    other.keys.rotate()  # the directory here still lists only the old key
    there.registered("浙B·M0003")  # new checkpoints, signed by the new key
    answer = w.refused("registration_point", arriving(there, w, v, b, c, index), 409, "transfer_not_proven")
    assert "known key" in answer["detail"] or "known key" in json.dumps(answer)


def test_leaving_names_a_known_region_and_a_move_is_not_voided(world, elsewhere):
    w, there = world, elsewhere
    v, _, _ = there.registered("浙B·M0004")
    there.refused("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "moved_away",
                                         "to_origin": "nowhere.test/log"}, 422)
    there.refused("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "other",
                                         "to_origin": w.origin()}, 422)
    there.refused("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "moved_away",
                                         "to_origin": there.origin()}, 422)
    left = there.ok("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "moved_away",
                                           "to_origin": w.origin()})
    answer = there.refused("registration_point", {"kind": "correction", "corrects": left["event_id"], "reason": "did_not_occur"},
                           409, "correction_refused", {"correction_crosses_regions"})
    assert answer["problems"]
    # a plain deregistration may still be voided
    u, _, _ = there.registered("浙B·M0005")
    plain = there.ok("registration_point", {"kind": "deregister", "vehicle": u["code"], "reason": "moved_away"})
    there.ok("registration_point", {"kind": "correction", "corrects": plain["event_id"], "reason": "did_not_occur"})


def test_a_registry_without_a_directory_knows_no_other_region(client, make_org):
    _, token = make_org("registration_point")
    r = client.post("/api/v1/events", json={"kind": "transfer_in", "vehicle": "117322600000001", "from_origin": "elsewhere.test/log",
                                            "from_index": 3, "plate": "浙B·T0003", "owner": person(1)}, headers=auth(token))
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert "from_origin" in json.dumps(r.get_json())


def trace_across(w, q, by="investigator"):
    return w.client.get("/api/v1/trace/regions", query_string={"q": q}, headers=auth(w.token(by)))


def test_a_trace_crosses_from_one_regional_log_to_the_other_with_the_move_proven(world, elsewhere):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    # while in transit the other log says where it went; nothing here yet
    r = trace_across(w, b["identifier"])
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert [x["origin"] for x in answer["regions"]] == ["elsewhere.test/log"]
    (move,) = answer["moves"]
    assert move["to"] == {"origin": "registry.test/log", "index": None} and move["proven"] is False

    arrived = w.ok("registration_point", arriving(there, w, v, b, c, index))
    w.ok("registration_point", {"kind": "report_stolen", "vehicle": v["code"], "case_number": "浙公刑2026-1"})
    for asked, q in ((w, b["code"]), (there, v["identifier"]), (w, "浙B·T0001")):
        r = trace_across(asked, q)
        assert r.status_code == 200, (q, r.get_json())
        answer = r.get_json()
        # oldest first: made, sold and registered there, then here
        assert [x["origin"] for x in answer["regions"]] == ["elsewhere.test/log", "registry.test/log"], q
        (move,) = answer["moves"]
        assert move["proven"] is True and move["from"] == {"origin": "elsewhere.test/log", "index": index}
        assert move["to"] == {"origin": "registry.test/log", "index": arrived["index"]}
        assert move["leaf_hash"] == there.client.get(f"/api/v1/log/entries/{index}").get_json()["leaf_hash"]
        kinds = [[e["kind"] for e in x["trace"]["timeline"]] for x in answer["regions"]]
        assert "commission" in kinds[0] and "sell" in kinds[0] and kinds[0][-1] == "deregister"
        assert kinds[1][0] == "transfer_in" and "report_stolen" in kinds[1]
        # no personal data crosses: every part of the answer is masked
        assert {x["trace"]["personal_data"] for x in answer["regions"]} == {"masked"}


def test_a_trace_across_regions_is_for_oversight_and_says_what_it_cannot_find(world, elsewhere, client, make_org):
    w = world
    assert trace_across(w, "117322699999999").status_code == 404
    r = trace_across(w, "117322699999999", by="dealer")
    assert r.status_code == 403 and r.get_json()["code"] == "role_not_allowed"


def test_a_registry_without_a_directory_has_no_trace_across_regions(client, make_org):
    _, token = make_org("investigator")
    r = client.get("/api/v1/trace/regions", query_string={"q": "117322600000001"}, headers=auth(token))
    assert r.status_code == 422 and r.mimetype == "application/problem+json"


def test_a_vehicle_that_moves_back_to_where_it_came_from_is_the_same_item_there(world, elsewhere):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    w.ok("registration_point", arriving(there, w, v, b, c, index))
    back = w.ok("registration_point", {"kind": "deregister", "vehicle": v["code"], "reason": "moved_away",
                                       "to_origin": there.origin()})
    first = there.item("vehicle", v["identifier"], by="registration_point")
    returned = there.ok("registration_point", {"kind": "transfer_in", "vehicle": v["identifier"], "battery": b["identifier"],
                                               "charger": c["identifier"], "from_origin": w.origin(),
                                               "from_index": back["index"], "plate": "浙B·R0002", "owner": person(6)})
    again = there.item("vehicle", v["identifier"], by="registration_point")
    assert (again["state"], again["plate"]) == ("registered", "浙B·R0002")
    assert again["commissioned_index"] == first["commissioned_index"]  # the same item, coded once there
    # an item that never left is not taken for one coming back
    u, ub, uc = there.registered("浙B·R0003")
    there.refused("registration_point", {"kind": "transfer_in", "vehicle": u["identifier"], "battery": ub["identifier"],
                                         "charger": uc["identifier"], "from_origin": w.origin(), "from_index": back["index"],
                                         "plate": "浙B·R0004", "owner": person(7)}, 409, "not_transferred_here")
    # the trace across regions shows both moves, each proven, starting where it was made
    r = trace_across(there, v["identifier"])
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert {x["origin"] for x in answer["regions"]} == {"elsewhere.test/log", "registry.test/log"}
    assert len(answer["moves"]) == 2 and all(m["proven"] for m in answer["moves"])
    assert returned["index"] in {m["to"]["index"] for m in answer["moves"]}


def test_the_registration_desk_sends_a_vehicle_away_and_registers_one_arriving(world, elsewhere, app, other_region_app):
    from tests.web_helpers import csrf_of, login

    w, there = world, elsewhere
    v, b, c = there.registered("浙B·W0001")
    # there: the deregistration form offers this region as a destination
    there_desk = other_region_app.test_client()
    login(there_desk, js_user(other_region_app, there.org_id("registration_point")))
    page = there_desk.get("/registration/deregister").get_data(as_text=True)
    assert 'value="registry.test/log"' in page and "转出至其他地区" in page
    r = there_desk.post("/registration/deregister", data={"vehicle": v["code"], "reason": "moved_away", "to_origin": "registry.test/log",
                                                          "csrf_token": csrf_of(page)}, follow_redirects=True)
    assert "转出至 registry.test/log" in r.get_data(as_text=True)

    # here: the arrival form, without the entry's number (its latest entry there is found and proven)
    desk = app.test_client()
    login(desk, js_user(app, w.org_id("registration_point")))
    page = desk.get("/registration/transfer-in").get_data(as_text=True)
    assert "转入登记" in page and 'value="elsewhere.test/log"' in page
    form = {"from_origin": "elsewhere.test/log", "vehicle": v["code"], "battery": b["code"], "charger": c["code"],
            "plate": "浙B·W0002", "owner_name": "孙八", "owner_id_type": "resident_id", "owner_id_number": person(8)["id_number"],
            "csrf_token": csrf_of(page)}
    before = w.size()
    r = desk.post("/registration/transfer-in", data={**form, "battery": c["code"]}, follow_redirects=True)
    assert w.size() == before and "的二维码" in r.get_data(as_text=True)  # refused, said on the form, nothing written
    r = desk.post("/registration/transfer-in", data=form, follow_redirects=True)
    assert "已转入登记" in r.get_data(as_text=True), r.get_data(as_text=True)[:2000]
    assert w.item("vehicle", v["identifier"])["plate"] == "浙B·W0002"


def js_user(app, org_id: str) -> str:
    from registry.services import orgs
    from tests.conftest import PASSWORD

    with app.extensions["registry"].writing() as uow:
        user = orgs.add_user(uow, None, org_id, f"desk-{org_id[:6]}-{len(org_id)}", PASSWORD)
    return user.username


def test_when_the_other_regions_log_cannot_be_read_the_move_waits_and_the_trace_says_so(world, elsewhere, other_region_app, tmp_path):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    body = arriving(there, w, v, b, c, index)
    other = other_region_app.extensions["registry"]
    url = other.db.url
    other.db.dispose()
    other.db.configure(f"sqlite:///{tmp_path}/no/such/folder/registry.db")  # its server is down
    answer = w.refused("registration_point", body, 503, "region_unavailable")
    assert "稍后重试" in answer["detail"] and answer["title"] != "与当前状态冲突"
    r = trace_across(w, v["identifier"])
    assert r.status_code == 404  # here it is unknown, and the region that knows it cannot be asked
    other.db.dispose()
    other.db.configure(url)  # back up: the same request now goes through, once
    w.ok("registration_point", body)
    other.db.dispose()
    other.db.configure(f"sqlite:///{tmp_path}/no/such/folder/registry.db")
    r = trace_across(w, v["identifier"])
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert answer["unreachable"] == ["elsewhere.test/log"] and [x["origin"] for x in answer["regions"]] == ["registry.test/log"]
    assert answer["moves"][0]["proven"] is False and "cannot be read" in answer["moves"][0]["why"]
    other.db.dispose()
    other.db.configure(url)


def test_an_investigator_sees_a_moved_vehicle_traced_through_both_regions_on_one_page(world, elsewhere, app):
    from tests.web_helpers import login

    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    w.ok("registration_point", arriving(there, w, v, b, c, index))
    page_client = app.test_client()
    login(page_client, js_user(app, w.org_id("investigator")))
    page = page_client.get("/trace", query_string={"q": v["identifier"]}).get_data(as_text=True)
    assert "曾跨地区迁移" in page and "/trace/regions?q=" in page
    page = page_client.get("/trace/regions", query_string={"q": v["identifier"]}).get_data(as_text=True)
    assert "跨地区追溯" in page and "已证明" in page
    assert page.index("<h2>elsewhere ") < page.index("<h2>here ")  # oldest first: made there, then here
    assert "转入登记" in page and "注销登记" in page and "赋码" in page  # made there, left there, arrived here
    page = page_client.get("/trace/regions", query_string={"q": "117322699999996"}).get_data(as_text=True)
    assert "无法溯源" in page and "未在本系统登记" in page  # said on the page, not a 500


def over_http(app, other_app, down: list | None = None):
    """Make *other_app*'s region reachable from *app* only through its public log API (its test client)."""
    import dataclasses
    from urllib.parse import urlsplit

    from registry.regions import Directory

    peers = app.extensions["registry"].peers
    origin = other_app.extensions["registry"].origin
    peers.directory = Directory([dataclasses.replace(r, database_url="") if r.origin == origin else r
                                 for r in peers.directory.regions], peers.directory.index_url)
    peers._open.pop(origin, None)
    client = other_app.test_client()
    asked = []

    def get(url):
        if down:
            raise ConnectionRefusedError(url)
        part = urlsplit(url)
        asked.append(part.path)
        r = client.get(part.path + (f"?{part.query}" if part.query else ""))
        return r.status_code, r.get_data()

    peers.http_get = get
    return asked


def test_a_region_reached_only_through_its_public_log_api_proves_a_move_the_same_way(world, elsewhere, app, other_region_app):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    down: list = []
    asked = over_http(app, other_region_app, down)
    assert app.extensions["registry"].peers.remote("elsewhere.test/log")
    # its latest entry cannot be asked for over the public API: the entry's index is needed
    answer = w.refused("registration_point", arriving(there, w, v, b, c, None), 422)
    assert "from_index" in json.dumps(answer)
    w.refused("registration_point", arriving(there, w, v, b, c, index + 10_000), 409, "transfer_not_proven")
    w.refused("registration_point", arriving(there, w, v, b, c, index - 1), 409, "not_transferred_here")
    down.append(True)
    w.refused("registration_point", arriving(there, w, v, b, c, index), 503, "region_unavailable")
    down.clear()
    recorded = w.ok("registration_point", arriving(there, w, v, b, c, index))
    assert {"/api/v1/log/checkpoint", f"/api/v1/log/entries/{index}", "/api/v1/log/proofs/inclusion"} <= set(asked)
    pointer = entry(w, recorded["index"])["data"]["from"]
    assert pointer["leaf_hash"] == there.client.get(f"/api/v1/log/entries/{index}").get_json()["leaf_hash"]
    # traced here: this region's part, the move proven over HTTP, the other region named as remote
    r = trace_across(w, v["identifier"])
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert [x["origin"] for x in answer["regions"]] == ["registry.test/log"] and answer["remote"] == ["elsewhere.test/log"]
    assert [m["proven"] for m in answer["moves"]] == [True]


def test_an_entry_altered_behind_a_public_log_api_is_not_taken_for_proven(world, elsewhere, app, other_region_app):
    w, there = world, elsewhere
    v, b, c, index = there.moved_away(w)
    other = other_region_app.extensions["registry"]
    drop_triggers(other)
    with other.db.engine.begin() as conn:
        body = bytes(conn.execute(text("SELECT body FROM log_entries WHERE idx = :i"), {"i": index}).scalar())
        conn.execute(text("UPDATE log_entries SET body = :b WHERE idx = :i"),
                     {"b": body.replace(b'"moved_away"', b'"moved_away" '), "i": index})
    over_http(app, other_region_app)
    w.refused("registration_point", arriving(there, w, v, b, c, index), 409, "transfer_not_proven")
