"""Several regional logs in one database behind one server (registry.regions).

On PostgreSQL the regions are schemas of the lane's test database (every connection's
search_path is its region's schema); on SQLite, one file each. One WSGI app serves
them all, each under ``/<name>/api/v1``, and a trace crosses them over HTTP.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from werkzeug.test import Client

from registry.config import normalise_database_url
from registry.regions import Directory, create_regions_app, init_regions, schema_url
from tests.conftest import PG_URL, catalogue_maker, first_admin_token, org_maker
from tests.lifecycle_world import World, person

pytestmark = pytest.mark.db


@pytest.fixture
def regions(db_url, tmp_path):
    directory = init_regions(["zj", "js", "ah"], database_url=db_url if PG_URL else "", public_url="http://regions.test",
                             folder=tmp_path / "regions")
    wsgi = create_regions_app(str(tmp_path / "regions" / "regions.json"))
    yield directory, wsgi
    for app in wsgi.mounts.values():
        app.extensions["registry"].peers.dispose()
        app.extensions["registry"].db.dispose()


def world_of(app) -> World:
    client = app.test_client()
    token = first_admin_token(client, app.extensions["registry"])
    make_org = org_maker(client, token)
    return World(client, make_org, catalogue_maker(client, make_org), token,
                 kinds=("manufacturer", "dealer", "registration_point", "investigator", "admin"))


def test_each_region_is_its_own_log_with_its_own_origin_and_key_in_one_database(regions, db_url):
    directory, wsgi = regions
    assert [r.origin for r in directory.regions] == ["regions.test/zj/log", "regions.test/js/log", "regions.test/ah/log"]
    assert directory.regions[0].public_keys != directory.regions[1].public_keys
    listing = json.loads(Client(wsgi).get("/").get_data())
    assert [r["name"] for r in listing["regions"]] == ["zj", "js", "ah"]
    for region in directory.regions:
        r = Client(wsgi).get(f"/{region.name}/api/v1/log/checkpoint")
        assert r.status_code == 200 and r.get_data(as_text=True).split("\n")[0] == region.origin
    if PG_URL:
        # one database: the lane's test database, a schema per region, each with its own tables and migration
        assert all(r.database_url.split("?")[0] == normalise_database_url(db_url).split("?")[0] for r in directory.regions)
        engine = create_engine(normalise_database_url(db_url))
        with engine.connect() as conn:
            schemas = set(conn.execute(text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'log_entries'")).scalars())
            assert {"region_zj", "region_js", "region_ah"} <= schemas
        engine.dispose()
    # the directory file says all a peer needs: origins, databases and keys
    again = Directory.load(directory_path(wsgi))
    assert [r.origin for r in again.regions] == [r.origin for r in directory.regions]


def directory_path(wsgi) -> str:
    return next(iter(wsgi.mounts.values())).config["REGIONS"]


def test_a_vehicle_moves_between_regions_served_by_one_app_and_is_traced_across_them_over_http(regions):
    directory, wsgi = regions
    zj, js = (world_of(wsgi.mounts[f"/{name}"]) for name in ("zj", "js"))
    v, b, c, index = zj.moved_away(js)
    assert v["code"].startswith("http://regions.test/zj/c/")
    js.ok("registration_point", {"kind": "transfer_in", "vehicle": v["code"], "battery": b["code"], "charger": c["code"],
                                 "from_origin": "regions.test/zj/log", "from_index": index, "plate": "苏A·T0001",
                                 "owner": person(3)})
    # the zj region's log is untouched by js's write; js's entry points into zj's log
    assert zj.size() == index + 1
    client = Client(wsgi)
    token = client.post("/js/api/v1/tokens", json={"username": js_investigator(js), "password": "correct-horse-battery"})
    assert token.status_code == 201, token.get_data(as_text=True)
    r = client.get("/js/api/v1/trace/regions", query_string={"q": b["identifier"]},
                   headers={"Authorization": f"Bearer {token.json['token']}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    answer = r.json
    assert [x["origin"] for x in answer["regions"]] == ["regions.test/zj/log", "regions.test/js/log"]
    assert [m["proven"] for m in answer["moves"]] == [True]


def js_investigator(w: World) -> str:
    """A username of the investigator organisation's user (the World keeps only its token)."""
    from registry.services import orgs

    registry = w.client.application.extensions["registry"]
    with registry.writing() as uow:
        user = orgs.add_user(uow, None, w.org_id("investigator"), "js-investigator", "correct-horse-battery")
    return user.username


def test_a_schema_url_sets_the_search_path_and_refuses_what_is_no_schema_name():
    url = schema_url("postgresql://u:p@h:5432/db", "region_zj")
    assert url.startswith("postgresql+psycopg://u:p@h:5432/db?") and "search_path" in url and "region_zj" in url
    with pytest.raises(ValueError):
        schema_url("postgresql://u:p@h/db", 'x"; DROP SCHEMA public; --')


def test_the_national_index_names_the_regions_an_item_entered_and_a_trace_elsewhere_starts_there(regions):
    from registry.regions import sync_index
    from registry.services import across

    directory, wsgi = regions
    apps = {name: wsgi.mounts[f"/{name}"] for name in ("zj", "js", "ah")}
    registries = {app.extensions["registry"].origin: app.extensions["registry"] for app in apps.values()}
    zj, js = world_of(apps["zj"]), world_of(apps["js"])
    v, b, c, index = zj.moved_away(js)
    js.ok("registration_point", {"kind": "transfer_in", "vehicle": v["code"], "battery": b["code"], "charger": c["code"],
                                 "from_origin": "regions.test/zj/log", "plate": "苏A·T0002", "owner": person(5)})
    stay, _, _ = zj.registered("浙B·N0001")

    first = sync_index(directory, registries)
    assert first["zj"] > 0 and first["js"] == 3 and first["ah"] == 0
    assert sync_index(directory, registries) == {"zj": 0, "js": 0, "ah": 0}  # from where it stopped: nothing twice
    ah = apps["ah"].extensions["registry"]
    found = ah.peers.index.lookup([f"vehicle:{v['identifier']}", f"battery:{b['identifier']}", f"vehicle:{stay['identifier']}"])
    assert {o for o, _ in found[f"vehicle:{v['identifier']}"]} == {"regions.test/zj/log", "regions.test/js/log"}
    assert {o for o, _ in found[f"battery:{b['identifier']}"]} == {"regions.test/zj/log", "regions.test/js/log"}
    assert [o for o, _ in found[f"vehicle:{stay['identifier']}"]] == ["regions.test/zj/log"]
    # a region that never held it is told where to look, by identifier, subject or scanned code
    for q in (v["identifier"], f"vehicle:{v['identifier']}", v["code"], b["identifier"]):
        assert set(across._indexed(ah, q)) == {"regions.test/zj/log", "regions.test/js/log"}, q
    assert across._indexed(ah, "117322699999997") == []
    answer = across.trace_across(ah, investigator_of(apps["ah"]), v["identifier"])
    assert [x["origin"] for x in answer["regions"]] == ["regions.test/zj/log", "regions.test/js/log"]
    assert [m["proven"] for m in answer["moves"]] == [True]


def investigator_of(app):
    from registry.domain.roles import Actor
    from registry.services import orgs

    with app.extensions["registry"].writing() as uow:
        org, _ = orgs.register_organisation(uow, None, orgs.RegisterOrganisation("公安", "investigator", "IV-1", "330206"))
        user = orgs.add_user(uow, None, org.id, "iv-ah", "correct-horse-battery")
    return Actor(org.id, "investigator", user.id)
