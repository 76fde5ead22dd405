#!/usr/bin/env python3
"""Benchmark `flask import-items`: N CSV lines into a fresh registry; wall time, items/s, peak RSS.

    .venv/bin/python scripts/bench_import.py [--lines 100000] [--chunk 5000] [--database-url URL]

Seeds the demo city in a throwaway instance (SQLite unless --database-url names an
empty PostgreSQL database), writes N vehicle lines for the demo maker, imports
them as `manufacturer00`, then imports the same file again (every line skipped).
Peak RSS is the largest of the import process and its signing workers
(getrusage(RUSAGE_CHILDREN) of a fresh child each run).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flask(env: dict, *args: str) -> tuple[float, int, str]:
    """Run `flask --app app ARGS` in a child; return (seconds, peak RSS in KiB of that run, stdout)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "took = time.perf_counter() - t\n"
        "sys.stderr.write(p.stderr[-2000:])\n"
        "print(f'{took} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {p.returncode}')\n"
        "print(p.stdout)\n"
    )
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "flask", "--app", str(ROOT / "app.py"), *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    head, _, rest = out.stdout.partition("\n")
    took, rss, rc = head.split()
    if int(rc) not in (0, 1):
        sys.exit(f"flask {' '.join(args)} failed:\n{out.stderr}")
    return float(took), int(rss), rest.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--processes", type=int, default=None)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="yima-bench-import-"))
    env = {**os.environ, "REGISTRY_INSTANCE": str(work / "instance"), "REGISTRY_PUBLIC_URL": "https://yima.example.cn"}
    if args.database_url:
        env["REGISTRY_DATABASE_URL"] = args.database_url
    flask(env, "db", "upgrade")
    flask(env, "seed-demo")

    csv = work / "items.csv"
    started = time.perf_counter()
    with open(csv, "w") as f:
        f.write("kind,identifier,model,produced_on,batch\n")
        for i in range(args.lines):
            f.write(f"vehicle,1173226{10_000_000 + i:08d},LY-TDT2024,2026-05-{1 + i % 28:02d},LY2605-{i // 5000:03d}\n")
    print(f"wrote {args.lines:,} lines ({csv.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")

    extra = ["--chunk", str(args.chunk)] + (["--processes", str(args.processes)] if args.processes else [])
    engine = "PostgreSQL" if args.database_url else "SQLite"
    took, rss, out = flask(env, "import-items", str(csv), "--username", "manufacturer00", *extra)
    print(f"{engine}: import {args.lines:,} lines: {took:.1f} s wall, {args.lines / took:,.0f} items/s, peak RSS {rss / 1024:.0f} MiB")
    print(f"  {out}")
    took, rss, out = flask(env, "import-items", str(csv), "--username", "manufacturer00", *extra)
    print(f"{engine}: re-run (all skipped): {took:.1f} s wall, peak RSS {rss / 1024:.0f} MiB")
    print(f"  {out}")
    took, rss, out = flask(env, "verify-log")
    print(f"verify-log: {took:.1f} s: {out}")
    print(f"(instance kept in {work})")


if __name__ == "__main__":
    main()
