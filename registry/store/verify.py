"""Recompute every leaf, node, chain link and checkpoint from the stored bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.ledger import CheckpointError, Frontier, Hasher, verify_checkpoint
from registry.ledger.canonical import CanonicalError


def _no_float(text: str):
    raise CanonicalError(f"{text}: floats have no canonical form")


# canonical_bytes(json.loads(body)) == body, without walking the parsed value a second time:
# the parser refuses floats (and NaN, Infinity) itself, JSON keys are always strings, and
# re-encoding with canonical_bytes' settings gives the body back only if it was canonical.
_DECODE = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float).decode
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
from registry.store.models import ChainLink, LogEntry, LogHead, LogNode, SignedCheckpoint


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold, at the first index it concerns."""

    index: int
    what: str

    def __str__(self) -> str:
        return f"index {self.index}: {self.what}"


@dataclass
class Report:
    entries: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.index) if self.findings else None


class _Streams:
    """Server-side cursors over the log, closed together when verification ends."""

    def __init__(self, session: Session):
        self.session = session
        self.results = []

    def __call__(self, stmt, batch: int = 5000) -> Iterator:
        # Core rows on the session's connection (same transaction, no ORM row processing).
        result = self.session.connection().execute(stmt.execution_options(yield_per=batch))
        self.results.append(result)
        return iter(result)

    def close(self) -> None:
        for result in self.results:
            result.close()


def verify_log(
    session: Session,
    hasher: Hasher,
    origin: str,
    public_keys: Mapping[str, bytes],
    progress: Callable[[int], None] | None = None,
    limit: int = 20,
) -> Report:
    """Recompute the log and return what does not match, earliest first."""
    streams = _Streams(session)
    try:
        return _verify(session, streams, hasher, origin, public_keys, progress, limit)
    finally:
        streams.close()


def _verify(session, _stream, hasher, origin, public_keys, progress, limit) -> Report:
    findings: list[Finding] = []

    def found(index: int, what: str) -> bool:
        findings.append(Finding(index, what))
        return len(findings) >= limit

    keys = [(origin, pub) for pub in public_keys.values()]
    head = session.execute(select(LogHead.tree_size).where(LogHead.id == 1)).scalar() or 0
    count = session.execute(select(func.count()).select_from(LogEntry)).scalar() or 0

    links = _stream(select(ChainLink.idx, ChainLink.subject, ChainLink.seq).order_by(ChainLink.idx, ChainLink.subject))
    link = next(links, None)
    checkpoints = _stream(select(SignedCheckpoint.tree_size, SignedCheckpoint.root_hash, SignedCheckpoint.note).order_by(SignedCheckpoint.tree_size))
    checkpoint = next(checkpoints, None)
    level_cursors: dict[int, Iterator] = {}

    def stored_node(level: int):
        cursor = level_cursors.get(level)
        if cursor is None:
            cursor = level_cursors[level] = _stream(
                select(LogNode.idx, LogNode.hash).where(LogNode.level == level).order_by(LogNode.idx)
            )
        return next(cursor, None)

    frontier = Frontier(hasher)
    chains: dict[str, tuple[int, int]] = {}
    last_checked = 0
    stop = False

    def check_checkpoints(size: int) -> bool:
        nonlocal checkpoint, last_checked
        while checkpoint is not None and checkpoint.tree_size == size:
            cp_size, cp_root, note = checkpoint
            try:
                signed = verify_checkpoint(note, keys)
            except CheckpointError as exc:
                if found(max(size - 1, 0), f"checkpoint of size {cp_size} does not verify: {exc}"):
                    return True
            else:
                if signed.size != cp_size or signed.root_hash != bytes(cp_root):
                    if found(max(size - 1, 0), f"checkpoint row of size {cp_size} differs from its signed note"):
                        return True
                elif signed.root_hash != frontier.root():
                    where = last_checked if size - last_checked > 1 else size - 1
                    span = f"index {size - 1}" if size - last_checked == 1 else f"indexes {last_checked}..{size - 1}"
                    if found(where, f"recomputed root at size {cp_size} differs from the signed checkpoint: "
                                    f"an entry in {span} was changed"):
                        return True
                else:
                    last_checked = size
            checkpoint = next(checkpoints, None)
        return False

    stop = check_checkpoints(0)
    expected = 0
    for idx, leaf_hash, body in _stream(select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.body).order_by(LogEntry.idx)):
        if stop:
            break
        if idx != expected:
            if found(expected, f"entry {expected} is missing (next stored index is {idx})" if idx > expected
                     else f"entry {idx} is stored twice"):
                break
            expected = idx
        body = bytes(body)
        leaf = hasher.leaf(body)
        if leaf != bytes(leaf_hash):
            if found(idx, "stored leaf hash does not match the body"):
                break
        try:
            parsed = _DECODE(body.decode("utf-8"))
            if _ENCODE(parsed).encode("utf-8") != body:
                raise CanonicalError("not canonical")
            prev = parsed["prev"]
            if not isinstance(prev, dict):
                raise CanonicalError("prev is not an object")
        except (ValueError, KeyError, TypeError, CanonicalError) as exc:
            if found(idx, f"body is not a canonical event: {exc}"):
                break
            prev = {}
        # chain links: the body names each subject's previous index; the table must agree
        for subject in sorted(prev):
            seq, last = chains.get(subject, (-1, None))
            if prev[subject] != last:
                stop = found(idx, f"chain {subject} broken: body names previous index {prev[subject]}, log has {last}")
            chains[subject] = (seq + 1, idx)
            while link is not None and (link[0], link[1]) < (idx, subject):
                stop = stop or found(link[0], f"chain link {link[1]}#{link[2]} has no event")
                link = next(links, None)
            if link is None or (link[0], link[1], link[2]) != (idx, subject, seq + 1):
                stop = stop or found(idx, f"chain link for {subject} at index {idx} is missing or wrong")
            else:
                link = next(links, None)
        for level, i, h in frontier.append(leaf):
            row = stored_node(level)
            if row is None or row[0] != i or bytes(row[1]) != h:
                stop = stop or found(idx, f"stored node (level {level}, {i}) does not match the leaves")
        expected = idx + 1
        stop = stop or check_checkpoints(frontier.size)
        if progress is not None and expected % 10000 == 0:
            progress(10000)
    n = frontier.size
    if not stop:
        while link is not None:
            if found(link[0], f"chain link {link[1]}#{link[2]} points beyond the log"):
                break
            link = next(links, None)
        for level, cursor in level_cursors.items():
            row = next(cursor, None)
            if row is not None:
                found(n, f"stored node (level {level}, {row[0]}) lies beyond the log")
        latest = session.execute(select(func.max(SignedCheckpoint.tree_size))).scalar()
        if latest is not None and latest > n:
            found(n, f"log truncated: a checkpoint covers {latest} entries, only {n} are stored")
        elif n > 0 and (latest is None or latest < n):
            found(latest or 0, f"entries {latest or 0}..{n - 1} are not covered by a signed checkpoint")
        if head != n:
            found(min(head, n), f"log head says {head} entries, {n} are stored")
        if count != n:
            found(n, f"{count} rows stored for {n} indexes")
    return Report(n, sorted(findings, key=lambda f: f.index))
