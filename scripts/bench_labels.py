#!/usr/bin/env python3
"""Benchmark label rendering against the zxing-cpp QR writer (issue "Codes and labels").

    .venv/bin/python scripts/bench_labels.py [--labels 4000] [--processes 2] [--module-px 6]

Both sides get the same N signed payloads (``https://traceability.ningbo-police.gov.cn/c/<token>``,
realistic tokens from a fresh Ed25519 key) and the same module size, and both
spread the work over a forkserver process pool of --processes workers, created
inside the timed region:

* ours: ``registry.labels.render.render_many_png`` -- a full label (QR, the kind
  in Chinese, the identifier and the model in readable text) as PNG bytes;
* baseline: ``zxingcpp.create_barcode(payload, QRCode, ec_level="M").to_image(scale=module_px)``
  turned into PNG bytes by Pillow with the same settings -- a bare QR code, nothing else.

``ratio`` is ours / baseline in labels per second (goal >= 0.25). A sample of our
PNGs is decoded with zxing-cpp and must give back its payload.
stdout: one JSON object {"figures": [...]}; stderr: a table.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import zxingcpp
from PIL import Image

from registry.labels import make_token, payload_url
from registry.labels.render import Label, find_cjk_font, label_png, render_many_png
from registry.ledger import SigningKey

PUBLIC_URL = "https://traceability.ningbo-police.gov.cn"


def _zxing_png(args: tuple[str, int]) -> bytes:
    payload, scale = args
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    img = barcode.to_image(scale=scale, add_quiet_zones=True)
    h, w = img.shape
    buf = io.BytesIO()
    # The same PNG settings as our labels (registry.labels.render._png), so only the drawing differs.
    Image.frombuffer("L", (w, h), bytes(memoryview(img)), "raw", "L", 0, 1).save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def _pool(processes: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(processes, mp_context=context)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, default=4000)
    ap.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--module-px", type=int, default=6, help="pixels per QR module (label_png's default)")
    args = ap.parse_args()

    key = SigningKey.generate("bench")
    labels = []
    for i in range(args.labels):
        kind, ident = [("vehicle", f"1173226{i:08d}"), ("battery", f"XHNBF48V2026{i:06d}"), ("charger", f"MA2C1D2E3-26-48-{i:06d}")][i % 3]
        labels.append(Label(kind, ident, payload_url(PUBLIC_URL, make_token(kind, ident, key.key_hash, key.sign)), "LY-TDT2024"))
    assert args.module_px == 6, "render_many_png draws at label_png's default module size (6 px)"

    started = time.perf_counter()
    ours = render_many_png(labels, processes=args.processes)
    ours_s = time.perf_counter() - started

    started = time.perf_counter()
    with _pool(args.processes) as pool:
        chunk = max(1, args.labels // (args.processes * 4))
        baseline = list(pool.map(_zxing_png, [(label.payload, args.module_px) for label in labels], chunksize=chunk))
    base_s = time.perf_counter() - started

    for i in range(0, args.labels, max(1, args.labels // 20)):
        with Image.open(io.BytesIO(ours[i])) as img:
            found = [r.text for r in zxingcpp.read_barcodes(img)]
        assert [f.lower() for f in found] == [labels[i].payload.lower()], (i, found)
        with Image.open(io.BytesIO(baseline[i])) as img:
            assert zxingcpp.read_barcodes(img)[0].text.lower() == labels[i].payload.lower()
    with Image.open(io.BytesIO(label_png(labels[0]))) as img:
        size = img.size

    ours_rate, base_rate = args.labels / ours_s, args.labels / base_s
    figure = {
        "name": "label PNG rendering vs zxing-cpp QR writer",
        "labels": args.labels,
        "processes": args.processes,
        "module_px": args.module_px,
        "label_size_px": list(size),
        "cjk_font": find_cjk_font(),
        "ours_labels_per_s": round(ours_rate, 1),
        "baseline_labels_per_s": round(base_rate, 1),
        "ratio": round(ours_rate / base_rate, 3),
        "goal": ">= 0.25",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    print(json.dumps({"figures": [figure]}, ensure_ascii=False))
    print(
        f"{args.labels} labels, {args.processes} processes, {args.module_px} px modules\n"
        f"  ours (full label PNG)      {ours_rate:8.1f} labels/s ({ours_s:.2f} s)\n"
        f"  zxing-cpp QR writer + PNG  {base_rate:8.1f} labels/s ({base_s:.2f} s)\n"
        f"  ratio ours/baseline        {ours_rate / base_rate:8.3f} (goal >= 0.25)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
