#!/usr/bin/env python3
"""Verify a yima traceback evidence bundle offline: python3 verify_bundle.py BUNDLE.zip [--vkey VKEY].

Needs nothing but Python 3 and the `cryptography` package (no registry code).
It checks, and names every failure:

1. ``bundle.json.sig`` — a signed note by the log's key over the SHA-256 of
   ``bundle.json`` and ``report.pdf``: any altered byte of either fails it;
2. the checkpoint — its signature holds with the key (``--vkey`` pins the
   registry's published key; otherwise the bundled one is used and printed);
3. every entry — its body hashes to its leaf (RFC 9162: H(0x00 || body)), its
   inclusion proof reaches the checkpoint's root, its C2SP tlog-proof text
   says the same;
4. chain order — every chain the bundle holds complete links each event to the
   previous one (``prev``), and no other entry touches it;
5. the report's data — every organisation, item, model, certificate (and its
   status), sale, registration, incident, timeline step, party and flag it
   shows is backed by a bundled event that says the same; photos match
   their hashes.

Exit status 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "yima-trace-bundle/1"
NOTE_HEADER = "yima.trace-bundle/v1"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
DASH = "\u2014"
ITEM_KINDS = ("vehicle", "battery", "charger")


class Failed(Exception):
    pass


# --- hashing and proofs (RFC 9162 §2.1) ---------------------------------------------------


def hash_function(origin: str):
    if origin.endswith("/sm3"):
        try:
            hashlib.new("sm3")
        except ValueError:
            raise Failed("the log uses SM3 but this Python's OpenSSL has no SM3") from None
        return lambda data: hashlib.new("sm3", data).digest()
    return lambda data: hashlib.sha256(data).digest()


def verify_inclusion(h, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    if not 0 <= index < size:
        raise Failed(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failed("the inclusion proof is longer than the path")
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failed("the inclusion proof is shorter than the path")
    if r != root:
        raise Failed("the inclusion proof does not reach the checkpoint's root")


# --- signed notes (C2SP signed-note, Ed25519) ---------------------------------------------


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + public_key).digest()[:4]


def parse_vkey(text: str) -> tuple[str, bytes]:
    name, rest = text.split("+", 1)
    hash_hex, key_b64 = rest.split("+", 1)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise Failed(f"{text!r} is not an Ed25519 vkey")
    if key_hash(name, raw[1:]).hex() != hash_hex:
        raise Failed(f"vkey {text!r}: the key hash does not match the key")
    return name, raw[1:]


def verify_note(text: str, keys: list[tuple[str, bytes]], what: str) -> str:
    """Return the signed text of a note if a signature by one of *keys* holds."""
    if "\n\n" not in text or not text.endswith("\n"):
        raise Failed(f"{what}: not a signed note")
    body, _, sigs = text.partition("\n\n")
    signed = body + "\n"
    known = {(name, key_hash(name, pub)): pub for name, pub in keys}
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Failed(f"{what}: malformed signature line {line!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            raise Failed(f"{what}: the signature is not base64") from None
        pub = known.get((parts[1], raw[:4]))
        if pub is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], signed.encode("utf-8"))
        except InvalidSignature:
            raise Failed(f"{what}: the signature by {parts[1]} does not verify (altered?)") from None
        return signed
    raise Failed(f"{what}: no signature by a trusted key")


def parse_checkpoint(signed: str) -> tuple[str, int, bytes]:
    lines = signed.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise Failed("the checkpoint is malformed")
    return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)


# --- the checks ---------------------------------------------------------------------------


class Verifier:
    def __init__(self, zf: zipfile.ZipFile, pinned: list[str]):
        self.zf = zf
        self.pinned = pinned
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.bodies: dict[int, dict] = {}
        self.leaves: dict[int, str] = {}

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def member(self, name: str) -> bytes:
        try:
            return self.zf.read(name)
        except KeyError:
            raise Failed(f"the bundle has no {name}") from None

    def run(self) -> None:
        raw_json = self.member("bundle.json")
        pdf = self.member("report.pdf")
        note = self.member("bundle.json.sig").decode("utf-8", "replace")
        try:
            bundle = json.loads(raw_json)
        except ValueError as err:
            bundle = None
            self.fail(f"bundle.json is not valid JSON: {err}")
        keys = self.trusted_keys(bundle)
        # 1. the note over both files
        try:
            signed = verify_note(note, keys, "bundle.json.sig")
            lines = signed.split("\n")
            if lines[0] != NOTE_HEADER:
                self.fail("bundle.json.sig is not a bundle signature")
            if lines[1] != hashlib.sha256(raw_json).hexdigest():
                self.fail("bundle.json was changed after it was signed (its SHA-256 differs from bundle.json.sig)")
            if lines[2] != hashlib.sha256(pdf).hexdigest():
                self.fail("report.pdf was changed after it was signed (its SHA-256 differs from bundle.json.sig)")
        except Failed as err:
            self.fail(str(err))
        if bundle is None:
            return
        if bundle.get("format") != FORMAT:
            self.fail(f"unknown bundle format {bundle.get('format')!r}")
        if bundle.get("report_pdf_sha256") != hashlib.sha256(pdf).hexdigest():
            self.fail("report.pdf does not match report_pdf_sha256 in bundle.json")
        try:
            self.entries(bundle, keys)
        except (Failed, KeyError, TypeError, ValueError) as err:
            self.fail(f"entries: {err!r}" if not isinstance(err, Failed) else str(err))
            return
        for check in (self.chains, self.report, self.photos):
            try:
                check(bundle)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
                self.fail(f"{check.__name__}: malformed ({type(err).__name__}: {err})")

    def trusted_keys(self, bundle) -> list[tuple[str, bytes]]:
        if self.pinned:
            return [parse_vkey(v) for v in self.pinned]
        keys = []
        for k in (bundle or {}).get("public_keys", []):
            try:
                pub = base64.b64decode(k["public_key"], validate=True)
                keys.append((k["name"], pub))
                self.notes.append(f"trusting the bundled key {k['name']}+{key_hash(k['name'], pub).hex()} "
                                  "(compare with the registry's /api/v1/log/public-keys, or pass --vkey)")
            except (KeyError, TypeError, binascii.Error, ValueError):
                self.fail("a bundled public key is malformed")
        return keys

    # 2 and 3: checkpoint, bodies, proofs
    def entries(self, bundle: dict, keys) -> None:
        signed = verify_note(bundle["checkpoint"], keys, "checkpoint")
        origin, size, root = parse_checkpoint(signed)
        if origin != bundle["origin"]:
            self.fail(f"the checkpoint's origin {origin!r} is not the bundle's {bundle['origin']!r}")
        if size != bundle["tree_size"] or root.hex() != bundle["root_hash"]:
            self.fail("tree_size / root_hash do not match the signed checkpoint")
        h = hash_function(origin)
        for n, e in enumerate(bundle["entries"]):
            where = f"entry {e.get('index', n)}"
            try:
                body = base64.b64decode(e["body"], validate=True)
            except (binascii.Error, ValueError):
                self.fail(f"{where}: the body is not base64")
                continue
            leaf = h(b"\x00" + body)
            if leaf.hex() != e["leaf_hash"]:
                self.fail(f"{where}: the body does not hash to its leaf hash (body or hash altered)")
                continue
            try:
                proof = [bytes.fromhex(p) for p in e["proof"]]
                verify_inclusion(h, e["index"], size, leaf, proof, root)
            except (Failed, ValueError) as err:
                self.fail(f"{where}: {err}")
                continue
            self.tlog(where, e, proof, bundle["checkpoint"])
            try:
                parsed = json.loads(body)
            except ValueError:
                self.fail(f"{where}: the body is not JSON")
                continue
            if parsed.get("event_id") != e.get("event_id") or parsed.get("kind") != e.get("kind"):
                self.fail(f"{where}: event_id/kind differ from its body")
            if e["index"] in self.bodies:
                self.fail(f"{where}: listed twice")
            self.bodies[e["index"]] = parsed
            self.leaves[e["index"]] = e["leaf_hash"]

    def tlog(self, where: str, e: dict, proof: list[bytes], checkpoint: str) -> None:
        text = e.get("tlog_proof", "")
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or lines[0] != TLOG_PROOF_HEADER:
            self.fail(f"{where}: tlog_proof is not a {TLOG_PROOF_HEADER} text")
            return
        rest = lines[1:]
        if rest and rest[0].startswith("extra "):
            rest = rest[1:]
        if not rest or rest[0] != f"index {e['index']}":
            self.fail(f"{where}: tlog_proof names another index")
            return
        try:
            hashes = [base64.b64decode(x, validate=True) for x in rest[1:]]
        except (binascii.Error, ValueError):
            self.fail(f"{where}: tlog_proof hashes are not base64")
            return
        if hashes != proof or note != checkpoint:
            self.fail(f"{where}: tlog_proof differs from the proof and checkpoint")

    # 4: chains
    def chains(self, bundle: dict) -> None:
        touching: dict[str, list[int]] = {}
        for i, body in self.bodies.items():
            for s, p in (body.get("prev") or {}).items():
                touching.setdefault(s, []).append(i)
                if p is not None and (not isinstance(p, int) or p >= i):
                    self.fail(f"entry {i}: its prev link for {s} ({p}) does not point back in the log")
                elif p in self.bodies and s not in (self.bodies[p].get("prev") or {}):
                    self.fail(f"entry {i}: its prev link for {s} points to entry {p}, which is not on {s}'s chain")
        for s, idxs in bundle["chains"].items():
            if idxs != sorted(idxs):
                self.fail(f"chain {s}: not in log order")
            missing = [i for i in idxs if i not in self.bodies]
            if missing:
                self.fail(f"chain {s}: entries {missing} are not in the bundle")
                continue
            if sorted(touching.get(s, [])) != sorted(idxs):
                self.fail(f"chain {s}: the bundle holds other entries on it ({sorted(set(touching.get(s, [])) - set(idxs))})")
            prev = None
            for i in idxs:
                link = (self.bodies[i].get("prev") or {}).get(s, "absent")
                if link != prev:
                    self.fail(f"chain {s}: entry {i} links back to {link}, but the previous event is {prev} (order broken)")
                prev = i

    def body(self, index, what: str, kind: str | tuple | None = None) -> dict | None:
        body = self.bodies.get(index)
        if body is None:
            self.fail(f"{what}: rests on entry {index}, which is not in the bundle")
            return None
        kinds = (kind,) if isinstance(kind, str) else kind
        if kinds and body.get("kind") not in kinds:
            self.fail(f"{what}: entry {index} is a {body.get('kind')} event, not {'/'.join(kinds)}")
            return None
        return body

    def same(self, what: str, shown, recorded) -> None:
        if shown != recorded:
            self.fail(f"{what}: the report shows {shown!r} but the bundled event records {recorded!r}")

    # 5: the report's data
    def report(self, bundle: dict) -> None:
        r = bundle["report"]
        orgs = r["organisations"]
        for oid, o in orgs.items():
            b = self.body(o["index"], f"organisation {o.get('name')!r}", "register_organisation")
            if b:
                d = b["data"]
                for k in ("id", "name", "kind", "license_no", "region"):
                    self.same(f"organisation {oid} {k}", o[k], d.get(k))
                self.same(f"organisation key {oid}", oid, d.get("id"))

        def walk(value, path):
            if isinstance(value, dict):
                if set(value) == {"id", "name", "kind"}:
                    o = orgs.get(value["id"])
                    if o is None:
                        self.fail(f"{path}: names organisation {value['name']!r} ({value['id']}) that no bundled event registers")
                    elif (o["name"], o["kind"]) != (value["name"], value["kind"]):
                        self.fail(f"{path}: shows organisation {value['name']!r} ({value['kind']}) but its registration says "
                                  f"{o['name']!r} ({o['kind']})")
                    return
                for k, v in value.items():
                    walk(v, f"{path}.{k}")
            elif isinstance(value, list):
                for n, v in enumerate(value):
                    walk(v, f"{path}[{n}]")

        walk(r, "report")
        models = r["models"]
        for m, x in models.items():
            b = self.body(x["index"], f"model {m}", "model")
            if b:
                d = b["data"]
                self.same(f"model {m}", m, d.get("model"))
                self.same(f"model {m} kind", x["kind"], d.get("kind"))
                self.same(f"model {m} maker", (x.get("maker") or {}).get("id"), d.get("maker"))
                self.same(f"model {m} certificate", x.get("certificate"), d.get("certificate"))
        certs = r["certificates"]
        for n, c in certs.items():
            b = self.body(c["index"], f"certificate {n}", "certificate")
            if b:
                d = b["data"]
                self.same(f"certificate {n}", n, d.get("number"))
                for k in ("product_kind", "issued_on", "expires_on"):
                    self.same(f"certificate {n} {k}", c[k], d.get(k))
                self.same(f"certificate {n} holder", (c.get("holder") or {}).get("id"), d.get("holder"))
            chain = bundle["chains"].get(f"certificate:{n}")
            if chain is None:
                self.fail(f"certificate {n}: its chain is not in the bundle, so its status is unproven")
                continue
            voided = self.voided()
            status, at = None, None
            for i in chain:
                e = self.bodies.get(i) or {}
                if i in voided:
                    continue
                if e.get("kind") == "certificate":
                    status, at = "valid", i
                elif e.get("kind") == "certificate_status":
                    status, at = e["data"].get("status"), i
            self.same(f"certificate {n} status", c["status"], status)
        subjects = r["subjects"]
        for s, x in subjects.items():
            self.item(s, x, bundle, models, certs)
        for key in ("vehicles", "batteries", "chargers"):
            for s in r["set"][key]:
                if s not in subjects:
                    self.fail(f"set: {s} is not described")
        if r["query"]["subject"] not in subjects:
            self.fail("query: the queried item is not in the set")
        self.steps(r, subjects)

    def voided(self) -> set[int]:
        return {b["data"].get("corrected_index") for b in self.bodies.values()
                if b.get("kind") == "correction" and b["data"].get("reason") == "did_not_occur"}

    def item(self, s: str, x: dict, bundle: dict, models: dict, certs: dict) -> None:
        chain = bundle["chains"].get(s)
        if chain is None:
            self.fail(f"{s}: its chain is not in the bundle")
            return
        state = None
        for i in chain:
            b = self.bodies.get(i)
            if b is None:
                return
            d = b.get("data") or {}
            if b.get("kind") == "commission" and f"{d.get('kind')}:{d.get('identifier')}" == s:
                state = {"kind": d.get("kind"), "identifier": d.get("identifier"), "model": d.get("model"),
                         "maker_org_id": b.get("org"), "produced_on": d.get("produced_on"), "batch": d.get("batch"),
                         "code": d.get("payload")}
            effects = d.get("effects") or {}
            if s in effects:
                state = None if effects[s] is None else {**(state or {}), **effects[s]}
        if state is None:
            self.fail(f"{s}: no bundled event creates it")
            return
        for k in ("kind", "identifier", "model", "produced_on", "batch", "code"):
            self.same(f"{s} {k}", x.get(k), state.get(k))
        self.same(f"{s} maker", (x.get("maker") or {}).get("id"), state.get("maker_org_id"))
        model = models.get(x.get("model")) if x.get("model") else None
        if x.get("model") and model is None:
            self.fail(f"{s}: its model {x.get('model')} is not proven")
        if model and x.get("specs") is not None:
            mb = self.bodies.get(model["index"]) or {}
            self.same(f"{s} specs", x["specs"], (mb.get("data") or {}).get("specs"))
        cert = x.get("certificate")
        if cert:
            proven = certs.get(cert["number"])
            if proven is None:
                self.fail(f"{s}: certificate {cert['number']} is not proven")
            else:
                for k in ("status", "issued_on", "expires_on"):
                    self.same(f"{s} certificate {k}", cert[k], proven[k])
                if model:
                    self.same(f"{s} certificate", cert["number"], model.get("certificate"))
        for inst in x.get("installations") or []:
            b = self.body(inst["installed_index"], f"{s} installation", None)
            if b and ((b.get("data") or {}).get("effects") or {}).get(s, {}).get("installed_in") != inst["vehicle"]:
                self.fail(f"{s}: entry {inst['installed_index']} does not install it in {inst['vehicle']}")

    def steps(self, r: dict, subjects: dict) -> None:
        voided = self.voided()
        for e in r["timeline"]:
            what = f"timeline step {e['index']}"
            b = self.body(e["index"], what)
            if not b:
                continue
            for k in ("event_id", "kind", "occurred_at", "recorded_at", "user"):
                self.same(f"{what} {k}", e.get(k), b.get(k))
            self.same(f"{what} org", (e.get("org") or {}).get("id"), b.get("org"))
            self.same(f"{what} subjects", e.get("subjects"), sorted(b.get("prev") or {}))
            self.same(f"{what} data", e.get("data"), {k: v for k, v in (b.get("data") or {}).items() if k != "effects"})
            self.same(f"{what} voided", bool(e.get("voided")), e["index"] in voided)
            self.same(f"{what} leaf hash", e.get("leaf_hash"), self.leaves.get(e["index"]))
        for x in r["sales"]:
            b = self.body(x["index"], f"sale {x['index']}", "sell")
            if b:
                self.same(f"sale {x['index']} dealer", (x.get("dealer") or {}).get("id"), b.get("org"))
                self.same(f"sale {x['index']} time", x["sold_at"], b.get("occurred_at"))
                if x.get("vehicle") not in (b.get("prev") or {}):
                    self.fail(f"sale {x['index']}: does not touch {x.get('vehicle')}")
                self.same(f"sale {x['index']} buyer", (x.get("buyer") or {}).get("pseudonym"),
                          (b["data"].get("buyer") or "owner:")[6:] or None)
                self.same(f"sale {x['index']} buying organisation", (x.get("buyer_org") or {}).get("id"), b["data"].get("buyer_org"))
        for x in r["registrations"]:
            b = self.body(x["index"], f"registration {x['index']}", x["kind"])
            if b:
                d = b["data"]
                self.same(f"registration {x['index']} org", (x.get("org") or {}).get("id"), b.get("org"))
                self.same(f"registration {x['index']} time", x["occurred_at"], b.get("occurred_at"))
                self.same(f"registration {x['index']} plate", x.get("plate"), d.get("plate"))
                owner = d.get("owner") or d.get("to")
                if x.get("owner") is not None:
                    self.same(f"registration {x['index']} owner", x["owner"].get("pseudonym"), (owner or "owner:")[6:] or None)
                if x.get("vehicle") not in (b.get("prev") or {}):
                    self.fail(f"registration {x['index']}: does not touch {x.get('vehicle')}")
        for x in r["incidents"]:
            b = self.body(x["index"], f"incident {x['index']}", "report_incident")
            if b:
                d = b["data"]
                for k in ("incident_type", "region", "address", "state", "casualties", "case_number", "scene_identifiers", "photos"):
                    self.same(f"incident {x['index']} {k}", x.get(k), d.get(k))
                self.same(f"incident {x['index']} escalated", x.get("escalated"), bool(d.get("escalated")))
                self.same(f"incident {x['index']} time", x.get("occurred_at"), b.get("occurred_at"))
        for x in r.get("recalls", []):
            b = self.body(x["index"], f"recall {x['id']}", "recall")
            if b:
                d = b["data"]
                self.same(f"recall {x['id']}", x["id"], d.get("recall"))
                for k in ("reason", "model", "batch", "certificate", "produced_from", "produced_to"):
                    self.same(f"recall {x['id']} {k}", x.get(k), d.get(k))
        for p in r["parties"]:
            for i in p["events"]:
                b = self.body(i, f"party {p['org']['name']}")
                if b and b.get("org") != p["org"]["id"]:
                    self.fail(f"party {p['org']['name']}: entry {i} was recorded by another organisation")
        for f in r["flags"]:
            if f.get("index") is not None and f["index"] not in self.bodies:
                self.fail(f"flag {f['code']}: rests on entry {f['index']}, which is not in the bundle")
            if f.get("subject") and f["subject"].split(":", 1)[0] in ITEM_KINDS and f["subject"] not in subjects:
                self.fail(f"flag {f['code']}: names {f['subject']}, which is not in the set")
        pseudonyms = set()
        for b in self.bodies.values():
            for v in (b.get("data") or {}).values():
                if isinstance(v, str) and v.startswith("owner:"):
                    pseudonyms.add(v[6:])
        for o in r.get("owners", []):
            if o.get("pseudonym") not in pseudonyms:
                self.fail(f"owner {o.get('pseudonym')}: no bundled event names this person")
        self.notes.append("personal data (names, ID numbers) comes from the registry's vault: the log holds only "
                          "pseudonyms, which the bundled events match")

    # photos
    def photos(self, bundle: dict) -> None:
        named = {h for b in self.bodies.values() if b.get("kind") == "report_incident" for h in (b["data"].get("photos") or [])}
        for p in bundle.get("photos", []):
            try:
                data = self.zf.read(p["file"])
            except KeyError:
                self.fail(f"photo {p['sha256']}: {p['file']} is missing")
                continue
            if hashlib.sha256(data).hexdigest() != p["sha256"]:
                self.fail(f"photo {p['file']}: its content does not hash to {p['sha256']}")
            if p["sha256"] not in named:
                self.fail(f"photo {p['sha256']}: no bundled incident names it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a yima traceback evidence bundle offline.")
    parser.add_argument("bundle", help="the bundle (.zip)")
    parser.add_argument("--vkey", action="append", default=[],
                        help="trust only this C2SP vkey (from the registry's /api/v1/log/public-keys); repeatable")
    args = parser.parse_args(argv)
    try:
        with zipfile.ZipFile(args.bundle) as zf:
            v = Verifier(zf, args.vkey)
            v.run()
    except (zipfile.BadZipFile, OSError) as err:
        print(f"FAIL: cannot read {args.bundle}: {err}")
        return 1
    except Failed as err:
        print(f"FAIL: {err}")
        return 1
    for note in v.notes:
        print(f"note: {note}")
    if v.failures:
        for f in v.failures:
            print(f"FAIL: {f}")
        print(f"NOT VERIFIED: {len(v.failures)} problem(s) in {args.bundle}")
        return 1
    print(f"VERIFIED: {len(v.bodies)} events proven against the signed checkpoint; chains in order; "
          "every name in the report backed by a bundled event; bundle.json and report.pdf as signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
