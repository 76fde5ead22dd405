#!/usr/bin/env python3
"""Every performance figure of the registry, each beside its baseline measured in the same run.

    .venv/bin/python scripts/bench.py [--quick] [--only commission,append,trace,proof,verify,label,memory]

stdout: ``{"figures": [{"name", "value", "unit", "baseline", "ratio", "goal", "met", ...}], "machine": …}``
(``ratio`` = value / baseline where there is a baseline; ``met`` is judged against the goal and is
null when a figure has no goal); stderr: progress and a table.

Stages (sizes: --quick / full):

* **memory, commission** — a child process imports N items (20,000 / 1,000,000) from CSV through
  ``registry.services.importing`` (codes signed by a pool of 2 processes, one commit per 5,000):
  its peak RSS (its own and its signing workers') beside its RSS before the import, and its
  items/s beside plain ``sqlite3.executemany`` of the same ``items`` and ``log_entries`` rows
  into a fresh file with the same schema, pragmas and commits.
* **append (batched), proof, verify** — ``bulk_append`` grows a fresh SQLite log to M entries
  (100,000 / 1,000,000) in batches of 5,000 (one lock, one checkpoint each), beside plain
  ``executemany`` of the same entries, nodes and chain links; inclusion and consistency proofs at
  M beside recomputing them from the leaf hashes (scripts/bench_proofs.py); ``verify_log`` beside
  a bare chained SHA-256 loop over the same bodies.
* **label** — ``render_many_png`` beside the zxing-cpp QR writer + PNG (scripts/bench_labels.py).
* **trace** — a city written through the services (scripts/make_city.py) to two sizes
  (4,000 and 12,000 / 100,000 and 1,000,000 events; --trace-sizes), on SQLite and on a throwaway
  PostgreSQL (``trace_pg_…``; --trace-engines); the same fixed sample of queries (200 / 10,000) through
  ``registry.services.trace.trace`` at each size, and a sample drawn afresh, beside the storage
  floor: the item row, its whole chain and its bodies read with the bare driver. The city's
  batched rate through the services is a figure too. ``--trace-city DIR`` traces instead a city
  that ``make_city.py --snapshots`` built beforehand (SQLite): its ``registry-<N>.db`` copies in
  ascending order, then its ``registry.db``; with ``pg`` among --trace-engines, each snapshot is
  also copied into a database of the throwaway PostgreSQL (rows in the order they were written,
  then ``VACUUM ANALYZE``) and traced there: the same city and the same sample on both engines.
* **append (HTTP)** — a throwaway PostgreSQL (fsync and synchronous_commit on), a small city,
  ``scripts/serve`` (gunicorn, one gthread worker per core × 16 threads: group commit), then a loopback load generator: POST
  /api/v1/events (repairs of registered vehicles) beside GET /api/v1/ping on the same server
  with the same concurrency; inclusion proofs over HTTP beside sequential pings. Skipped with a
  reason when there are no PostgreSQL binaries.

The machine is shared (2 cores): absolute numbers move ±20 % between runs; ratios measured in
the same run move much less.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bench_proofs  # noqa: E402
import make_city  # noqa: E402
from registry.cli import upgrade  # noqa: E402
from registry.config import from_environment  # noqa: E402
from registry.runtime import Registry  # noqa: E402

FIGURES: list[dict] = []
STAGES = ("memory", "commission", "append", "proof", "verify", "label", "trace", "http")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tag(n: int) -> str:
    return bench_proofs.tag(n)


def percentile(values: Sequence[float], p: float) -> float:
    return bench_proofs.percentile(sorted(values), p)


def figure(name: str, value: float | None, unit: str, baseline: float | None = None, *, goal: str | None = None,
           met: bool | None = None, **extra) -> dict:
    """Record one figure; ratio = value / baseline."""
    f = {
        "name": name,
        "value": None if value is None else round(value, 4),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 4),
        "ratio": round(value / baseline, 4) if value is not None and baseline else None,
        "goal": goal,
        "met": met,
        **extra,
    }
    FIGURES.append(f)
    shown = "-" if value is None else f"{value:,.3f}"
    log(f"  {name}: {shown} {unit}" + (f" (baseline {baseline:,.3f}, ratio {f['ratio']})" if baseline else "")
        + (f" goal {goal}: {'met' if met else 'NOT met' if met is False else '-'}" if goal else ""))
    return f


def skipped(name: str, unit: str, reason: str, goal: str | None = None) -> None:
    figure(name, None, unit, goal=goal, met=None, skipped=reason)


def fresh_registry(folder: Path, url: str | None = None) -> Registry:
    folder.mkdir(parents=True, exist_ok=True)
    url = url or f"sqlite:///{folder / 'registry.db'}"
    upgrade(url)
    return Registry({"INSTANCE_PATH": str(folder), "DATABASE_URL": url, "PUBLIC_URL": "https://yima.example.cn",
                     "HASH": "sha256", "SIGNING_KEY": str(folder / "keys" / "signing.pem"), "LOG_ORIGIN": ""})


def prebuilt_registry(folder: Path, db: Path, url: str | None = None) -> Registry:
    """A registry over one copy of a city that ``make_city.py`` built (its instance folder: keys, vault):
    the SQLite file *db*, or the database *url* it was copied into."""
    config = from_environment()  # as make_city.open_registry
    config.update(DATABASE_URL=url or f"sqlite:///{db}", INSTANCE_PATH=str(folder), SIGNING_KEY=str(folder / "keys" / "signing.pem"))
    return Registry(config)


def copy_city_to_pg(db: Path, server_url: str, name: str) -> str:
    """Copy the city in the SQLite file *db* into a new database *name* of the server at *server_url*
    (libpq form; its user may create databases): migrated as the
    application migrates it, every table's rows in the order they were written (``rowid``; the log's
    tables by index), so the heap is laid out as a server that took the same writes would have it
    -- not sorted by subject, which would flatter the trace -- then ``VACUUM ANALYZE`` (what
    autovacuum does to a live database). Returns the database's URL."""
    import psycopg
    from sqlalchemy import Integer, create_engine, text

    from registry.store.models import Base

    t0 = time.perf_counter()
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    source = create_engine(f"sqlite:///{db}")
    rows = 0
    with source.connect() as src, psycopg.connect(url) as dst:
        dst.execute("SET TIME ZONE 'UTC'")
        for table in reversed(Base.metadata.sorted_tables):  # rows the migrations seed (the log's head)
            if dst.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name})").fetchone()[0]:
                dst.execute(f"DELETE FROM {table.name}")
        for table in Base.metadata.sorted_tables:
            cols = [c.name for c in table.columns]
            ddl = src.exec_driver_sql(f"SELECT sql FROM sqlite_master WHERE name = '{table.name}'").scalar() or ""
            order = "rowid" if "WITHOUT ROWID" not in ddl.upper() else ", ".join(c.name for c in table.primary_key.columns)
            with dst.cursor().copy(f'COPY {table.name} ({", ".join(cols)}) FROM STDIN') as copy:
                for row in src.execute(table.select().order_by(text(order))).yield_per(20_000):
                    copy.write_row(tuple(row))
                    rows += 1
        for table in Base.metadata.sorted_tables:  # serial ids carry on after the copied ones
            for c in table.primary_key.columns:
                if len(table.primary_key.columns) == 1 and isinstance(c.type, Integer):
                    dst.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{c.name}'), "
                                f"COALESCE((SELECT max({c.name}) FROM {table.name}), 0) + 1, false) "
                                f"WHERE pg_get_serial_sequence('{table.name}', '{c.name}') IS NOT NULL")
        dst.commit()
    source.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"[trace/pg] copied {db.name} into {name}: {rows:,} rows in {time.perf_counter() - t0:,.0f} s")
    return url


# --- plain sqlite3: the baselines ----------------------------------------------------------


def sqlite_like(source: Path, target: Path, tables: Sequence[str]) -> sqlite3.Connection:
    """A fresh SQLite file with *tables* (and their indexes) as in *source*, and the app's pragmas."""
    with sqlite3.connect(source) as src:
        ddl = [sql for (sql,) in src.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN (%s) AND type IN ('table', 'index') AND sql IS NOT NULL "
            "ORDER BY type = 'index'" % ",".join("?" * len(tables)), tables)]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for sql in ddl:
        conn.execute(sql)
    return conn


def rows_of(source: Path, sql: str) -> tuple[list[str], list[tuple]]:
    with sqlite3.connect(source) as src:
        cur = src.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()


def executemany_in_chunks(conn: sqlite3.Connection, tables: list[tuple[str, list[str], list[tuple]]], chunks: int) -> float:
    """Insert every table's rows in *chunks* transactions (each table split alike); return seconds."""
    t0 = time.perf_counter()
    for k in range(chunks):
        conn.execute("BEGIN IMMEDIATE")
        for table, cols, rows in tables:
            part = rows[k * len(rows) // chunks:(k + 1) * len(rows) // chunks]
            if part:
                conn.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", part)
        conn.execute("COMMIT")
    return time.perf_counter() - t0


# --- memory and commissioning: an import in a child process --------------------------------

IMPORT_CHILD = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    from registry.cli import upgrade
    from registry.runtime import Registry
    from registry.services import catalogue, orgs
    from registry.services.importing import import_items
    from registry.domain.roles import Actor
    folder, csv = Path(sys.argv[1]), Path(sys.argv[2])
    url = f"sqlite:///{folder / 'registry.db'}"
    upgrade(url)
    reg = Registry({"INSTANCE_PATH": str(folder), "DATABASE_URL": url, "PUBLIC_URL": "https://yima.example.cn",
                    "HASH": "sha256", "SIGNING_KEY": str(folder / "keys" / "signing.pem"), "LOG_ORIGIN": ""})
    with reg.writing() as uow:
        org, _ = orgs.register_organisation(uow, None, orgs.RegisterOrganisation("浙江星恒电源股份有限公司", "manufacturer", "91330500MA2B7C6D4Y", "330212"))
    with reg.writing() as uow:
        user = orgs.add_user(uow, None, org.id, "maker", "bench-pass-2026")
    actor = Actor(org.id, "manufacturer", user.id)
    with reg.writing() as uow:
        catalogue.record_certificate(uow, actor, catalogue.RecordCertificate("2026010912000031", "battery", "XH-48V20", "2026-01-05", "2036-01-04"))
    with reg.writing() as uow:
        catalogue.record_model(uow, actor, catalogue.RecordModel("battery", "XH-48V20", {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}, "2026010912000031"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = import_items(reg, actor, csv, chunk=5000)
    print(json.dumps({"commissioned": report.commissioned, "bad": report.bad, "seconds": report.seconds,
                      "rss_before_kib": before, "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "rss_children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
''')


def stage_import(work: Path, lines: int) -> None:
    log(f"[memory, commission] importing {lines:,} items in a child process")
    folder = work / "import"
    folder.mkdir()
    csv = work / "items.csv"
    with open(csv, "w") as f:
        f.write("kind,identifier,model,produced_on,batch\n")
        for i in range(lines):
            f.write(f"battery,XHNB48V20{i:09d},XH-48V20,2026-05-{1 + i % 28:02d},XH2605-{i // 5000:03d}\n")
    out = subprocess.run([sys.executable, "-c", IMPORT_CHILD, str(folder), str(csv)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(f"import child failed: {out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["commissioned"] == lines and r["bad"] == 0, r
    peak = max(r["rss_self_kib"], r["rss_children_kib"]) / 1024
    t = tag(lines)
    figure(f"memory_import_peak_rss_{t}", peak, "MiB", r["rss_before_kib"] / 1024, goal="< 300 MiB at 1e6 items",
           met=peak < 300 if lines >= 1_000_000 else None, items=lines,
           note="baseline: the same process's RSS before the import (setup done)")

    db = folder / "registry.db"
    items_cols, items = rows_of(db, "SELECT * FROM items")
    entry_cols, entries = rows_of(db, "SELECT * FROM log_entries WHERE kind = 'commission'")
    assert len(items) == len(entries) == lines
    conn = sqlite_like(db, work / "commission-baseline.db", ["items", "log_entries"])
    took = executemany_in_chunks(conn, [("items", items_cols, items), ("log_entries", entry_cols, entries)],
                                 max(1, -(-lines // 5000)))
    conn.close()
    ours = lines / r["seconds"]
    figure(f"commission_rate_{t}", ours, "items/s", lines / took, goal=">= 0.1x baseline", met=ours / (lines / took) >= 0.1,
           items=lines, signing_processes=2,
           note="codes signed (Ed25519) and every commission event appended; baseline: sqlite3.executemany of the same items and log_entries rows, a commit per 5,000")


# --- batched appends, proofs, verify -----------------------------------------------------------


def stage_log(work: Path, entries: int, samples: int, reuse: Path | None) -> None:
    from registry.store.bulk import bulk_append
    from registry.store.verify import verify_log

    t = tag(entries)
    if reuse is not None and reuse.exists():
        db = reuse
        registry = bench_proofs.open_registry(db)
        built = False
        with registry.reading() as uow:
            have = uow.log.size()
        if have < entries:
            raise RuntimeError(f"{db} holds {have:,} entries < {entries:,}")
        log(f"[append, proof, verify] reusing {db} ({have:,} entries)")
    else:
        db = work / "log" / "registry.db"
        registry = fresh_registry(db.parent)
        built = True
        log(f"[append, proof, verify] bulk_append of {entries:,} events in batches of 5,000")
        t0 = time.perf_counter()
        bulk_append(registry, bench_proofs.bench_events(0, entries), batch=5000)
        took = time.perf_counter() - t0
    n = entries

    if built:
        ours = n / took
        tables = []
        for table, sql in (("log_entries", "SELECT * FROM log_entries"), ("log_nodes", "SELECT * FROM log_nodes"),
                           ("chain_links", "SELECT * FROM chain_links")):
            cols, rows = rows_of(db, sql)
            tables.append((table, cols, rows))
        conn = sqlite_like(db, work / "append-baseline.db", ["log_entries", "log_nodes", "chain_links"])
        base_s = executemany_in_chunks(conn, tables, max(1, -(-n // 5000)))
        conn.close()
        del tables
        figure(f"append_batched_sqlite_{t}", ours, "events/s", n / base_s, goal=">= 5,000 events/s", met=ours >= 5000,
               batch=5000, note="bulk_append: canonical bodies, leaf and node hashes, chains, one lock and one signed checkpoint per batch; "
                                "baseline: sqlite3.executemany of the same entries, nodes and links, a commit per 5,000")
    else:
        skipped(f"append_batched_sqlite_{t}", "events/s", "log reused: nothing appended in this run", goal=">= 5,000 events/s")

    # -- proofs, in-process -----------------------------------------------------------------
    rng = random.Random(1)
    inc_args = [(rng.randrange(n), n) for _ in range(samples)]
    con_args = [(rng.randint(1, n), n) for _ in range(samples)]
    with registry.reading() as uow:
        root = uow.log.root(n)
        for _ in range(20):
            uow.log.inclusion_proof(rng.randrange(n), n)
        inc_ms, inc_res = bench_proofs.timed(uow.log.inclusion_proof, inc_args)
        con_ms, con_res = bench_proofs.timed(uow.log.consistency_proof, con_args)
    for (i, size), (leaf, proof, r) in zip(inc_args, inc_res):
        bench_proofs.verify_inclusion(registry.hasher, i, size, leaf, proof, root)
    for (m, size), (proof, r1, r2) in zip(con_args, con_res):
        bench_proofs.verify_consistency(registry.hasher, m, size, r1, r2, proof)
    with registry.reading() as uow:
        leaves = [bytes(h) for (h,) in uow.session.execute(
            bench_proofs.select(bench_proofs.LogEntry.leaf_hash).where(bench_proofs.LogEntry.idx < n).order_by(bench_proofs.LogEntry.idx))]
    k = 3
    b_inc, b_inc_res = bench_proofs.timed(lambda i, s: bench_proofs.inclusion_from_leaves(leaves, i, s, registry.hasher), inc_args[:k])
    b_con, b_con_res = bench_proofs.timed(lambda m, s: bench_proofs.consistency_from_leaves(leaves, m, s, registry.hasher), con_args[:k])
    assert b_inc_res == inc_res[:k] and b_con_res == con_res[:k], "recomputed proofs differ from the stored ones"
    del leaves
    note = "stored subtree hashes, one read unit of work; baseline: the same proof recomputed from the leaf hashes (already in memory)"
    figure(f"proof_inclusion_p50_{t}", percentile(inc_ms, 50), "ms", percentile(b_inc, 50), goal="< 1 ms", met=percentile(inc_ms, 50) < 1,
           samples=samples, note=note)
    figure(f"proof_inclusion_p99_{t}", percentile(inc_ms, 99), "ms", percentile(b_inc, 50), samples=samples)
    figure(f"proof_consistency_p50_{t}", percentile(con_ms, 50), "ms", percentile(b_con, 50), goal="< 1 ms",
           met=percentile(con_ms, 50) < 1, samples=samples, note=note)
    figure(f"proof_consistency_p99_{t}", percentile(con_ms, 99), "ms", percentile(b_con, 50), samples=samples)

    # -- verify-log --------------------------------------------------------------------------
    # verify_log (its chunks checked by one process per core, then by this process alone) and
    # the bare chained SHA-256 loop over the same bodies, interleaved, 3 times each: the machine
    # is shared, so a transient load would otherwise fall on one side only
    with registry.reading() as uow:
        size = uow.log.size()  # the whole log: verify_log verifies every stored entry
    _, bodies = rows_of(db, f"SELECT body FROM log_entries WHERE idx < {size} ORDER BY idx")
    bodies = [bytes(b) for (b,) in bodies]
    sha256 = hashlib.sha256
    cores = os.cpu_count() or 1
    ours_s, alone_s, chain_s = [], [], []
    for _ in range(3):
        for workers, took in ((cores, ours_s), (1, alone_s)):
            gc.collect()
            t0 = time.perf_counter()
            with registry.reading() as uow:
                report = verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id(), workers=workers)
            took.append(time.perf_counter() - t0)
            assert report.ok and report.entries == size, report.findings[:3]
        gc.collect()
        t0 = time.perf_counter()
        h = b""
        for body in bodies:
            h = sha256(h + body).digest()
        chain_s.append(time.perf_counter() - t0)
    size_mb = sum(map(len, bodies)) / 1e6
    del bodies
    ours, base = size / statistics.median(ours_s), size / statistics.median(chain_s)
    alone = size / statistics.median(alone_s)
    figure(f"verify_log_{tag(size)}", ours, "entries/s", base, goal=">= 0.3x baseline",
           met=ours / base >= 0.3, bodies_mb=round(size_mb, 1), runs=3, workers=cores,
           seconds=[round(x, 3) for x in ours_s], baseline_seconds=[round(x, 4) for x in chain_s],
           one_process_entries_s=round(alone), one_process_ratio=round(alone / base, 3),
           one_process_seconds=[round(x, 3) for x in alone_s],
           note=f"verify_log (flask verify-log --jobs {cores}): every leaf, node, chain link and checkpoint recomputed "
                "from the stored bodies, its chunks checked by one process per core; baseline: h = sha256(h + body) "
                "over the same bodies, already in memory, in one process; medians of 3 interleaved runs")
    registry.db.dispose()


# --- labels -----------------------------------------------------------------------------------


def stage_labels(n: int) -> None:
    import bench_labels
    from registry.labels import make_token, payload_url
    from registry.labels.render import Label, render_many_png
    from registry.ledger import SigningKey

    log(f"[label] {n:,} labels, 2 processes")
    key = SigningKey.generate("bench")
    labels = []
    for i in range(n):
        kind, ident = [("vehicle", f"1173226{i:08d}"), ("battery", f"XHNBF48V2026{i:06d}"), ("charger", f"MA2C1D2E3-26-48-{i:06d}")][i % 3]
        labels.append(Label(kind, ident, payload_url(bench_labels.PUBLIC_URL, make_token(kind, ident, key.key_hash, key.sign)), "LY-TDT2024"))
    procs = min(2, os.cpu_count() or 1)
    t0 = time.perf_counter()
    ours = render_many_png(labels, processes=procs)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with bench_labels._pool(procs) as pool:
        base = list(pool.map(bench_labels._zxing_png, [(label.payload, 6) for label in labels], chunksize=max(1, n // (procs * 4))))
    base_s = time.perf_counter() - t0
    assert len(ours) == len(base) == n
    figure("label_png_rate", n / ours_s, "labels/s", n / base_s, goal=">= 0.25x baseline", met=(n / ours_s) / (n / base_s) >= 0.25,
           labels=n, processes=procs, note="full 668x318 label (QR, kind, identifier, model); baseline: zxing-cpp QR writer + PNG, same pool")


# --- trace ---------------------------------------------------------------------------------------


def stage_trace(work: Path, sizes: Sequence[int], queries: int, engines: Sequence[str] = ("sqlite", "pg"),
                city: Path | None = None) -> None:
    """The trace figures on each engine: SQLite (``trace_…``) and a throwaway PostgreSQL (``trace_pg_…``);
    with *city*, over a city that ``make_city.py --snapshots`` built beforehand (SQLite)."""
    from sqlalchemy import select

    from registry.domain.errors import DomainError
    from registry.domain.roles import Actor
    from registry.services.trace import trace
    from registry.store.models import Item, Organisation, User

    def on(engine: str, folder: Path, url: str | None, prebuilt: list[tuple[int, Path]] | None = None) -> None:
        """Grow a city on *engine* through *sizes*, or (*prebuilt*) open the same city's copies at its sizes."""
        nonlocal registry
        prefix = "trace" if engine == "sqlite" else f"trace_{engine}"
        if prebuilt:
            builder, actor = None, None
        else:
            registry = fresh_registry(folder, url)
            builder = make_city.Builder(registry, batch=5000, progress=False)
            actor = builder.city.actors["investigator"][0]

        def draw(seed: int) -> list[tuple[str, str]]:
            """*queries* items drawn at random (with replacement) from those the city has now."""
            with registry.reading() as uow:
                subjects = sorted(uow.session.scalars(select(Item.subject)))
            rng = random.Random(seed)
            return [tuple(s.split(":", 1)) for s in (rng.choice(subjects) for _ in range(queries))]

        def floor_reads(sample: list[tuple[str, str]]) -> list[float]:
            """The storage floor: the item's row, its own chain and bodies read with the bare driver (no SQLAlchemy)."""
            out = []
            if engine == "sqlite":
                conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
                q, many = "?", lambda idx: f"SELECT body FROM log_entries WHERE idx IN ({','.join(map(str, idx))})"
            else:
                import psycopg

                conn = psycopg.connect(url, autocommit=True)
                q, many = "%s", lambda idx: f"SELECT body FROM log_entries WHERE idx IN ({','.join(map(str, idx))})"
            for kind, ident in sample:
                t0 = time.perf_counter_ns()
                conn.execute(f"SELECT * FROM items WHERE subject = {q}", (f"{kind}:{ident}",)).fetchone()
                idx = [i for (i,) in conn.execute(f"SELECT idx FROM chain_links WHERE subject = {q} ORDER BY seq",
                                                  (f"{kind}:{ident}",)).fetchall()]
                if idx:
                    conn.execute(many(idx)).fetchall()
                out.append((time.perf_counter_ns() - t0) / 1e6)
            conn.close()
            return out

        def run(sample: list[tuple[str, str]], name: str, note: str) -> float:
            times, errors, events_seen, by_kind, truncated = [], 0, [], {}, 0
            gc.collect()
            with registry.reading() as uow:
                for kind, ident in sample[:20]:  # warm-up
                    trace(uow, actor, ident)
            for kind, ident in sample:
                with registry.reading() as uow:
                    t0 = time.perf_counter_ns()
                    try:
                        answer = trace(uow, actor, ident)
                    except DomainError:
                        errors += 1
                        continue
                    ms = (time.perf_counter_ns() - t0) / 1e6
                times.append(ms)
                by_kind.setdefault(kind, []).append(ms)
                events_seen.append(len(answer.get("timeline") or []))
                truncated += bool(answer.get("truncated"))
            floor = floor_reads(sample)
            p50, p99 = percentile(times, 50), percentile(times, 99)
            figure(f"{name}_p50_{tag(size)}", p50, "ms", percentile(floor, 50), queries=len(sample), errors=errors,
                   engine=engine, truncated_answers=truncated,
                   **({"server": pg_memory_settings()} if engine == "pg" else {}),
                   mean_events_per_answer=round(statistics.mean(events_seen), 1) if events_seen else None,
                   max_events_per_answer=max(events_seen) if events_seen else None,
                   by_kind={k: {"n": len(v), "p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
                            for k, v in sorted(by_kind.items())},
                   note=note + f"; registry.services.trace.trace on {engine} as an investigator (one page: the queried item's "
                               "newest 200 events, related items whole or by their window), a read unit of work per query; "
                               "baseline: the item's row, its own whole chain and bodies read with the bare driver")
            figure(f"{name}_p99_{tag(size)}", p99, "ms", percentile(floor, 99), goal="< 20 ms", met=p99 < 20,
                   queries=len(sample), engine=engine)
            return p50

        fixed: list[tuple[str, str]] = []
        p50_fixed, p50_fresh = {}, {}
        db_file = folder / "registry.db"
        for k, wanted in enumerate([n for n, _ in prebuilt] if prebuilt else sizes):
            if prebuilt:
                if registry is not None:
                    registry.db.dispose()
                db_file = prebuilt[k][1]
                if engine == "sqlite":
                    registry = prebuilt_registry(folder, db_file)
                else:  # the same city, copied into a database of the throwaway server
                    url = copy_city_to_pg(db_file, pg_server.url, f"city_{wanted}")
                    registry = prebuilt_registry(folder, db_file, url=url)
                with registry.reading() as uow:
                    size = uow.log.size()
                    org = uow.session.scalars(select(Organisation).where(Organisation.kind == "investigator")
                                              .order_by(Organisation.registered_index)).first()
                    user = uow.session.scalars(select(User).where(User.org_id == org.id)).first()
                    actor = Actor(org.id, org.kind, user.id)
                log(f"[trace/{engine}] the city of {folder} at {size:,} events ({db_file.name})")
            else:
                log(f"[trace/{engine}] growing the city to {wanted:,} events through the services")
                builder.grow_to(wanted)
                size = builder.size
            if not fixed:
                fixed = draw(7)
                log(f"[trace/{engine}] {len(fixed):,} traces at {size:,} events")
                p50_fixed[size] = p50_fresh[size] = run(fixed, prefix, "items drawn at the first size")
                continue
            log(f"[trace/{engine}] {2 * len(fixed):,} traces at {size:,} events (the first sample again, and a fresh one)")
            p50_fixed[size] = run(fixed, prefix, "the same items as at the first size (their histories grew)")
            p50_fresh[size] = run(draw(7 + k), f"{prefix}_fresh", "items drawn afresh from the city at this size")
        for name, p50s, what in ((f"{prefix}_p50_growth", p50_fixed, "same items"),
                                 (f"{prefix}_fresh_p50_growth", p50_fresh, "items drawn at each size")):
            first, last = min(p50s), max(p50s)
            if last != first:
                figure(f"{name}_{tag(first)}_to_{tag(last)}", p50s[last], "ms", p50s[first], goal="<= 1.5x baseline",
                       met=p50s[last] / p50s[first] <= 1.5, note=f"p50 at the larger size over p50 at the smaller ({what})")
        if prebuilt:
            registry.db.dispose()
            return
        f = builder.figures()
        rate = f["batched_events_per_s"]
        if engine == "sqlite":
            figure(f"append_services_batched_sqlite_{tag(builder.size)}", rate, "events/s",
                   goal=">= 2,778 events/s (1e7 in under an hour)", met=rate >= 2778, batch=5000,
                   projected_hours_for_1e7=round(1e7 / rate / 3600, 1),
                   note="make_city: every event through commissioning / lifecycle.record_event with its rule checks and "
                        "projections, a unit of work per 5,000 (one lock, one checkpoint)")
        else:
            figure(f"{prefix}_city_events_per_s_{tag(builder.size)}", rate, "events/s", batch=5000,
                   note=f"make_city on {engine} for the trace figures (the append figure on PostgreSQL is the http stage's)")
        registry.db.dispose()

    registry: Registry | None = None
    pg_server: Postgres | None = None
    copies = sorted((int(p.stem.split("-", 1)[1]), p) for p in city.glob("registry-*.db")) if city is not None else []
    for engine in engines:
        if engine == "sqlite":
            if city is not None:
                on("sqlite", city, None, prebuilt=copies + [(1 << 62, city / "registry.db")])
            else:
                on("sqlite", work / "city", None)
        elif engine == "pg":
            bindir = pg_bindir()
            if bindir is None:
                for name in ("trace_pg_p50", "trace_pg_p99"):
                    skipped(name, "ms", "no PostgreSQL binaries (initdb/pg_ctl) on this machine")
                continue
            if city is not None and not copies:
                skipped("trace_pg_p50", "ms", f"{city} has no snapshots (make_city.py --snapshots) to copy")
                continue
            pg_server = Postgres(bindir, Path(tempfile.mkdtemp(prefix="yima-bench-pg.")) / "pg")
            try:
                log(f"[trace/pg] PostgreSQL on 127.0.0.1:{pg_server.port}")
                if city is not None:
                    # the PostgreSQL sizes are the snapshots (10^5, 10^6), not the whole city
                    on("pg", city, pg_server.url, prebuilt=copies)
                else:
                    on("pg", work / "city-pg", pg_server.url)
            finally:
                pg_server.stop()
        else:
            raise ValueError(f"unknown engine {engine!r} (sqlite, pg)")


# --- HTTP on gunicorn + PostgreSQL ----------------------------------------------------------------


def pg_bindir() -> str | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return str(Path(os.path.realpath(found)).parent)
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        if (d / "pg_ctl").exists():
            return str(d)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_memory_settings() -> str:
    """A quarter of the machine's memory for shared buffers (PostgreSQL's guidance for a dedicated
    server; 128 MB to 8 GB) and three quarters as the planner's cache size, as production sets them:
    with the default 128 MB a 10^6-event city (~3 GB) is read through the kernel's cache instead."""
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return f"-c shared_buffers={max(128, min(8192, ram_mb // 4))}MB -c effective_cache_size={max(512, ram_mb * 3 // 4)}MB"


class Postgres:
    """A throwaway server (as scripts/test-postgres starts one), but durable: fsync and synchronous_commit
    on, and its memory set as for production (:func:`pg_memory_settings`)."""

    def __init__(self, bindir: str, folder: Path):
        self.bindir, self.folder, self.port = bindir, folder, free_port()
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder.mkdir(parents=True)
        if self.as_pg:
            shutil.chown(folder.parent, "postgres")
            shutil.chown(folder, "postgres")
        subprocess.run([*self.as_pg, f"{bindir}/initdb", "-D", f"{folder}/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--no-locale"], check=True, capture_output=True)
        subprocess.run([*self.as_pg, f"{bindir}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/server.log", "-w", "-o",
                        f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=100 {pg_memory_settings()}", "start"],
                       check=True, capture_output=True)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.as_pg, f"{self.bindir}/pg_ctl", "-D", f"{self.folder}/data", "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(self.folder.parent, ignore_errors=True)


async def _request(port: int, raw: bytes) -> tuple[int, float]:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    data = await reader.read()
    writer.close()
    took = time.perf_counter() - t0
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, took


async def _load(port: int, make: Callable[[int], bytes], concurrency: int, seconds: float, warmup: float = 1.0,
                counts: dict | None = None):
    """Run *concurrency* clients for warmup + seconds; return (requests/s, latencies in ms, statuses).
    *counts*, when given, gets ``all``: every request answered, warm-up included (for CPU per request)."""
    counter = iter(range(10**12))
    counts = {} if counts is None else counts
    counts["all"] = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def client():
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            status, took = await _request(port, make(next(counter)))
            counts["all"] += 1
            if now >= measure_from:
                latencies.append(took * 1e3)
                statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(latencies) / seconds, latencies, statuses


def _proc_ticks(pid: int) -> tuple[int, int]:
    """(parent pid, CPU clock ticks of *pid*: its own and its reaped children's, user and system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(x) for x in fields[11:15])


class CpuMeter:
    """CPU time spent by the server's processes, PostgreSQL's and this process (the load generator)
    between two readings, from /proc (Linux): what one request costs each of them."""

    def __init__(self, server_pid: int, postmaster_pid: int):
        self.roots = {"app": server_pid, "db": postmaster_pid}
        self.hz = os.sysconf("SC_CLK_TCK")

    def _read(self) -> dict[str, float]:
        procs = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    procs[int(entry)] = _proc_ticks(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        out = {}
        for name, root in self.roots.items():
            tree, grew = {root}, True
            while grew:
                more = {p for p, (ppid, _) in procs.items() if ppid in tree} - tree
                tree |= more
                grew = bool(more)
            out[name] = sum(procs[p][1] for p in tree if p in procs) / self.hz
        t = os.times()
        out["generator"] = t.user + t.system
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        out["machine"] = (sum(cpu) - cpu[3] - cpu[4]) / self.hz  # all but idle and iowait
        return out

    def start(self) -> None:
        self._start = self._read()

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request since start(), by group; ``other``: the rest of the machine."""
        end = self._read()
        ms = {k: (end[k] - self._start[k]) * 1e3 / max(requests, 1) for k in end}
        ms["other"] = max(0.0, ms["machine"] - ms["app"] - ms["db"] - ms["generator"])
        return {k: round(v, 3) for k, v in ms.items()}


def http_request(method: str, path: str, body: dict | None = None, token: str | None = None) -> bytes:
    payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(payload)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def stage_http(work: Path, city_events: int, seconds: float, concurrency: int, proof_samples: int) -> None:
    names = ("append_http_rate", "append_http_p99", "proof_inclusion_http_p99")
    bindir = pg_bindir()
    if bindir is None:
        for name in names:
            skipped(name, "-", "no PostgreSQL binaries (initdb/pg_ctl) on this machine")
        return
    pg = Postgres(bindir, Path(tempfile.mkdtemp(prefix="yima-bench-pg.")) / "pg")
    server = None
    try:
        log(f"[http] PostgreSQL on 127.0.0.1:{pg.port}; a city of {city_events:,} events through the services")
        folder = work / "pg-instance"
        registry = fresh_registry(folder, pg.url)
        builder = make_city.Builder(registry, batch=1000, progress=False)
        builder.grow_to(city_events)
        f = builder.figures()
        figure(f"append_services_batched_pg_{tag(builder.size)}", f["batched_events_per_s"], "events/s", batch=1000,
               note="make_city on PostgreSQL: every event through the services, a unit of work per 1,000")
        vehicles = [b.vehicle for b in builder.city.private]
        username = builder.city.usernames["repair_shop"][0]
        registry.db.dispose()

        port = free_port()
        env = {**os.environ, "REGISTRY_DATABASE_URL": pg.url, "REGISTRY_INSTANCE": str(folder), "PORT": str(port),
               "REGISTRY_PUBLIC_URL": "https://yima.example.cn", "REGISTRY_SIGNING_KEY": str(folder / "keys" / "signing.pem"),
               "SKIP_BOOTSTRAP": "1", "GUNICORN_ACCESS_LOG": "off"}
        server = subprocess.Popen([str(ROOT / "scripts" / "serve")], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=open(work / "serve.log", "w"), start_new_session=True)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"scripts/serve exited: {(work / 'serve.log').read_text()[-2000:]}")
                time.sleep(0.1)
        workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
        threads = int(os.environ.get("GUNICORN_THREADS") or 16)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tokens", method="POST",
                                     data=json.dumps({"username": username, "password": make_city.PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
        token = json.loads(urllib.request.urlopen(req).read())["token"]

        ping = http_request("GET", "/api/v1/ping")
        log(f"[http] {concurrency} clients for {seconds:g} s each: GET /api/v1/ping, then POST /api/v1/events (gunicorn, {workers} workers x {threads} threads)")
        postmaster = int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])
        meter, counts = CpuMeter(server.pid, postmaster), {}
        meter.start()
        noop_rate, noop_lat, noop_st = asyncio.run(_load(port, lambda i: ping, concurrency, seconds, counts=counts))
        noop_cpu = meter.per_request(counts["all"])

        def repair(i: int) -> bytes:
            return http_request("POST", "/api/v1/events", {"kind": "repair", "vehicle": vehicles[i % len(vehicles)],
                                                           "work": "更换刹车片"}, token)

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/log/checkpoint") as r:
            size_before = int(r.read().decode().split("\n")[1])
        meter.start()
        rate, lat, st = asyncio.run(_load(port, repair, concurrency, seconds, counts=counts))
        cpu = meter.per_request(counts["all"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/log/checkpoint") as r:
            size_after = int(r.read().decode().split("\n")[1])
        bad = {k: v for k, v in st.items() if k != 201}
        figure("append_http_rate", rate, "events/s", noop_rate, goal=">= 0.5x no-op and >= 1,000 events/s",
               met=bool(rate / noop_rate >= 0.5 and rate >= 1000 and not bad), concurrency=concurrency, workers=workers, threads=threads,
               seconds=seconds, statuses=st, appended=size_after - size_before, noop_statuses=noop_st,
               note="POST /api/v1/events (repair) on gunicorn + PostgreSQL 15 (fsync, synchronous_commit on): each 201 is committed; "
                    "baseline: GET /api/v1/ping on the same server, same clients; the load generator shares the 2 cores")
        figure("append_http_p50", percentile(lat, 50), "ms", percentile(noop_lat, 50))
        figure("append_http_p99", percentile(lat, 99), "ms", percentile(noop_lat, 99), goal="< 50 ms", met=percentile(lat, 99) < 50)
        # what bounds the rate on this machine: CPU per event (server, PostgreSQL, load generator) against the cores
        spent = cpu["app"] + cpu["db"] + cpu["generator"]
        figure("append_http_cpu_ms_per_event", spent, "ms", noop_cpu["app"] + noop_cpu["db"] + noop_cpu["generator"],
               by_group=cpu, noop_by_group=noop_cpu, cores=os.cpu_count(),
               cpu_bound_events_per_s=round((os.cpu_count() or 1) * 1e3 / spent, 1) if spent else None,
               note="CPU time per answered request (warm-up included) of gunicorn's processes (app), PostgreSQL's (db) and the "
                    "load generator, from /proc; baseline: the same per GET /ping; cores x 1000 / value = the rate these "
                    "cores could sustain if nothing waited")

        # the same repairs, 50 to a request through POST /events/batch (one lock, one commit, one checkpoint each)
        per = 50

        def repairs(i: int) -> bytes:
            return http_request("POST", "/api/v1/events/batch", {"events": [
                {"kind": "repair", "vehicle": vehicles[(i * per + k) % len(vehicles)], "work": "更换刹车片"} for k in range(per)]}, token)

        brate, blat, bst = asyncio.run(_load(port, repairs, concurrency, seconds))
        bad = {k: v for k, v in bst.items() if k != 201}
        figure("append_http_batch_rate", brate * per, "events/s", noop_rate, goal=">= 1,000 events/s", met=bool(brate * per >= 1000 and not bad),
               events_per_request=per, statuses=bst, request_p50_ms=round(percentile(blat, 50), 1),
               request_p99_ms=round(percentile(blat, 99), 1),
               note="POST /api/v1/events/batch of 50 repairs (group commit by the client); baseline: no-op requests/s")

        # proofs over HTTP, one client (what a verifier sees), beside sequential pings
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/log/checkpoint") as r:
            n = int(r.read().decode().split("\n")[1])
        rng = random.Random(3)
        _, seq_ping, _ = asyncio.run(_load(port, lambda i: ping, 1, max(2.0, seconds / 2), warmup=0.5))
        proofs = [http_request("GET", f"/api/v1/log/proofs/inclusion?index={rng.randrange(n)}&tree_size={n}") for _ in range(proof_samples)]
        _, proof_lat, proof_st = asyncio.run(_load(port, lambda i: proofs[i % len(proofs)], 1, max(2.0, seconds / 2), warmup=0.5))
        figure("proof_inclusion_http_p50", percentile(proof_lat, 50), "ms", percentile(seq_ping, 50), tree_size=n, statuses=proof_st)
        figure("proof_inclusion_http_p99", percentile(proof_lat, 99), "ms", percentile(seq_ping, 99), goal="< 5 ms",
               met=percentile(proof_lat, 99) < 5, tree_size=n, note="GET /api/v1/log/proofs/inclusion, one client; baseline: GET /api/v1/ping, one client")
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        pg.stop()


# --- main ---------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import sqlalchemy

    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__, "platform": platform.platform(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def table() -> None:
    rows = [("figure", "value", "unit", "baseline", "ratio", "goal", "met")]
    for f in FIGURES:
        def num(v):
            return "-" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3f}")
        rows.append((f["name"], num(f["value"]) if f["value"] is not None else f"skipped: {f.get('skipped', f.get('error', ''))}"[:60],
                     f["unit"], num(f["baseline"]), "-" if f["ratio"] is None else f"{f['ratio']:.3g}x",
                     f["goal"] or "-", {True: "yes", False: "NO"}.get(f["met"], "-")))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    log("")
    for k, r in enumerate(rows):
        log("  ".join(c.ljust(w) if j in (0, 2, 5) else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            log("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: the whole run in under 3 minutes")
    ap.add_argument("--only", default="", help=f"comma-separated stages among {', '.join(STAGES)}")
    ap.add_argument("--proofs-db", type=Path, default=None,
                    help="reuse a log built by scripts/bench_proofs.py (its --db) instead of building one")
    ap.add_argument("--trace-sizes", default="", help="city sizes for the trace stage, e.g. 10000,100000")
    ap.add_argument("--trace-queries", type=int, default=None,
                    help="traces per sample (default 200 quick, 10,000 full)")
    ap.add_argument("--trace-city", type=Path, default=None,
                    help="trace a city built beforehand instead of growing one: the instance folder of "
                         "scripts/make_city.py --snapshots … (its registry-<N>.db copies, then registry.db; "
                         "on pg: the copies, each copied into the throwaway server)")
    ap.add_argument("--trace-engines", default="sqlite,pg",
                    help="engines for the trace stage among sqlite, pg (a throwaway PostgreSQL; skipped without its binaries)")
    ap.add_argument("--http-clients", type=int, default=10, help="concurrent loopback clients of the http stage (default 10)")
    ap.add_argument("--http-seconds", type=float, default=None, help="seconds of load per measurement in the http stage (5 quick, 20 full)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args(argv)
    q = args.quick
    only = {s.strip() for s in args.only.split(",") if s.strip()} or set(STAGES)
    sizes = {
        "import": 20_000 if q else 1_000_000,
        "log": 100_000 if q else 1_000_000,
        "proof_samples": 1000 if q else 2000,
        "labels": 600 if q else 4000,
        "trace_sizes": tuple(int(x) for x in args.trace_sizes.split(",")) if args.trace_sizes else (4_000, 12_000) if q else (100_000, 1_000_000),
        "trace_queries": args.trace_queries or (200 if q else 10_000),
        "trace_engines": tuple(e.strip() for e in args.trace_engines.split(",") if e.strip()),
        "http_city": 1_500 if q else 10_000,
        "http_seconds": 5.0 if q else 20.0,
    }
    work = Path(tempfile.mkdtemp(prefix="yima-bench-"))
    started = time.perf_counter()
    log(f"bench: {'quick' if q else 'full'} run in {work}")
    stages: list[tuple[set[str], Callable[[], None], str]] = [
        ({"memory", "commission"}, lambda: stage_import(work, sizes["import"]), "commission"),
        ({"append", "proof", "verify"}, lambda: stage_log(work, sizes["log"], sizes["proof_samples"], args.proofs_db), "append"),
        ({"label"}, lambda: stage_labels(sizes["labels"]), "label"),
        ({"trace"}, lambda: stage_trace(work, sizes["trace_sizes"], sizes["trace_queries"], sizes["trace_engines"], args.trace_city), "trace"),
        ({"http"}, lambda: stage_http(work, sizes["http_city"], args.http_seconds or sizes["http_seconds"], concurrency=args.http_clients, proof_samples=500), "http"),
    ]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for keys, run, name in stages:
            if not keys & only:
                continue
            t0 = time.perf_counter()
            try:
                run()
            except Exception as exc:  # one broken stage must not hide the others' figures
                log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
                figure(f"{name}_stage", None, "-", error=f"{type(exc).__name__}: {exc}"[:500])
            log(f"[{name}] {time.perf_counter() - t0:.1f} s")
    except KeyboardInterrupt:  # print what was measured so far
        log("bench: interrupted")
        figure("interrupted", None, "-", error="interrupted before every stage ran")
    took = time.perf_counter() - started
    table()
    log(f"\nbench: {took:.0f} s; {sum(1 for f in FIGURES if f['met'] is True)} goals met, "
        f"{sum(1 for f in FIGURES if f['met'] is False)} not met; ratio = value / baseline")
    print(json.dumps({"figures": FIGURES, "quick": q, "seconds": round(took, 1), "sizes": sizes, "machine": machine()},
                     ensure_ascii=False, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"bench: scratch kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
