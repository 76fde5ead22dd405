"""The append-only log: entries, stored subtree hashes, per-subject chains and checkpoints."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import bindparam, event as sa_event, func, insert, select, update
from sqlalchemy.orm import Session

from registry.ledger import Checkpoint, Frontier, Hasher, canonical_bytes
from registry.ledger.tree import (
    NodeKey,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    perfect_cover,
    resolve,
)
from registry.store.db import driver_rows
from registry.store.models import ChainLink, LogEntry, LogHead, LogNode, SignedCheckpoint

BODY_VERSION = 1

_SIZE = select(LogHead.tree_size).where(LogHead.id == 1)
# PostgreSQL: a row lock on the head. SQLite: the write transaction already
# holds the database lock (BEGIN IMMEDIATE).
_SIZE_LOCKED = _SIZE.with_for_update()
# Core inserts (executemany of plain rows): the ORM bulk path costs ~20 % of an append.
_INSERT_ENTRIES = insert(LogEntry.__table__)
_INSERT_NODES = insert(LogNode.__table__)
_INSERT_LINKS = insert(ChainLink.__table__)
# Core, not the ORM's bulk UPDATE (which walks the whole identity map to synchronise it).
_SET_SIZE = update(LogHead.__table__).where(LogHead.__table__.c.id == 1).values(tree_size=bindparam("size"))
# Each subject's latest link: the (subject, seq) unique index answers the max per subject.
_links, _later = ChainLink.__table__.alias("links"), ChainLink.__table__.alias("later")
_CHAIN_HEADS = select(_links.c.subject, _links.c.seq, _links.c.idx).where(
    _links.c.subject.in_(bindparam("subjects", expanding=True)),
    _links.c.seq == select(func.max(_later.c.seq)).where(_later.c.subject == _links.c.subject).scalar_subquery(),
)
# Proof reads, built once: building a statement per proof cost more than running it.
_LOG_MODELS = (LogEntry, LogNode, ChainLink, LogHead, SignedCheckpoint)


class BeyondHead(ProofError):
    """A proof asked for a tree larger than the log."""

    def __init__(self, size: int):
        super().__init__(f"the log holds {size} entries")
        self.size = size


def _nodes_sql(by_level: dict[int, list[int]], leaves: list[int]) -> str:
    """Stored hashes in one round trip: leaf hashes from entries (``idx IN …``) and, per level,
    ``level = n AND idx IN (…)`` OR-ed from nodes (SQLite plans a row-value IN as a full scan,
    while this form uses the primary key on both engines), as one UNION ALL.

    The indexes are the tree's own integers, written into the text (``int`` of each, so nothing
    else can reach it): binding an expanding IN costs more than the search itself at 10^7 entries."""
    parts = []
    if leaves:
        parts.append(f"SELECT 0 AS level, idx, leaf_hash AS hash FROM log_entries "
                     f"WHERE idx IN ({', '.join(str(int(i)) for i in leaves)})")
    if by_level:
        ors = " OR ".join(f"(level = {int(lv)} AND idx IN ({', '.join(str(int(i)) for i in ix)}))"
                          for lv, ix in sorted(by_level.items()))
        parts.append(f"SELECT level, idx, hash FROM log_nodes WHERE {ors}")
    return " UNION ALL ".join(parts)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    """Format a moment as RFC 3339 in UTC with milliseconds (``2026-11-23T10:00:00.000Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class NewEvent:
    """An event about to be appended: what happened, who did it, which chains it extends."""

    kind: str
    org: str | None
    user: str | None
    subjects: Sequence[str]
    data: dict
    occurred_at: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Appended:
    """An event as it was written: its index, leaf hash and canonical body."""

    index: int
    leaf_hash: bytes
    event_id: str
    recorded_at: str
    body: dict
    body_bytes: bytes


class CommittedFrontier:
    """The right edge of the last tree this process committed, shared by its units of work.

    The log is append-only, so the tree of a given size never changes once
    committed: an append that finds the head at that size under the lock starts
    from this frontier instead of reading the perfect cover's nodes. One
    reference swap per commit; readers take copies.
    """

    def __init__(self) -> None:
        self._value: Frontier | None = None

    def get(self, size: int) -> Frontier | None:
        value = self._value
        if value is None or value.size != size:
            return None
        return Frontier(value.hasher, value.size, list(value.stack))

    def put(self, frontier: Frontier | None) -> None:
        if frontier is not None:
            self._value = Frontier(frontier.hasher, frontier.size, list(frontier.stack))


class LogStore:
    """Reads and appends the log inside one session (the unit of work's transaction)."""

    def __init__(self, session: Session, hasher: Hasher, origin: str, signer=None,
                 committed: CommittedFrontier | None = None):
        self.session = session
        self.committed = committed
        self.hasher = hasher
        self.origin = origin
        self.signer = signer  # a callable returning the current SigningKey
        #: Sign a checkpoint at the end of every append (off in a batch: one at its end).
        self.sign_each = True
        # What the last append of this transaction left: the frontier and the chain
        # heads it knows. Reused by the next append only in the same transaction
        # (which holds the append lock) and at the same head size, so a rollback, a
        # commit or a failed append simply makes the next append read them again.
        self._tail: tuple[object, Frontier, dict[str, tuple[int, int | None]]] | None = None
        # The head as read when this transaction took the lock, until it appends.
        self._locked: tuple[object, int] | None = None
        #: In a batch: keep the rows of appends and write them in one go (executemany) when
        #: anything reads the log, when the batch seals its checkpoint, or before it commits.
        self.buffered = False
        self._pending: tuple[list, list, list] = ([], [], [])
        self._pending_size: int | None = None
        # The session's listeners, added by the first append: a unit of work that only reads
        # (a proof, a trace) needs neither, and adding them cost ≈ 0.1 ms a request.
        self._listening = False

    def _listen(self) -> None:
        if self._listening:
            return
        # Any rollback, a savepoint's included, may have undone appends: read again.
        sa_event.listen(self.session, "after_soft_rollback", self._forget)
        # An ORM read of the log first writes what a buffered append kept.
        sa_event.listen(self.session, "do_orm_execute", self._before_orm_read)
        self._listening = True

    def _forget(self, _session, previous) -> None:
        if self.buffered and previous.nested:
            return  # a buffered log refuses appends in savepoints: the rollback undid none
        self._tail = None
        self._pending, self._pending_size = ([], [], []), None

    def _before_orm_read(self, state) -> None:
        if self._pending_size is not None and any(m.class_ in _LOG_MODELS for m in state.all_mappers):
            self.write_pending()

    def write_pending(self) -> None:
        """Write the rows buffered appends kept (see ``buffered``)."""
        if self._pending_size is None:
            return
        (entries, nodes, links), size = self._pending, self._pending_size
        self._pending, self._pending_size = ([], [], []), None
        conn = self.session.connection()
        conn.execute(_INSERT_ENTRIES, entries)
        if nodes:
            conn.execute(_INSERT_NODES, nodes)
        if links:
            conn.execute(_INSERT_LINKS, links)
        conn.execute(_SET_SIZE, {"size": size})

    def head(self) -> int:
        """The size of the log as this transaction sees it, taking the lock if it has not yet."""
        tail, locked, transaction = self._tail, self._locked, self.session.get_transaction()
        if tail is not None and tail[0] is transaction:
            return tail[1].size
        if locked is not None and locked[0] is transaction:
            return locked[1]
        return self.size(lock=True)

    def tail_frontier(self) -> Frontier | None:
        """The frontier this transaction's appends left (None if it appended nothing known)."""
        tail = self._tail
        return tail[1] if tail is not None and tail[0] is self.session.get_transaction() else None

    # -- head and lock -------------------------------------------------------------

    def size(self, *, lock: bool = False) -> int:
        """Return the number of entries; with *lock*, hold the append lock until commit."""
        self.write_pending()
        size = self.session.execute(_SIZE_LOCKED if lock else _SIZE).scalar()
        if size is None:
            raise RuntimeError("the log head row is missing: run `flask db upgrade`")
        if lock:
            self._locked = (self.session.get_transaction(), size)
        return size

    # -- nodes ---------------------------------------------------------------------

    def nodes(self, keys: Iterable[NodeKey], *, head_covers: int | None = None) -> dict[NodeKey, bytes]:
        """Fetch stored hashes of perfect subtrees: leaves from entries, the rest from nodes.

        *head_covers*: the head row is read in the same statement (one round trip, one
        snapshot), and BeyondHead is raised if it covers fewer entries than that."""
        self.write_pending()
        keys = set(keys)
        found: dict[NodeKey, bytes] = {}
        leaves = [i for level, i in keys if level == 0]
        inner = [(level, i) for level, i in keys if level > 0]
        conn = self.session.connection()  # Core rows: no ORM work per proof
        if leaves or inner:
            by_level: dict[int, list[int]] = {}
            for level, i in inner:
                by_level.setdefault(level, []).append(i)
            # by the driver's cursor: p50 0.34 -> 0.23-0.29 ms a proof at 10^5 (through SQLAlchemy's result)
            sql = _nodes_sql(by_level, leaves)
            if head_covers is not None:
                sql += " UNION ALL SELECT -1 AS level, tree_size AS idx, NULL AS hash FROM log_head WHERE id = 1"
            rows = driver_rows(conn, sql)
            if head_covers is not None:
                head = [i for level, i, _ in rows if level == -1]
                if not head:
                    raise RuntimeError("the log head row is missing: run `flask db upgrade`")
                if head[0] < head_covers:
                    raise BeyondHead(head[0])
            found.update({(level, i): bytes(h) for level, i, h in rows if level >= 0})
        missing = keys - found.keys()
        if missing:
            raise ProofError(f"stored nodes missing: {sorted(missing)[:5]}")
        return found

    def frontier(self, size: int) -> Frontier:
        """Return the right edge of the tree of *size* leaves."""
        return Frontier.at(self.hasher, size, self.nodes(perfect_cover(0, size)))

    def root(self, size: int) -> bytes:
        """Return the root hash of the tree of *size* leaves."""
        return self.frontier(size).root()

    def inclusion_proof(self, index: int, size: int, *, check_head: bool = False) -> tuple[bytes, list[bytes], bytes]:
        """Return ``(leaf_hash, proof, root)`` for entry *index* in the tree of *size*.

        *check_head*: for a size the caller has not read from the head: read it in the same
        statement as the nodes and raise BeyondHead if the log is smaller."""
        ranges = inclusion_ranges(index, size)
        cover = perfect_cover(0, size)
        nodes = self.nodes(nodes_for(ranges) | set(cover) | {(0, index)}, head_covers=size if check_head else None)
        root = Frontier.at(self.hasher, size, nodes).root()
        return nodes[(0, index)], resolve(ranges, nodes, self.hasher), root

    def consistency_proof(self, first: int, second: int, *, check_head: bool = False) -> tuple[list[bytes], bytes, bytes]:
        """Return ``(proof, first_root, second_root)``; *check_head* as for inclusion_proof."""
        ranges = consistency_ranges(first, second)
        nodes = self.nodes(nodes_for(ranges) | set(perfect_cover(0, first)) | set(perfect_cover(0, second)),
                           head_covers=second if check_head else None)
        first_root = Frontier.at(self.hasher, first, nodes).root()
        second_root = Frontier.at(self.hasher, second, nodes).root()
        return resolve(ranges, nodes, self.hasher), first_root, second_root

    # -- reading entries -----------------------------------------------------------

    def entry(self, index: int) -> LogEntry | None:
        self.write_pending()
        return self.session.get(LogEntry, index)

    def entry_by_event_id(self, event_id: str) -> LogEntry | None:
        self.write_pending()
        return self.session.execute(select(LogEntry).where(LogEntry.event_id == event_id)).scalar()

    def chain(self, subject: str) -> list[int]:
        """Return the indexes of *subject*'s events, in order."""
        self.write_pending()
        return list(
            self.session.execute(
                select(ChainLink.idx).where(ChainLink.subject == subject).order_by(ChainLink.seq)
            ).scalars()
        )

    def chain_heads(self, subjects: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Return ``subject -> (seq, idx)`` of each subject's latest event."""
        self.write_pending()
        return self._chain_heads(subjects)

    def _chain_heads(self, subjects: Iterable[str]) -> dict[str, tuple[int, int]]:
        # (an append's own lookup: its buffered links are all among the heads it knows)
        subjects = list(set(subjects))
        if not subjects:
            return {}
        rows = self.session.connection().execute(_CHAIN_HEADS, {"subjects": subjects})
        return {s: (seq, idx) for s, seq, idx in rows}

    # -- appending -----------------------------------------------------------------

    def append(self, events: Sequence[NewEvent], *, checkpoint: bool = True) -> list[Appended]:
        """Append *events* under the log lock, in order; sign a checkpoint of the new size.

        The caller's transaction must commit for any of it to count; a rollback
        leaves no trace, so an index is issued only to a committed event.
        """
        self._listen()
        tail = self._tail
        transaction = self.session.get_transaction()
        if tail is not None and tail[0] is transaction:
            # This transaction took the lock for the append that left the tail and
            # holds it still: the head is where that append put it.
            size = tail[1].size
            known = tail[2]
            frontier = Frontier(self.hasher, size, list(tail[1].stack))
        else:
            locked = self._locked
            if locked is not None and locked[0] is transaction:
                size = locked[1]  # the lock was taken in this transaction, nothing appended since
            else:
                size = self.size(lock=True)
            known = {}
            frontier = (self.committed and self.committed.get(size)) or self.frontier(size)
        wanted = {s for e in events for s in e.subjects}
        # Not ``wanted - known.keys()``: a set minus a dict view iterates the whole view, and
        # *known* holds every subject a batch has touched (O(batch) per event, O(batch²) a batch).
        unknown = {s for s in wanted if s not in known}
        if unknown:
            found = self._chain_heads(unknown)
            for subject in unknown:
                known[subject] = found.get(subject, (-1, None))
        # Work on copies: a failure half-way leaves the cached tail as it was.
        heads = {s: known[s] for s in wanted}
        entries, nodes, links, out = [], [], [], []
        for event in events:
            index = frontier.size
            recorded = utc_now()
            prev: dict[str, int | None] = {}
            for subject in event.subjects:
                seq, last = heads.get(subject, (-1, None))
                prev[subject] = last
                heads[subject] = (seq + 1, index)
                links.append({"subject": subject, "seq": seq + 1, "idx": index})
            body = {
                "v": BODY_VERSION,
                "event_id": event.event_id,
                "kind": event.kind,
                "org": event.org,
                "user": event.user,
                "occurred_at": event.occurred_at or rfc3339(recorded),
                "recorded_at": rfc3339(recorded),
                "prev": prev,
                "data": event.data,
            }
            raw = canonical_bytes(body)
            leaf = self.hasher.leaf(raw)
            for level, i, h in frontier.append(leaf):
                nodes.append({"level": level, "idx": i, "hash": h})
            entries.append(
                {
                    "idx": index,
                    "leaf_hash": leaf,
                    "body": raw,
                    "event_id": event.event_id,
                    "kind": event.kind,
                    "recorded_at": recorded,
                }
            )
            out.append(Appended(index, leaf, event.event_id, body["recorded_at"], body, raw))
        if not entries:
            return out
        if self.buffered:
            if self.session.get_nested_transaction() is not None:
                raise RuntimeError("a buffered log does not append inside a savepoint")
            pending = self._pending
            pending[0].extend(entries)
            pending[1].extend(nodes)
            pending[2].extend(links)
            self._pending_size = frontier.size
        else:
            self.session.execute(_INSERT_ENTRIES, entries)
            if nodes:
                self.session.execute(_INSERT_NODES, nodes)
            if links:
                self.session.execute(_INSERT_LINKS, links)
            self.session.execute(_SET_SIZE, {"size": frontier.size})
        known.update(heads)
        self._tail = (transaction, frontier, known)
        self._locked = None  # superseded by the tail
        if checkpoint and self.sign_each and self.signer is not None:
            self._sign(frontier.size, frontier.root())
        return out

    # -- checkpoints ---------------------------------------------------------------

    def _sign(self, size: int, root: bytes) -> SignedCheckpoint:
        key = self.signer()
        note = key.sign_checkpoint(Checkpoint(self.origin, size, root))
        row = SignedCheckpoint(
            tree_size=size, root_hash=root, key_id=key.key_id, note=note, signed_at=utc_now()
        )
        self.session.add(row)
        self.session.flush()
        return row

    def seal(self, since: int) -> SignedCheckpoint | None:
        """Sign a checkpoint of what this transaction appended past *since* (a batch's end).

        The root comes from the frontier the last append left when it is still this
        transaction's (no reads); otherwise from the stored nodes, as ``checkpoint``.
        """
        self.write_pending()
        tail = self._tail
        if tail is not None and tail[0] is self.session.get_transaction():
            frontier = tail[1]
            return self._sign(frontier.size, frontier.root()) if frontier.size != since else None
        return self.checkpoint() if self.size() != since else None

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        return self.session.execute(
            select(SignedCheckpoint).order_by(
                SignedCheckpoint.tree_size.desc(), SignedCheckpoint.signed_at.desc()
            ).limit(1)
        ).scalar()

    def checkpoint(self) -> SignedCheckpoint:
        """Return a checkpoint covering every committed entry, signing one if needed.

        Call inside a write unit of work (it takes the log lock to sign).
        """
        size = self.size(lock=True)
        latest = self.latest_checkpoint()
        key = self.signer()
        if latest is not None and latest.tree_size == size and latest.key_id == key.key_id:
            return latest
        return self._sign(size, self.root(size))
