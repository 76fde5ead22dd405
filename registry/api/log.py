"""The public log (no token): checkpoint, keys, entries, inclusion and consistency proofs."""

from __future__ import annotations

import base64
import threading

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import DBAPIError

from registry.api.context import registry
from registry.domain.errors import DomainError, not_found
from registry.ledger.checkpoint import vkey
from registry.store.log import BeyondHead
from schemas.log import (
    ConsistencyProof,
    ConsistencyQuery,
    Entry,
    InclusionProof,
    InclusionQuery,
    PublicKeys,
)

blp = Blueprint("log", __name__, url_prefix="/api/v1/log", description="The public, verifiable event log")

_cache_lock = threading.Lock()
_cached: dict[str, tuple[int, str, str]] = {}  # origin -> (size, key_id, note)


def latest_checkpoint_note() -> str:
    """Return a signed checkpoint covering every committed entry (cached per size)."""
    reg = registry()
    with reg.reading() as uow:
        size = uow.log.size()
        hit = _cached.get(reg.origin)
        if hit and hit[0] == size and hit[1] == reg.keys.current.key_id:
            return hit[2]
        row = uow.log.latest_checkpoint()
    if row is None or row.tree_size != size or row.key_id != reg.keys.current.key_id:
        # The tree grew without a checkpoint (or the key rotated): sign one now.
        with reg.writing() as uow:
            row = uow.log.checkpoint()
            uow.commit()
    with _cache_lock:
        _cached[reg.origin] = (row.tree_size, row.key_id, row.note)
    return row.note


def out_of_range(what: str, zh: str) -> DomainError:
    return DomainError("out_of_range", zh, what, status=400)


def _within_log(name: str, size: int, log_size: int) -> None:
    if size > log_size:
        zh = "树大小" if name == "tree_size" else name
        raise out_of_range(f"{name} {size} is beyond the log ({log_size})", f"{zh} {size} 超出日志长度 {log_size}")


@blp.route("/checkpoint")
class LatestCheckpoint(MethodView):
    @blp.response(200, content_type="text/plain")
    def get(self):
        """Return the latest signed checkpoint (C2SP signed note)."""
        return Response(latest_checkpoint_note(), mimetype="text/plain", headers={"Cache-Control": "no-cache"})


@blp.route("/public-keys")
class Keys(MethodView):
    @blp.response(200, PublicKeys)
    def get(self):
        """Return every public key that ever signed checkpoints or codes."""
        reg = registry()
        keys = [
            {
                "key_id": k["key_id"],
                "algorithm": "ed25519",
                "public_key": base64.b64encode(bytes.fromhex(k["public_key"])).decode(),
                "name": k["name"],
                "vkey": vkey(k["name"], bytes.fromhex(k["public_key"])),
            }
            for k in reg.keys.public_keys()
        ]
        return {"keys": keys, "origin": reg.origin, "hash": reg.hasher.name}


def _statements(read):
    """Return ``read(uow)`` in a unit of work of single statements (no snapshot, no transaction on
    PostgreSQL). Its pool skips the pre-ping: a connection that had gone (a restarted server) fails
    its statement, the pool drops it, and the read runs once more on a fresh one. A read only reads,
    so running it again is safe."""
    reg = registry()
    try:
        with reg.reading(snapshot=False) as uow:
            return read(uow)
    except DBAPIError as error:
        if not reg.db.gone(error):
            raise
    with reg.reading(snapshot=False) as uow:
        return read(uow)


def _proof(size: int | None, *, name: str, small: int, strict: bool, prove):
    """A proof up to the tree of *size* (default: the whole log), its bounds checked as one read.

    *small* is the index or first size that must lie below (*strict*) or within *size*."""

    def read(uow):
        tree = size
        given = tree is not None
        if not given:
            tree = uow.log.size()
        beyond = small >= tree if strict else small > tree
        if given and beyond:  # both wrong: the tree beyond the log is named first
            _within_log(name, tree, uow.log.size())
        if beyond:
            if strict:
                raise out_of_range(f"index {small} is not below tree_size {tree}", f"索引 {small} 不在大小为 {tree} 的树中")
            raise out_of_range("first must not exceed second", "first 不能大于 second")
        try:
            return tree, prove(uow, tree, given)
        except BeyondHead as head:
            _within_log(name, tree, head.size)

    return _statements(read)


@blp.route("/entries/<int:index>")
class Entries(MethodView):
    @blp.response(200, Entry)
    def get(self, index):
        """Return one entry's canonical bytes and leaf hash."""

        def read(uow):
            row = uow.log.entry(index)
            if row is None:
                raise not_found("entry_not_found", f"日志中没有第 {index} 条", f"no entry {index} in the log")
            return {"index": row.idx, "leaf_hash": bytes(row.leaf_hash).hex(), "body": base64.b64encode(bytes(row.body)).decode()}

        return _statements(read)


@blp.route("/proofs/inclusion")
class Inclusion(MethodView):
    @blp.arguments(InclusionQuery, location="query")
    @blp.response(200, InclusionProof)
    def get(self, q):
        """Prove that entry `index` is in the tree of `tree_size` (default: the whole log)."""
        # no snapshot needed: the nodes of a tree the head covers never change. With tree_size
        # given, the head is read in the same statement as the nodes (one round trip).
        index = q["index"]
        tree_size, (leaf, proof, root) = _proof(
            q.get("tree_size"), name="tree_size", small=index, strict=True,
            prove=lambda uow, size, given: uow.log.inclusion_proof(index, size, check_head=given))
        return {"index": index, "tree_size": tree_size, "leaf_hash": leaf.hex(), "proof": [p.hex() for p in proof], "root_hash": root.hex()}


@blp.route("/proofs/consistency")
class Consistency(MethodView):
    @blp.arguments(ConsistencyQuery, location="query")
    @blp.response(200, ConsistencyProof)
    def get(self, q):
        """Prove that the tree of size `first` is a prefix of the tree of size `second`."""
        first = q["first"]
        second, (proof, r1, r2) = _proof(
            q.get("second"), name="second", small=first, strict=False,
            prove=lambda uow, size, given: uow.log.consistency_proof(first, size, check_head=given))
        return {"first": first, "second": second, "proof": [p.hex() for p in proof], "first_root": r1.hex(), "second_root": r2.hex()}
