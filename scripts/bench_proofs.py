#!/usr/bin/env python3
"""Benchmark stored-node Merkle proofs on a SQLite log of N entries (issue "Foundation").

    .venv/bin/python scripts/bench_proofs.py --entries 1000000 [--db PATH] [--samples 2000]

Builds the log with bulk_append (or reuses --db when it already holds >= N
entries; a smaller one is grown to N), then, in the same process, times:

* ``uow.log.inclusion_proof(i, N)`` for random i, and
  ``uow.log.consistency_proof(m, N)`` for random m, inside one read unit of work;
* the same inclusion proof wrapped in its own read unit of work (what a request pays);
* the baseline: recomputing the same proof (and root) from the leaf hashes alone,
  with every leaf hash already in memory (fetching them is timed separately and
  *not* charged to the baseline, so the ratio is conservative).

Every sampled proof is verified against the root of size N (not timed), the
root is checked against the signed checkpoint of size N when there is one, and
each baseline recomputation must equal the stored proof.

stdout: one JSON object {"figures": [...]}; stderr: progress and a table.
``ratio`` is baseline / value: how many times faster the stored-node proof is.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import select

from registry.cli import upgrade
from registry.config import from_environment
from registry.ledger import verify_checkpoint
from registry.ledger.hashing import Hasher
from registry.ledger.tree import (
    Range,
    consistency_ranges,
    inclusion_ranges,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from registry.runtime import Registry
from registry.store.bulk import bulk_append
from registry.store.log import NewEvent
from registry.store.models import LogEntry, SignedCheckpoint

GOAL_MS = 5.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tag(n: int) -> str:
    """1000000 -> '1e6'; other sizes as they are."""
    k = len(str(n)) - 1
    return f"1e{k}" if n == 10**k else str(n)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def bench_events(start: int, stop: int):
    """Small realistic bodies: every event on a vehicle chain, one in three on a battery too."""
    for i in range(start, stop):
        subjects = [f"vehicle:{i % 50000}"]
        if i % 3 == 0:
            subjects.append(f"battery:{i % 80000}")
        yield NewEvent(kind="test", org="bench", user="bench", subjects=subjects, data={"n": i})


def open_registry(db: Path) -> Registry:
    db.parent.mkdir(parents=True, exist_ok=True)
    config = from_environment()
    config.update(
        DATABASE_URL=f"sqlite:///{db}",
        INSTANCE_PATH=str(db.parent),
        SIGNING_KEY=str(db.parent / "keys" / "signing.pem"),
    )
    upgrade(config["DATABASE_URL"])
    return Registry(config)


def build(registry: Registry, n: int, batch: int) -> tuple[int, int, float]:
    """Grow the log to at least *n* entries; return (size before, entries appended, seconds)."""
    with registry.reading() as uow:
        have = uow.log.size()
    if have >= n:
        return have, 0, 0.0
    want = n - have
    t0 = time.perf_counter()
    last = [t0]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if done == want or now - last[0] >= 10:
            last[0] = now
            log(f"  built {have + done:>10,} / {n:,}  ({done / (now - t0):,.0f} entries/s)")

    appended = bulk_append(registry, bench_events(have, n), batch=batch, progress=progress)
    return have, appended, time.perf_counter() - t0


# --- the baseline: the same answers from leaf hashes alone -------------------------------


def recompute(leaves: Sequence[bytes], start: int, end: int, wanted: set[Range], out: dict, hasher: Hasher) -> bytes:
    """Return MTH(leaves[start:end]) (RFC 9162), recording the hash of every range in *wanted*.

    Ranges with nothing wanted inside them are hashed by the iterative
    ``root_from_leaves``; the recursion only follows the ranges that hold a
    wanted one, so the whole pass costs end - start - 1 node hashes.
    """
    inner = any(start <= s and e <= end and (s, e) != (start, end) for s, e in wanted)
    if not inner:
        h = root_from_leaves(leaves[start:end], hasher)
    else:
        k = 1 << ((end - start - 1).bit_length() - 1)
        h = hasher.node(
            recompute(leaves, start, start + k, wanted, out, hasher),
            recompute(leaves, start + k, end, wanted, out, hasher),
        )
    if (start, end) in wanted:
        out[(start, end)] = h
    return h


def inclusion_from_leaves(leaves: Sequence[bytes], index: int, size: int, hasher: Hasher) -> tuple[bytes, list[bytes], bytes]:
    ranges = inclusion_ranges(index, size)
    out: dict[Range, bytes] = {}
    root = recompute(leaves, 0, size, set(ranges), out, hasher)
    return leaves[index], [out[r] for r in ranges], root


def consistency_from_leaves(leaves: Sequence[bytes], first: int, second: int, hasher: Hasher) -> tuple[list[bytes], bytes, bytes]:
    ranges = consistency_ranges(first, second)
    out: dict[Range, bytes] = {}
    second_root = recompute(leaves, 0, second, set(ranges), out, hasher)
    first_root = root_from_leaves(leaves[:first], hasher)
    return [out[r] for r in ranges], first_root, second_root


# --- measuring ----------------------------------------------------------------------------


def timed(fn: Callable, args: Sequence) -> tuple[list[float], list]:
    """Call fn(*a) for each a; return the durations in ms (ascending) and the results in call order."""
    times, results = [], []
    gc.collect()  # start each series from a clean heap; the collector stays on while timing
    for a in args:
        t0 = time.perf_counter_ns()
        r = fn(*a)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        results.append(r)
    return sorted(times), results


def figure(name: str, value: float | None, unit: str, baseline: float | None = None, goal: str | None = None, **extra) -> dict:
    f = {"name": name, "value": None if value is None else round(value, 4), "unit": unit,
         "baseline": None if baseline is None else round(baseline, 4),
         "ratio": round(baseline / value, 1) if baseline and value else None}
    if goal is not None:
        f["goal"] = goal
        f["met"] = value is not None and value < GOAL_MS
    f.update(extra)
    return f


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="tree size N (default 1000000)")
    parser.add_argument("--db", type=Path, default=None,
                        help="SQLite file to build or reuse (default: <REGISTRY_INSTANCE>/bench/proofs.db)")
    parser.add_argument("--samples", type=int, default=2000, help="proofs timed per kind (default 2000)")
    parser.add_argument("--baseline-samples", type=int, default=5, help="recomputations from leaves (default 5)")
    parser.add_argument("--batch", type=int, default=10000, help="events per bulk_append batch (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the sampled indexes")
    args = parser.parse_args(argv)
    n = args.entries
    if n < 2:
        parser.error("--entries must be at least 2")
    db = (args.db or Path(from_environment()["INSTANCE_PATH"]) / "bench" / "proofs.db").resolve()
    rng = random.Random(args.seed)
    t = tag(n)

    log(f"bench_proofs: N={n:,} db={db}")
    registry = open_registry(db)
    hasher = registry.hasher
    had, appended, build_s = build(registry, n, args.batch)
    if appended:
        log(f"  appended {appended:,} entries in {build_s:.1f} s ({appended / build_s:,.0f} entries/s, batches of {args.batch:,})")
    else:
        log(f"  reusing {db} ({had:,} entries >= {n:,}): nothing appended")

    figures: list[dict] = []
    figures.append(figure(
        f"build_rate_{t}", appended / build_s if appended else None, "entries/s",
        entries_appended=appended, batch=args.batch,
        **({} if appended else {"note": "database reused: no entries appended in this run"}),
    ))

    with registry.reading() as uow:
        root = uow.log.root(n)
        checkpoint = uow.session.execute(
            select(SignedCheckpoint.note).where(SignedCheckpoint.tree_size == n).limit(1)
        ).scalar()
    if checkpoint is not None:
        keys = [(registry.origin, pub) for pub in registry.keys.by_id().values()]
        cp = verify_checkpoint(checkpoint, keys)
        assert cp.size == n and cp.root_hash == root, "stored root differs from the signed checkpoint"
        log(f"  root at {n:,} matches the signed checkpoint of that size")

    # -- stored-node proofs, inside one read unit of work ----------------------------------
    inc_args = [(rng.randrange(n), n) for _ in range(args.samples)]
    con_args = [(rng.randint(1, n), n) for _ in range(args.samples)]
    with registry.reading() as uow:
        for i in range(20):  # warm-up (not recorded)
            uow.log.inclusion_proof(rng.randrange(n), n)
            uow.log.consistency_proof(rng.randint(1, n), n)
        inc_ms, inc_res = timed(uow.log.inclusion_proof, inc_args)
        con_ms, con_res = timed(uow.log.consistency_proof, con_args)
    for (i, size), (leaf, proof, r) in zip(inc_args, inc_res):
        assert r == root
        verify_inclusion(hasher, i, size, leaf, proof, root)
    for (m, size), (proof, r1, r2) in zip(con_args, con_res):
        assert r2 == root
        verify_consistency(hasher, m, size, r1, r2, proof)
    log(f"  verified {len(inc_res):,} inclusion and {len(con_res):,} consistency proofs against the root")

    # -- the same inclusion proof, each in its own read unit of work (what a request pays) --
    def proof_in_own_uow(i: int, size: int):
        with registry.reading() as uow:
            return uow.log.inclusion_proof(i, size)

    uow_args = [(rng.randrange(n), n) for _ in range(args.samples)]
    uow_ms, uow_res = timed(proof_in_own_uow, uow_args)
    for (i, size), (leaf, proof, r) in zip(uow_args, uow_res):
        verify_inclusion(hasher, i, size, leaf, proof, root)

    # -- baseline: recompute from the leaves ------------------------------------------------
    t0 = time.perf_counter()
    with registry.reading() as uow:
        leaves = [bytes(h) for (h,) in uow.session.execute(
            select(LogEntry.leaf_hash).where(LogEntry.idx < n).order_by(LogEntry.idx)
        )]
    fetch_ms = (time.perf_counter() - t0) * 1e3
    assert len(leaves) == n
    log(f"  fetched {n:,} leaf hashes in {fetch_ms:,.0f} ms (not charged to the baseline)")
    base_inc_args = [inc_args[k] for k in range(min(args.baseline_samples, len(inc_args)))]
    base_con_args = [con_args[k] for k in range(min(args.baseline_samples, len(con_args)))]
    base_inc_ms, base_inc_res = timed(lambda i, size: inclusion_from_leaves(leaves, i, size, hasher), base_inc_args)
    base_con_ms, base_con_res = timed(lambda m, size: consistency_from_leaves(leaves, m, size, hasher), base_con_args)
    for k, res in enumerate(base_inc_res):
        assert res == inc_res[k], f"recomputed inclusion proof {base_inc_args[k]} differs from the stored one"
    for k, res in enumerate(base_con_res):
        assert res == con_res[k], f"recomputed consistency proof {base_con_args[k]} differs from the stored one"
    log(f"  recomputed {len(base_inc_res)} inclusion and {len(base_con_res)} consistency proofs from leaves: equal to the stored ones")

    b_inc = percentile(base_inc_ms, 50)
    b_con = percentile(base_con_ms, 50)
    goal = f"< {GOAL_MS:g} ms"
    common = {"samples": args.samples}
    figures += [
        figure(f"proof_inclusion_p50_{t}", percentile(inc_ms, 50), "ms", b_inc, goal, **common),
        figure(f"proof_inclusion_p99_{t}", percentile(inc_ms, 99), "ms", b_inc, goal, **common),
        figure(f"proof_consistency_p50_{t}", percentile(con_ms, 50), "ms", b_con, goal, **common),
        figure(f"proof_consistency_p99_{t}", percentile(con_ms, 99), "ms", b_con, goal, **common),
        figure(f"proof_inclusion_own_uow_p50_{t}", percentile(uow_ms, 50), "ms", b_inc, goal, **common),
        figure(f"proof_inclusion_own_uow_p99_{t}", percentile(uow_ms, 99), "ms", b_inc, goal, **common),
        figure(f"recompute_inclusion_p50_{t}", b_inc, "ms", samples=len(base_inc_ms)),
        figure(f"recompute_consistency_p50_{t}", b_con, "ms", samples=len(base_con_ms)),
        figure(f"fetch_all_leaves_{t}", fetch_ms, "ms", samples=1),
    ]

    rows = [("figure", "value", "unit", "baseline", "ratio", "goal", "met")]
    for f in figures:
        v = f["value"]
        rows.append((
            f["name"],
            "-" if v is None else (f"{v:,.0f}" if f["unit"] == "entries/s" else f"{v:,.3f}"),
            f["unit"],
            "-" if f["baseline"] is None else f"{f['baseline']:,.1f}",
            "-" if f["ratio"] is None else f"{f['ratio']:,.0f}x",
            f.get("goal", "-"),
            {True: "yes", False: "NO"}.get(f.get("met"), "-"),
        ))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    log("")
    log(f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}, N={n:,}, "
        f"hash {hasher.name}; ratio = baseline / value")
    for k, r in enumerate(rows):
        log("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            log("  ".join("-" * w for w in widths))
    print(json.dumps({"figures": figures}, indent=2))
    registry.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
