"""Several regional logs side by side: the directory of regions and proofs from one log to another.

One running registry is one log (API.md "Configuration"); a region runs its own,
with its own origin, tree and signing key.  A vehicle that moves from one region
to another leaves the first log by a ``deregister`` naming the other log's origin
(``to_origin``), and enters the second by a ``transfer_in`` naming the first log's
origin and the index of that deregistration.  The second registry does not take
the first one's word for it: it reads the entry, recomputes its leaf hash, checks
an inclusion proof against the first log's latest checkpoint and that
checkpoint's signature by a key the *directory* lists for that origin, and
records which checkpoint it checked against, so anyone can check it again.

The directory is a JSON file (``REGISTRY_REGIONS``)::

    {"regions": [{"name": "zj", "public_url": "https://zj.example/", "database_url": "postgresql://…",
                  "instance": "/srv/zj", "hash": "sha256", "public_keys": ["<hex>", …]}, …]}

Here a peer's log is read from its database (the regions of one province-sized
deployment may share a PostgreSQL server, one schema each); across the country
the same checks run on what the peer's public API serves (``/log/entries``,
``/log/proof/inclusion``, ``/log/checkpoint``).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from registry.config import log_origin
from registry.ledger import ProofError
from registry.ledger.checkpoint import CheckpointError, key_hash, parse_checkpoint, verify_checkpoint
from registry.ledger.hashing import hasher_for
from registry.ledger.tree import verify_inclusion


@dataclass(frozen=True)
class Region:
    """One regional registry: where its log is and which keys sign its checkpoints."""

    name: str
    public_url: str
    database_url: str
    instance: str
    hash: str = "sha256"
    public_keys: tuple[bytes, ...] = ()
    log_origin: str = ""

    @property
    def origin(self) -> str:
        return log_origin(self.public_url.rstrip("/"), self.log_origin, self.hash)

    def key_ids(self) -> dict[str, bytes]:
        """Key id (as codes and checkpoints name it) -> public key, for every key the directory lists."""
        return {key_hash(self.origin, k).hex(): k for k in self.public_keys}

    def config(self) -> dict[str, Any]:
        """The registry settings of this region (as ``registry.config.from_environment`` returns)."""
        instance = Path(self.instance)
        return {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": self.database_url,
            "PUBLIC_URL": self.public_url.rstrip("/"),
            "LOG_ORIGIN": self.log_origin,
            "HASH": self.hash,
            "SIGNING_KEY": str(instance / "keys" / "signing.pem"),
            "SECRET_KEY": "",
            "TOKEN_TTL_SECONDS": 12 * 3600,
        }

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "public_url": self.public_url, "database_url": self.database_url,
               "instance": self.instance, "hash": self.hash, "public_keys": [k.hex() for k in self.public_keys]}
        if self.log_origin:
            out["log_origin"] = self.log_origin
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Region:
        return cls(name=d["name"], public_url=d["public_url"], database_url=d["database_url"], instance=d["instance"],
                   hash=d.get("hash", "sha256"), public_keys=tuple(bytes.fromhex(k) for k in d.get("public_keys", ())),
                   log_origin=d.get("log_origin", ""))


@dataclass
class Directory:
    """Every region of the deployment, by name and by log origin."""

    regions: list[Region] = field(default_factory=list)
    #: The national index's database (registry.national), if the deployment keeps one.
    index_url: str = ""

    def by_origin(self, origin: str) -> Region | None:
        return next((r for r in self.regions if r.origin == origin), None)

    def by_name(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)

    @classmethod
    def load(cls, path: str | Path) -> Directory:
        data = json.loads(Path(path).read_text())
        return cls([Region.from_json(d) for d in data["regions"]], data.get("index_url", ""))

    def save(self, path: str | Path) -> None:
        data = {"regions": [r.to_json() for r in self.regions]}
        if self.index_url:
            data["index_url"] = self.index_url
        Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False))


class NotProven(Exception):
    """A peer's entry could not be proven: why, in both languages."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


class Unreachable(NotProven):
    """The other region's log could not be read (not a finding about it: try again later)."""


@dataclass(frozen=True)
class ProvenEntry:
    """An entry of another region's log, with what proves it."""

    origin: str
    index: int
    body: dict
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    checkpoint: str

    def pointer(self) -> dict[str, Any]:
        """What a log records about it: enough for anyone to fetch and check it again."""
        return {"origin": self.origin, "index": self.index, "leaf_hash": self.leaf_hash.hex(),
                "tree_size": self.tree_size, "root_hash": self.root_hash.hex()}


def _http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET *url*: (status, body). Network failures raise OSError."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Peers:
    """The other regions' logs, as one registry sees them (opened on first use, one engine each)."""

    def __init__(self, directory: Directory, own_origin: str):
        self.directory = directory
        self.own_origin = own_origin
        self._open: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._index = None
        self._opened: set[str] = set()  # origins whose Registry was opened here (disposed by dispose())

    @property
    def index(self):
        """The national index (registry.national), or None where the directory names none."""
        if self._index is None and self.directory.index_url:
            from registry.national import NationalIndex

            with self._lock:
                if self._index is None:
                    self._index = NationalIndex(self.directory.index_url)
        return self._index

    def knows(self, origin: str) -> bool:
        return origin != self.own_origin and self.directory.by_origin(origin) is not None

    def remote(self, origin: str) -> bool:
        """Whether *origin*'s log is reached only through its public API (the directory names no database)."""
        region = self.directory.by_origin(origin)
        return region is not None and not region.database_url and origin not in self._open

    #: ``get(url) -> (status, body bytes)`` for regions reached over HTTP (replaceable: tests, proxies).
    http_get = staticmethod(_http_get)

    def dispose(self) -> None:
        """Close the national index's connections and those of the registries opened here (not attached)."""
        with self._lock:
            if self._index is not None:
                self._index.dispose()
                self._index = None
            for origin in [o for o, r in self._open.items() if o in self._opened]:
                self._open.pop(origin).db.dispose()
            self._opened.clear()

    def key_ids(self) -> dict[str, bytes]:
        """Key id -> public key of every other region's keys (their codes are genuine here)."""
        return {kid: key for r in self.directory.regions if r.origin != self.own_origin for kid, key in r.key_ids().items()}

    def registry(self, origin: str):
        """The Registry of another region (for reading its log)."""
        from registry.runtime import Registry

        region = self.directory.by_origin(origin)
        if region is None or origin == self.own_origin or self.remote(origin):
            raise KeyError(origin)
        with self._lock:
            if origin not in self._open:
                self._open[origin] = Registry(region.config())
                self._opened.add(origin)
            return self._open[origin]

    def attach(self, origin: str, registry) -> None:
        """Use an already open Registry for *origin* (several regions served by one process)."""
        with self._lock:
            self._open[origin] = registry

    def latest_on(self, origin: str, subject: str) -> int | None:
        """The index of *subject*'s latest entry in *origin*'s log (None: the log has none).

        Only a hint of where to look: what is found there is proven like any entry."""
        try:
            with self.registry(origin).reading() as uow:
                head = uow.log.chain_heads([subject]).get(subject)
        except SQLAlchemyError as exc:
            raise Unreachable(f"{origin} 的日志暂时无法读取", f"{origin}'s log cannot be read now") from exc
        return head[1] if head else None

    def prove(self, origin: str, index: int) -> ProvenEntry:
        """Return entry *index* of *origin*'s log, proven against its latest signed checkpoint; raise NotProven."""
        region = self.directory.by_origin(origin)
        if region is None or origin == self.own_origin:
            raise KeyError(origin)
        if self.remote(origin):
            return self._prove_over_http(region, index)
        try:
            return self._prove(region, origin, index)
        except SQLAlchemyError as exc:  # the other region's database is down or unreachable
            raise Unreachable(f"{origin} 的日志暂时无法读取", f"{origin}'s log cannot be read now") from exc

    def _prove_over_http(self, region: Region, index: int) -> ProvenEntry:
        """The same checks on what the region's public log API serves: checkpoint, entry, inclusion proof."""
        base = region.public_url.rstrip("/") + "/api/v1/log"

        def get(path: str, missing: bool = False) -> bytes | None:
            try:
                status, body = self.http_get(base + path)
            except OSError as exc:  # refused, reset, timed out, no route
                raise Unreachable(f"{region.origin} 的公开日志接口暂时无法访问", f"{region.origin}'s public log cannot be reached now") from exc
            if status == 404 and missing:
                return None
            if status != 200:
                raise Unreachable(f"{region.origin} 的公开日志接口答复 {status}", f"{region.origin}'s public log answered {status}")
            return body

        try:
            note = get("/checkpoint").decode("utf-8")
            size = parse_checkpoint(note)[0].size  # verified below, with the directory's keys
            served = get(f"/entries/{index}", missing=True) if index < size else None
            if served is None:
                raise NotProven(f"{region.origin} 的日志中没有已签名的第 {index} 条记录",
                                f"{region.origin}'s log has no signed entry {index}")
            body = base64.b64decode(json.loads(served)["body"], validate=True)
            proof = [bytes.fromhex(h) for h in json.loads(get(f"/proofs/inclusion?index={index}&tree_size={size}"))["proof"]]
        except (ValueError, KeyError, TypeError, CheckpointError, binascii.Error) as exc:
            raise NotProven(f"{region.origin} 的公开日志接口答复无法读取", f"{region.origin}'s public log served something unreadable") from exc
        return _check(region, note, index, body, proof)

    def _prove(self, region: Region, origin: str, index: int) -> ProvenEntry:
        peer = self.registry(origin)
        with peer.reading() as uow:
            latest = uow.log.latest_checkpoint()
            entry = uow.log.entry(index)
            if latest is None or entry is None or index >= latest.tree_size:
                raise NotProven(f"{origin} 的日志中没有已签名的第 {index} 条记录",
                                f"{origin}'s log has no signed entry {index}")
            note, size = latest.note, latest.tree_size
            body_bytes = bytes(entry.body)
            _, proof, _ = uow.log.inclusion_proof(index, size)
        return _check(region, note, index, body_bytes, proof)


def _check(region: Region, note: str, index: int, body_bytes: bytes, proof: list[bytes]) -> ProvenEntry:
    """Check what a peer served against the directory's keys for it; nothing is taken on trust."""
    hasher = hasher_for(region.hash)
    try:
        checkpoint = verify_checkpoint(note, [(region.origin, key) for key in region.public_keys])
    except CheckpointError as exc:
        raise NotProven(f"{region.origin} 的检查点签名无效：{exc}", f"{region.origin}'s checkpoint does not verify: {exc}") from exc
    if checkpoint.origin != region.origin:
        raise NotProven("检查点来源不符", f"the checkpoint is of {checkpoint.origin}, not {region.origin}")
    leaf = hasher.leaf(body_bytes)
    try:
        verify_inclusion(hasher, index, checkpoint.size, leaf, proof, checkpoint.root_hash)
    except ProofError as exc:
        raise NotProven(f"第 {index} 条记录的包含证明无效", f"entry {index} is not proven in the checkpoint: {exc}") from exc
    try:
        body = json.loads(body_bytes)
    except ValueError as exc:
        raise NotProven("记录内容无法读取", "the entry's body is not JSON") from exc
    return ProvenEntry(region.origin, index, body, leaf, checkpoint.size, checkpoint.root_hash, note)


def region_of(name: str, registry) -> Region:
    """The directory's entry for a running registry (its keys as its key ring lists them)."""
    config = registry.config
    return Region(
        name=name, public_url=registry.public_url, database_url=config["DATABASE_URL"],
        instance=str(registry.instance_path), hash=config["HASH"], log_origin=config.get("LOG_ORIGIN") or "",
        public_keys=tuple(bytes.fromhex(k["public_key"]) for k in registry.keys.public_keys()),
    )


def attach_each_other(registries) -> None:
    """Let registries open in this process read each other's logs with the engines they have."""
    registries = list(registries)
    for registry in registries:
        for other in registries:
            if other is not registry:
                registry.peers.attach(other.origin, other)


def connect(registries: dict) -> Directory:
    """Make running registries (name -> Registry) peers of each other; return their directory."""
    directory = Directory([region_of(name, r) for name, r in registries.items()])
    for registry in registries.values():
        registry.peers = Peers(directory, registry.origin)
    attach_each_other(registries.values())
    return directory


# --------------------------------------------------------------------------
# Several regions in one deployment: one database (a schema each), one server


def schema_url(database_url: str, schema: str) -> str:
    """The URL of *schema* in a PostgreSQL database: every connection's search_path is that schema.

    The registry's statements name tables without a schema (the ORM's and its own SQL
    alike), so a region's tables, triggers and migration version all live in its schema.
    """
    from sqlalchemy.engine import make_url

    from registry.config import normalise_database_url

    if not schema.replace("_", "").isalnum():
        raise ValueError(f"not a schema name: {schema!r}")
    url = make_url(normalise_database_url(database_url))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def init_regions(names: list[str], *, database_url: str, public_url: str, folder: str | Path,
                 hash_name: str = "sha256") -> Directory:
    """Create (or open) the regions *names*: databases migrated, keys made, the directory written.

    PostgreSQL: one database, one schema per region (``region_<name>``). SQLite: one file per
    region in *folder* (a SQLite file is one database). Region *n* is served under
    ``<public_url>/<name>`` with the origin ``<host>/<name>/log``.
    """
    from sqlalchemy import create_engine, text
    from urllib.parse import urlsplit

    from registry.cli import upgrade
    from registry.config import normalise_database_url
    from registry.keys import KeyRing

    def schema(name: str) -> str:
        engine = create_engine(normalise_database_url(database_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
        engine.dispose()
        return schema_url(database_url, name)

    on_sqlite = not database_url or database_url.startswith("sqlite")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = public_url.rstrip("/")
    host = urlsplit(base).netloc + urlsplit(base).path
    regions = []
    for name in names:
        if on_sqlite:
            url = f"sqlite:///{folder / name / 'registry.db'}"
            (folder / name).mkdir(parents=True, exist_ok=True)
        else:
            url = schema(f"region_{name}")
        upgrade(url)
        region = Region(name=name, public_url=f"{base}/{name}", database_url=url, instance=str(folder / name),
                        hash=hash_name, log_origin=f"{host}/{name}/log" + ("/sm3" if hash_name == "sm3" else ""))
        keys = KeyRing(Path(region.instance) / "keys" / "signing.pem", region.origin)
        regions.append(Region(**{**region.__dict__, "public_keys": tuple(bytes.fromhex(k["public_key"]) for k in keys.public_keys())}))
    index_url = f"sqlite:///{(folder / 'national.db').resolve()}" if on_sqlite else schema("national")
    directory = Directory(regions, index_url)
    directory.save(folder / "regions.json")
    return directory


def create_regions_app(path: str | None = None):
    """One WSGI app serving every region of the directory at *path* (default ``REGISTRY_REGIONS``).

    Each region is a whole registry (the same API) under ``/<name>/``; ``/`` lists the
    regions. The registries see each other as peers through the directory's keys, reading
    each other's logs with the engines already open.
    """
    import os

    from flask import Flask, jsonify
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from registry import create_app

    path = path or os.environ.get("REGISTRY_REGIONS", "")
    if not path:
        raise SystemExit("create_regions_app: set REGISTRY_REGIONS to the directory file (regions.json)")
    directory = Directory.load(path)
    apps = {}
    for region in directory.regions:
        apps[region.name] = create_app({**region.config(), "REGIONS": str(path)})
    attach_each_other(app.extensions["registry"] for app in apps.values())

    index = Flask("registry.regions")

    @index.get("/")
    def regions():
        return jsonify({"regions": [{"name": r.name, "origin": r.origin, "api": f"{r.public_url}/api/v1",
                                     "checkpoint": f"{r.public_url}/api/v1/log/checkpoint",
                                     "public_keys": [k.hex() for k in r.public_keys]} for r in directory.regions]})

    return DispatcherMiddleware(index, {f"/{name}": app for name, app in apps.items()})


def sync_index(directory: Directory, registries: dict | None = None) -> dict[str, int]:
    """Bring the national index up to every region's log; return the rows added per region."""
    from registry.national import NationalIndex
    from registry.runtime import Registry

    if not directory.index_url:
        raise SystemExit("the directory names no national index (index_url)")
    index = NationalIndex(directory.index_url)
    added = {}
    try:
        for region in directory.regions:
            registry = (registries or {}).get(region.origin)
            own = registry is None
            if own:
                registry = Registry(region.config())
            try:
                added[region.name] = index.sync(region.origin, registry)
            finally:
                if own:
                    registry.db.dispose()
    finally:
        index.dispose()
    return added


def main(argv=None) -> int:
    """``python -m registry.regions init zj,js,ah [--database-url URL] [--public-url URL] [--folder DIR]``."""
    import argparse
    import os

    ap = argparse.ArgumentParser(prog="python -m registry.regions", description="Several regional logs in one deployment.")
    sub = ap.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create or open the regions (migrated, keys made) and write regions.json")
    init.add_argument("names", help="region names, comma-separated (zj,js,ah)")
    init.add_argument("--database-url", default=os.environ.get("REGISTRY_DATABASE_URL", ""),
                      help="PostgreSQL: one database, a schema per region (default: a SQLite file each)")
    init.add_argument("--public-url", default=os.environ.get("REGISTRY_PUBLIC_URL", "http://127.0.0.1:8000"))
    init.add_argument("--folder", default=os.path.join(os.environ.get("REGISTRY_INSTANCE", "instance"), "regions"))
    init.add_argument("--hash", default=os.environ.get("REGISTRY_HASH", "sha256"), choices=("sha256", "sm3"))
    index = sub.add_parser("index", help="bring the national index up to every region's log (run it from a timer)")
    index.add_argument("--regions", default=os.environ.get("REGISTRY_REGIONS", ""), help="regions.json")
    args = ap.parse_args(argv)
    if args.command == "index":
        if not args.regions:
            ap.error("give --regions or set REGISTRY_REGIONS")
        import time

        started = time.perf_counter()
        added = sync_index(Directory.load(args.regions))
        seconds = time.perf_counter() - started
        print(json.dumps({"added": added, "seconds": round(seconds, 2),
                          "rows_per_s": round(sum(added.values()) / seconds) if seconds else None}))
        return 0
    names = [n.strip() for n in args.names.split(",") if n.strip()]
    directory = init_regions(names, database_url=args.database_url, public_url=args.public_url, folder=args.folder,
                             hash_name=args.hash)
    path = Path(args.folder) / "regions.json"
    for r in directory.regions:
        print(f"{r.name}\t{r.origin}\t{r.public_url}/api/v1")
    print(f"directory: {path.resolve()} (REGISTRY_REGIONS)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
