"""A trace that crosses regions: an item's history in every regional log it passed through.

Each region traces the item in its own log (``registry.services.trace``); the logs
are joined by the moves between them: a ``deregister`` naming ``to_origin`` in the
log the vehicle left, a ``transfer_in`` naming that entry (``from``) in the log it
entered.  Every move in the answer is proven again here: the entry it points to is
read from the other log, its leaf hash recomputed and proven against that log's
latest checkpoint, signed by a key the directory lists (registry.regions).

Personal data does not cross: each region's part of the answer is masked (no
``case_number`` is passed on; an investigator asks the region concerned).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from registry.domain.errors import DomainError, invalid
from registry.domain.lifecycle import ITEM_KINDS, crosses_regions
from registry.domain.roles import Actor
from registry.regions import NotProven
from registry.services import trace
from registry.store.models import ChainLink, LogEntry
from registry.store.uow import UnitOfWork

_MOVE_KINDS = ("transfer_in", "deregister")


@dataclass(frozen=True)
class Move:
    """One move of an item between two logs, as one of the two logs records it."""

    vehicle: str
    from_origin: str
    from_index: int
    to_origin: str
    to_index: int | None  # None: seen from the log it left, not yet entered elsewhere
    pointer: dict | None = None  # the transfer_in's proven pointer (``from``)


def _moves(uow: UnitOfWork, subject: str, origin: str) -> list[Move]:
    """The moves in and out of this log on *subject*'s chain (one read of its links joined to the rare kinds)."""
    rows = uow.session.execute(
        select(LogEntry.idx, LogEntry.body)
        .join(ChainLink, ChainLink.idx == LogEntry.idx)
        .where(ChainLink.subject == subject, LogEntry.kind.in_(_MOVE_KINDS))
        .order_by(ChainLink.seq)
    ).all()
    out = []
    for idx, raw in rows:
        body = json.loads(bytes(raw))
        data = body["data"]
        vehicle = next((s for s in body["prev"] if s.startswith("vehicle:")), subject)
        if not crosses_regions(body["kind"], data):
            continue
        if body["kind"] == "transfer_in":
            p = data["from"]
            out.append(Move(vehicle, p["origin"], p["index"], origin, idx, p))
        else:
            out.append(Move(vehicle, origin, idx, data["to_origin"], None))
    return out


def _registry_at(home, origin: str):
    return home if origin == home.origin else home.peers.registry(origin)


def _subject_here(uow: UnitOfWork, q: str) -> str | None:
    try:
        item, _ = trace.resolve(uow, q)
    except DomainError as err:
        if err.status == 404:
            return None
        raise
    return item.subject


def _candidates(q: str) -> list[str]:
    """The subjects *q* may name, read from its text alone (a code's payload, ``kind:id``, an identifier)."""
    from registry.domain import identifiers as ids
    from registry.labels.codes import InvalidCode, decode_token
    from registry.services.items import code_token

    value = q.strip() if isinstance(q, str) else ""
    head, sep, rest = value.partition(":")
    if sep and head in ITEM_KINDS:
        return [value]
    token = code_token(value)
    if token is not None:
        try:
            decoded = decode_token(token)  # which item it names; its signature is checked where it is found
        except InvalidCode:
            return []
        return [f"{decoded.kind}:{decoded.identifier}"] if decoded.kind != "plate" else []
    out = []
    for kind in ITEM_KINDS:
        try:
            out.append(f"{kind}:{ids.item_identifier(kind, value, legacy=True, field='q')}")
        except ids.InvalidIdentifier:
            continue
    return out


def _indexed(home, q: str) -> list[str]:
    """The other regions the national index names for *q* (none without an index, or if it cannot be read)."""
    index = home.peers.index if home.peers is not None else None
    if index is None:
        return []
    try:
        found = index.lookup(_candidates(q))
    except SQLAlchemyError:  # the index is a convenience: without it, every region is asked
        return []
    named = [origin for rows in found.values() for origin, _ in rows]
    return list(dict.fromkeys(o for o in named if o != home.origin and home.peers.knows(o)))


def trace_across(home, actor: Actor, q: str, *, lang: str = "zh", limit: int = trace.PAGE) -> dict:
    """Trace *q* in this registry's log and in every region its item moved from or to.

    Where this log does not know *q*, the regions the national index names are asked first
    (registry.national), then the other regions of the directory in turn. Answer:
    ``{"subject", "regions": [{"origin", "trace"}] oldest first, "moves": [...]}``;
    each move says whether it was proven.
    """
    if home.peers is None:
        raise invalid({"q": [("本系统未配置其他地区", "this registry knows no other region")]})
    # regions reached only through their public API are not traced here (their trace needs their
    # own authorisation): their moves are proven over HTTP and they are named in "remote"
    origins = [home.origin] + [r.origin for r in home.peers.directory.regions
                               if r.origin != home.origin and not home.peers.remote(r.origin)]
    subject = start = None
    unreachable: list[str] = []
    remote: list[str] = []
    indexed = _indexed(home, q)
    if indexed:  # the national index names where to look first (then the rest, if it is behind)
        indexed = [o for o in indexed if o in origins]
        origins = [home.origin] + indexed + [o for o in origins if o != home.origin and o not in indexed]
    for origin in origins:
        try:
            with _registry_at(home, origin).reading() as uow:
                subject = _subject_here(uow, q)
        except SQLAlchemyError:
            if origin == home.origin:
                raise
            unreachable.append(origin)
            continue
        if subject is not None:
            start = origin
            break
    if subject is None:
        with home.reading() as uow:
            trace.resolve(uow, q)  # says why (404, or 422 for a malformed query)
    # On PostgreSQL a read is mostly a wait on the server: the regions' traces and proofs run at once
    # (phase 2). On SQLite a read is this process's own CPU: each region is traced in the unit of work
    # that found it, one after another (same-process A/B in docs/PERFORMANCE.md).
    waits = any(not _registry_at(home, o).db.is_sqlite for o in origins) or any(
        home.peers.remote(r.origin) for r in home.peers.directory.regions)
    traces: dict[str, dict | None] = {}

    # 1. where the item is, and its moves: a few primary-key reads per region, one region after another
    present: list[str] = []
    seen: set[str] = set()
    moves: dict[tuple[str, int], dict] = {}
    to_prove: list[tuple[str, Move]] = []
    pending = [start]
    while pending:
        origin = pending.pop()
        if origin in seen:
            continue
        seen.add(origin)
        if origin != home.origin and home.peers.remote(origin):
            remote.append(origin)
            continue
        try:
            with _registry_at(home, origin).reading() as uow:
                # (where it was found above is known; elsewhere it may have left for there, not arrived yet)
                if origin != start and _subject_here(uow, subject) is None:
                    continue
                found = _moves(uow, subject, origin)
                if not waits:
                    traces[origin] = trace.trace(uow, actor, subject, lang=lang, limit=limit)
        except SQLAlchemyError:  # that region's log cannot be read now: say so, answer with the rest
            if origin == home.origin:
                raise
            if origin not in unreachable:
                unreachable.append(origin)
            continue
        present.append(origin)
        for m in found:
            key = (m.from_origin, m.from_index)
            move = moves.setdefault(key, {"vehicle": m.vehicle, "from": {"origin": m.from_origin, "index": m.from_index},
                                          "to": {"origin": m.to_origin, "index": None}, "proven": False})
            if m.to_index is not None:
                move["to"]["index"] = m.to_index
                to_prove.append((origin, m))
            for other in (m.from_origin, m.to_origin):
                if other not in seen and (other == home.origin or home.peers.knows(other)):
                    pending.append(other)

    # 2. each region's trace and each move's proof at once: separate logs, separate connections
    def traced(origin: str):
        try:
            with _registry_at(home, origin).reading() as uow:
                return trace.trace(uow, actor, subject, lang=lang, limit=limit)
        except SQLAlchemyError:
            if origin == home.origin:
                raise
            return None

    run = (lambda fn, *a: _pool().submit(fn, *a)) if waits else (lambda fn, *a: _Done(fn(*a)))
    trace_jobs = {origin: run(traced, origin) for origin in present if origin not in traces}
    proofs = [(key_of(m), run(_prove, _registry_at(home, origin), m)) for origin, m in to_prove]
    traces.update({origin: job.result() for origin, job in trace_jobs.items()})
    for key, job in proofs:
        moves[key].update(job.result())
    unreachable += [o for o, t in traces.items() if t is None and o not in unreachable]
    traces = {o: t for o, t in traces.items() if t is not None}
    order = _in_order(start, moves, traces)
    return {"q": q, "subject": subject, "regions": [{"origin": o, "trace": traces[o]} for o in order],
            "unreachable": unreachable, "remote": remote,
            "moves": sorted(moves.values(), key=lambda m: order.index(m["from"]["origin"]) if m["from"]["origin"] in order else 0)}


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Threads for the regions' reads (each waits on its own database; created after a fork, on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="across")
        return _POOL


class _Done:
    """A result already there (the job ran in this thread)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def key_of(m: Move) -> tuple[str, int]:
    return (m.from_origin, m.from_index)


def _prove(registry, m: Move) -> dict:
    """Prove a transfer_in's pointer again, from the log it points to."""
    try:
        proven = registry.peers.prove(m.from_origin, m.from_index)
    except (NotProven, KeyError) as exc:
        return {"proven": False, "why": getattr(exc, "en", str(exc))}
    ok = proven.leaf_hash.hex() == m.pointer.get("leaf_hash")
    out = {"proven": ok, "leaf_hash": proven.leaf_hash.hex(), "checkpoint": {"tree_size": proven.tree_size,
                                                                            "root_hash": proven.root_hash.hex()}}
    if not ok:
        out["why"] = "the entry the move points to is not the one the other log holds"
    return out


def _in_order(start: str, moves: dict, traces: dict) -> list[str]:
    """The regions oldest first: follow the moves back from *start* to the first log, then forward."""
    back = {m["to"]["origin"]: m["from"]["origin"] for m in moves.values()}
    forward = {m["from"]["origin"]: m["to"]["origin"] for m in moves.values()}
    first, seen = start, {start}
    while back.get(first) in traces and back[first] not in seen:
        first = back[first]
        seen.add(first)
    order, at = [first], first
    while forward.get(at) in traces and forward[at] not in order:
        at = forward[at]
        order.append(at)
    return order + [o for o in traces if o not in order]
