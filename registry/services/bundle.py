"""Evidence bundles: a traceback a court can check offline (``GET /api/v1/trace/bundle``).

The zip holds

* ``bundle.json`` — format ``yima-trace-bundle/1``: the signed checkpoint, the
  public keys, every event the report rests on (the set's whole chains, the
  recalls and certificate changes that touch it, and the organisations',
  models' and certificates' chains whose names it shows) as its canonical body
  (base64, exactly as stored and hashed), its leaf hash and inclusion proof
  against the checkpoint (also in the C2SP ``tlog-proof@v1`` text form), the
  chains the bundle holds complete, the photos' hashes and the report's data;
* ``bundle.json.sig`` — a signed note by the log's key over the SHA-256 of
  ``bundle.json`` and of ``report.pdf`` (any altered byte breaks it);
* ``report.pdf`` — the Chinese report (:mod:`registry.services.report`);
* ``photos/<sha256>`` — the incidents' photos, when kept.

``scripts/verify_bundle.py`` checks all of it with the Python standard library
and ``cryptography`` alone.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import re
import zipfile

from registry.domain.roles import Actor, require_kind
from registry.ledger.checkpoint import DASH, vkey
from registry.ledger.tree import Frontier, inclusion_ranges, nodes_for, perfect_cover, resolve
from registry.services import photos as photo_store
from registry.services import trace as tracing
from registry.store.log import rfc3339, utc_now

FORMAT = "yima-trace-bundle/1"
#: First line of the note that signs a bundle: never a log origin, and its second line is no tree size.
NOTE_HEADER = "yima.trace-bundle/v1"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
#: Photos travel in the bundle up to this many bytes in all.
MAX_PHOTO_BYTES = 50 * 1024 * 1024
_PROOF_CHUNK = 200


def tlog_proof(index: int, proof: list[bytes], checkpoint_note: str) -> str:
    """Return a C2SP tlog-proof@v1 text: header, index, one base64 hash per line, a blank line, the checkpoint."""
    lines = [TLOG_PROOF_HEADER, f"index {index}", *(base64.b64encode(h).decode() for h in proof)]
    return "\n".join(lines) + "\n\n" + checkpoint_note


def sign_bundle(key, bundle_json: bytes, report_pdf: bytes) -> str:
    """Return the signed note over the bundle's and the report's SHA-256 (C2SP signed-note format)."""
    text = f"{NOTE_HEADER}\n{hashlib.sha256(bundle_json).hexdigest()}\n{hashlib.sha256(report_pdf).hexdigest()}\n"
    sig = key.sign(text.encode("utf-8"))
    return f"{text}\n{DASH} {key.name} {base64.b64encode(key.key_hash + sig).decode()}\n"


def _proofs(uow, indexes: list[int], size: int) -> tuple[dict[int, tuple[bytes, list[bytes]]], bytes]:
    """Return ``index -> (leaf hash, proof)`` against the tree of *size*, and that tree's root."""
    hasher = uow.registry.hasher
    out: dict[int, tuple[bytes, list[bytes]]] = {}
    cover = set(perfect_cover(0, size))
    root = Frontier.at(hasher, size, uow.log.nodes(cover)).root()
    for i in range(0, len(indexes), _PROOF_CHUNK):
        part = indexes[i:i + _PROOF_CHUNK]
        ranges = {x: inclusion_ranges(x, size) for x in part}
        keys = {(0, x) for x in part}
        for r in ranges.values():
            keys |= nodes_for(r)
        nodes = uow.log.nodes(keys)
        for x in part:
            out[x] = (nodes[(0, x)], resolve(ranges[x], nodes, hasher))
    return out, root


def _strip(report: dict) -> dict:
    """The report as bundled: only what the log proves or the vault revealed (no mutable user names)."""
    report = json.loads(json.dumps(report))
    for e in report.get("timeline", []):
        e.pop("username", None)
    return report


def collect_bundle(registry, actor: Actor, q: str, case_number: str, *, lang: str = "zh") -> dict:
    """Trace *q* for an investigator with a case number and gather everything the bundle proves it with."""
    require_kind(actor, "investigator")
    with registry.writing() as uow:
        # sign (if needed) a checkpoint of every committed entry while holding the append lock:
        # everything the trace reads below is in it
        cp = uow.log.checkpoint()
        size, note, root_hash = cp.tree_size, cp.note, bytes(cp.root_hash)
        # every chain of the set whole (so that the verifier can fold each item), not one page of the answer
        t = tracing.build(uow, actor, q, case_number, lang=lang, whole=True)
        org = t.loader.org(actor.org_id)
        if org is not None and org.id not in t.result["organisations"]:
            # the report names the organisation that made it: prove that name too
            t.result["organisations"][org.id] = {
                "id": org.id, "name": org.name, "kind": org.kind, "kind_zh": "消防/公安", "license_no": org.license_no,
                "region": org.region, "index": org.registered_index}
            chain = t.loader.chains([f"org:{org.id}"])
            t.complete_chains.update(chain)
            t.indexes = sorted(set(t.indexes) | set(chain[f"org:{org.id}"]))
        proofs, root = _proofs(uow, t.indexes, size)
        if root != root_hash:
            raise RuntimeError("the stored tree does not reach the signed checkpoint's root: run verify-log")
        uow.commit()
    entries = []
    for i in t.indexes:
        e = t.loader.event(i)
        leaf, proof = proofs[i]
        entries.append({
            "index": i, "event_id": e.body.get("event_id"), "kind": e.kind, "leaf_hash": leaf.hex(),
            "body": base64.b64encode(e.raw).decode(), "proof": [h.hex() for h in proof],
            "tlog_proof": tlog_proof(i, proof, note),
        })
    report = _strip(t.result)
    report["generated_at"] = rfc3339(utc_now())
    report["generated_by"] = {"org": {"id": org.id, "name": org.name, "kind": org.kind} if org else None, "user": actor.user_id}
    keys = [
        {"key_id": k["key_id"], "name": k["name"], "algorithm": "ed25519",
         "public_key": base64.b64encode(bytes.fromhex(k["public_key"])).decode(),
         "vkey": vkey(k["name"], bytes.fromhex(k["public_key"]))}
        for k in registry.keys.public_keys()
    ]
    kept = []
    total = 0
    for sha in t.photos:
        path = photo_store.path_of(registry, sha)
        if path is not None and total + path.stat().st_size <= MAX_PHOTO_BYTES:
            total += path.stat().st_size
            kept.append({"sha256": sha, "file": f"photos/{sha}", "size": path.stat().st_size})
    return {
        "format": FORMAT,
        "origin": registry.origin,
        "hash": registry.hasher.name,
        "case_number": case_number,
        "query": q,
        "checkpoint": note,
        "tree_size": size,
        "root_hash": root_hash.hex(),
        "public_keys": keys,
        "entries": entries,
        "chains": {s: idxs for s, idxs in sorted(t.complete_chains.items())},
        "photos": kept,
        "report": report,
    }


def _safe(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z-]+", "_", name)[:64] or "trace"


def make_bundle(registry, actor: Actor, q: str, case_number: str, *, lang: str = "zh") -> tuple[bytes, str]:
    """Return the evidence bundle (zip bytes) for *q* and a file name for it."""
    from registry.services.report import render_report

    bundle = collect_bundle(registry, actor, q, case_number, lang=lang)
    pdf = render_report(bundle)
    bundle["report_pdf_sha256"] = hashlib.sha256(pdf).hexdigest()
    raw = json.dumps(bundle, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8") + b"\n"
    note = sign_bundle(registry.keys.current, raw, pdf)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bundle.json", raw)
        z.writestr("bundle.json.sig", note)
        z.writestr("report.pdf", pdf)
        z.writestr("README.txt", README)
        for p in bundle["photos"]:
            z.writestr(p["file"], photo_store.path_of(registry, p["sha256"]).read_bytes())
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    subject = bundle["report"]["query"]["identifier"]
    return buf.getvalue(), f"trace-{_safe(subject)}-{stamp}.zip"


README = """溯源证据包 / Traceback evidence bundle (yima-trace-bundle/1)

bundle.json      事件原文（base64）、包含证明、签名检查点、公钥、报告数据
                 event bodies (base64), inclusion proofs, signed checkpoint, public keys, report data
bundle.json.sig  日志密钥对 bundle.json 与 report.pdf 的 SHA-256 的签名（signed note）
report.pdf       中文溯源报告 / the report (Chinese)
photos/          现场照片（文件名即其 SHA-256）/ scene photos, named by their SHA-256

离线核验 / verify offline (Python 3 + cryptography only):
    python3 verify_bundle.py THIS.zip [--vkey '<registry vkey from /api/v1/log/public-keys>']
"""
