#!/usr/bin/env python3
"""Several regional logs in one database behind the same API, and traces that cross them (docs/SCALE.md).

    .venv/bin/python scripts/simulate_regions.py [--regions zj,js,ah] [--events 20000] [--moves 200]
                                                 [--database-url postgresql://…] [--folder DIR] [--traces 300]

1. Each region is a whole registry with its own origin, tree and Ed25519 key
   (``registry.regions.init_regions``): on PostgreSQL one database with one schema per
   region (``region_<name>``, every connection's search_path), on SQLite one file each.
   A directory (``regions.json``) lists every region's origin and public keys.
2. Each region grows its own city through the services (``scripts/make_city.py``: makers,
   dealers, sales, registrations, fleets, swaps, recalls, fires, retirements), with its
   own plates and identifiers that no other region uses.
3. Then ``--moves`` registered bikes move house to another region: a ``deregister`` naming
   the other log's origin there, a ``transfer_in`` here that reads that entry from the
   other log and proves it against the other log's signed checkpoint before writing. The
   cities then grow on (the moved bikes live on in their new region: swaps, transfers…).
4. Measured, each beside its baseline in the same run:
   - ``transfer_in`` (a proof from another log inside the write) vs ``transfer`` (a change
     of owner, an ordinary registration-point write), single events, p50;
   - the trace across regions of a moved bike (every log it passed through, each move
     proven again) vs the ordinary trace of the same bike in its present region, p50/p99;
   - the same trace over HTTP, through the one WSGI app that serves every region under
     ``/<name>/api/v1`` (``registry.regions.create_regions_app``), vs an in-process one;
   - the national index brought up to every log (``registry.national``), rows/s;
   - every region's log verified (``verify_log``), and every move proven.

stdout: one JSON object ``{"figures": [...], "regions": {...}}``; stderr: progress.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_city import PASSWORD, Bike, Builder, person, plate  # noqa: E402

from registry.domain.roles import Actor  # noqa: E402
from registry.regions import attach_each_other, init_regions  # noqa: E402
from registry.runtime import Registry  # noqa: E402
from registry.services import across, trace  # noqa: E402
from registry.services.lifecycle import record_event  # noqa: E402
from registry.store.verify import verify_log  # noqa: E402

PREFIXES = {"zj": "浙B", "js": "苏A", "ah": "皖A", "sh": "沪C", "fj": "闽D", "jx": "赣A"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(seconds: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(seconds) * 1000, 3), "p99_ms": round(pct(seconds, 99) * 1000, 3),
            "n": len(seconds)}


def fresh(names: list[str], database_url: str, folder: Path) -> None:
    """Start from nothing: the regions' schemas dropped (PostgreSQL) or their folders removed."""
    if database_url and not database_url.startswith("sqlite"):
        from sqlalchemy import create_engine, text

        from registry.config import normalise_database_url

        engine = create_engine(normalise_database_url(database_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "region_{name}" CASCADE'))
        engine.dispose()
    for name in names:
        shutil.rmtree(folder / name, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--regions", default="zj,js,ah", help="region names (each its own log)")
    ap.add_argument("--events", type=int, default=20000, help="events each region's city grows to, before and after the moves")
    ap.add_argument("--moves", type=int, default=200, help="bikes that move to another region")
    ap.add_argument("--traces", type=int, default=300, help="traces of moved bikes measured")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--database-url", default=os.environ.get("REGIONS_DATABASE_URL", ""),
                    help="PostgreSQL: one database, a schema per region (default: SQLite files)")
    ap.add_argument("--folder", default="", help="instance folders and regions.json (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.regions.split(",") if n.strip()]
    if len(names) < 2:
        raise SystemExit("simulate_regions: give at least two regions")
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="yima-regions-"))
    rng = random.Random(args.seed)

    fresh(names, args.database_url, folder)
    t0 = time.perf_counter()
    directory = init_regions(names, database_url=args.database_url, public_url="http://regions.test", folder=folder)
    registries = {r.name: Registry({**r.config(), "REGIONS": str(folder / "regions.json")}) for r in directory.regions}
    attach_each_other(registries.values())
    log(f"simulate_regions: {len(names)} regions in {'PostgreSQL schemas' if args.database_url else 'SQLite files'} "
        f"under {folder} ({time.perf_counter() - t0:.1f} s)")

    # 1. a city in each region
    builders = {}
    half = args.events // 2
    for i, name in enumerate(names):
        b = Builder(registries[name], args.batch, seed=args.seed + i, progress=not args.quiet, region=i + 1,
                    plate_prefix=PREFIXES.get(name, "浙B"))
        b.grow_to(half)
        builders[name] = b
        log(f"simulate_regions: {name}: {b.size:,} events")

    # 2. bikes move house
    moved: list[tuple[str, str, Bike]] = []  # (from, to, bike)
    transfer_in_s, transfer_s = [], []
    for _ in range(args.moves):
        src = rng.choice(names)
        dst = rng.choice([n for n in names if n != src])
        a, b = builders[src].city, builders[dst].city
        on_road = [i for i, bike in enumerate(a.private) if not bike.stolen]
        if not on_road:
            continue
        bike = a.private.pop(rng.choice(on_road))
        with registries[src].writing() as uow:
            left = record_event(uow, a.pick("registration_point"), "deregister",
                                {"vehicle": bike.vehicle, "reason": "moved_away", "to_origin": registries[dst].origin})
        b.residents += 1
        b.plates += 1
        body = {"vehicle": bike.vehicle, "charger": bike.charger, "from_origin": registries[src].origin,
                "from_index": left.index, "plate": plate(b.plates, b.plate_prefix), "owner": person(b.residents)}
        if bike.battery:
            body["battery"] = bike.battery
        t = time.perf_counter()
        with registries[dst].writing() as uow:
            record_event(uow, b.pick("registration_point"), "transfer_in", body)
        transfer_in_s.append(time.perf_counter() - t)
        b.counts["transfer_in"] = b.counts.get("transfer_in", 0) + 1
        moved.append((src, dst, Bike(bike.vehicle, bike.battery, bike.charger, owner=b.residents)))
        # the baseline: an ordinary write of a registration point, a change of owner, in the same region
        other = b.private[rng.randrange(len(b.private))] if b.private else None
        if other is not None and not other.stolen:
            b.residents += 1
            t = time.perf_counter()
            with registries[dst].writing() as uow:
                record_event(uow, b.pick("registration_point"), "transfer", {"vehicle": other.vehicle, "new_owner": person(b.residents)})
            transfer_s.append(time.perf_counter() - t)
            other.owner = b.residents
        b.private.append(moved[-1][2])
    log(f"simulate_regions: {len(moved)} bikes moved")

    # 3. the cities grow on; the moved bikes live on in their new regions
    for name in names:
        builders[name].grow_to(args.events)
        log(f"simulate_regions: {name}: {builders[name].size:,} events")

    # the national index: every item entered in every log, read from where it last stopped
    from registry.regions import sync_index

    t = time.perf_counter()
    indexed = sync_index(directory, {reg.origin: reg for reg in registries.values()})
    index_s = time.perf_counter() - t
    log(f"simulate_regions: national index: {sum(indexed.values()):,} rows in {index_s:.1f} s")

    # 4. traces: across the regions vs the same bike in its present region
    sample = [rng.choice(moved) for _ in range(args.traces)] if moved else []
    investigator = {}
    for name in names:
        with registries[name].writing() as uow:
            from registry.services import orgs

            org, _ = orgs.register_organisation(uow, None, orgs.RegisterOrganisation(f"{name} 公安", "investigator", f"IV-{name}", "330206"))
            user = orgs.add_user(uow, None, org.id, f"regions-investigator-{name}", PASSWORD)
        investigator[name] = Actor(org.id, "investigator", user.id)
    local_s, across_s, proven, regions_seen = [], [], 0, []
    for src, dst, bike in sample:
        home = registries[dst]
        t = time.perf_counter()
        with home.reading() as uow:
            trace.trace(uow, investigator[dst], f"vehicle:{bike.vehicle}")
        local_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        answer = across.trace_across(home, investigator[dst], f"vehicle:{bike.vehicle}")
        across_s.append(time.perf_counter() - t)
        proven += all(m["proven"] for m in answer["moves"]) and bool(answer["moves"])
        regions_seen.append(len(answer["regions"]))

    # the same over HTTP: one WSGI app, every region under /<name>/api/v1
    http_s = []
    if sample:
        from werkzeug.test import Client

        from registry.regions import create_regions_app

        wsgi = create_regions_app(str(folder / "regions.json"))
        client = Client(wsgi)
        listing = client.get("/").json
        tokens = {}
        for name in names:
            r = client.post(f"/{name}/api/v1/tokens", json={"username": f"regions-investigator-{name}", "password": PASSWORD})
            tokens[name] = r.json["token"]
        for src, dst, bike in sample[: min(len(sample), 100)]:
            t = time.perf_counter()
            r = client.get(f"/{dst}/api/v1/trace/regions", query_string={"q": f"vehicle:{bike.vehicle}"},
                           headers={"Authorization": f"Bearer {tokens[dst]}"})
            http_s.append(time.perf_counter() - t)
            if r.status_code != 200 or len(r.json["regions"]) < 2:
                raise SystemExit(f"simulate_regions: HTTP trace of {bike.vehicle} answered {r.status_code} {r.get_data(as_text=True)[:300]}")
        assert [x["name"] for x in listing["regions"]] == names
        for app in wsgi.mounts.values():
            app.extensions["registry"].peers.dispose()
            app.extensions["registry"].db.dispose()

    # 5. every region's log verified
    verified = {}
    for name, reg in registries.items():
        t = time.perf_counter()
        report = _verify(reg)
        verified[name] = {"ok": report["ok"], "entries": report["entries"], "seconds": round(time.perf_counter() - t, 2)}

    figures = []
    if transfer_in_s and transfer_s:
        a, b = statistics.median(transfer_in_s), statistics.median(transfer_s)
        figures.append({"name": "transfer_in_p50", "value": round(a * 1000, 3), "unit": "ms",
                        "baseline": round(b * 1000, 3), "ratio": round(a / b, 2), "goal": None, "met": None})
    if across_s:
        a, b = statistics.median(across_s), statistics.median(local_s)
        figures.append({"name": "trace_across_regions_p50", "value": round(a * 1000, 3), "unit": "ms",
                        "baseline": round(b * 1000, 3), "ratio": round(a / b, 2), "goal": None, "met": None})
        figures.append({"name": "trace_across_regions_p99", "value": round(pct(across_s, 99) * 1000, 3), "unit": "ms",
                        "baseline": round(pct(local_s, 99) * 1000, 3),
                        "ratio": round(pct(across_s, 99) / pct(local_s, 99), 2), "goal": None, "met": None})
    if http_s:
        a, b = statistics.median(http_s), statistics.median(across_s[: len(http_s)])
        figures.append({"name": "trace_across_regions_http_p50", "value": round(a * 1000, 3), "unit": "ms",
                        "baseline": round(b * 1000, 3), "ratio": round(a / b, 2), "goal": None, "met": None})
    out = {
        "figures": figures,
        "engine": "postgresql (one database, a schema per region)" if args.database_url else "sqlite (a file per region)",
        "regions": {name: {"origin": registries[name].origin, "events": builders[name].size,
                           "transfer_in": builders[name].city.counts.get("transfer_in", 0), "verified": verified[name]}
                    for name in names},
        "national_index": {"rows": indexed, "seconds": round(index_s, 2),
                           "rows_per_s": round(sum(indexed.values()) / index_s) if index_s else None},
        "moves": len(moved), "traces": len(sample), "moves_proven_in_traces": proven,
        "regions_per_trace": dict(sorted({n: regions_seen.count(n) for n in set(regions_seen)}.items())),
        "transfer_in": ms(transfer_in_s) if transfer_in_s else None, "transfer": ms(transfer_s) if transfer_s else None,
        "trace_local": ms(local_s) if local_s else None, "trace_across": ms(across_s) if across_s else None,
        "trace_across_http": ms(http_s) if http_s else None,
        "folder": str(folder),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))
    bad = [n for n, v in verified.items() if not v["ok"]] or (sample and proven != len(sample))
    for reg in registries.values():
        reg.peers.dispose()
        reg.db.dispose()
    return 1 if bad else 0


def _verify(reg: Registry) -> dict:
    """verify-log of one region (the same check as ``flask verify-log``), one process per core."""
    with reg.reading() as uow:
        report = verify_log(uow.session, reg.hasher, reg.origin, reg.keys.by_id(), workers=os.cpu_count() or 1)
    return {"ok": report.ok, "entries": report.entries}


if __name__ == "__main__":
    raise SystemExit(main())
