"""Recompute every leaf, node, chain link and checkpoint from the stored bodies.

Two passes, one verdict:

* ``_bulk`` reads the log in chunks of ``CHUNK`` entries with plain DB-API cursors, hashes with
  hashlib directly and compares whole chunks (leaf hashes, the nodes of each level, the chain
  links) at once. It never reports anything: it returns a clean report when every check holds
  and ``None`` at the first doubt.
* ``_locate`` is the entry-by-entry walk that names every finding at its index. It runs only
  when ``_bulk`` returned ``None``, so a log that does not verify costs one bulk pass up to the
  bad chunk plus one exact pass; a log that verifies costs the bulk pass alone.

``_bulk`` checks a superset of what ``_locate`` checks, so it only says "holds" when
``_locate`` would find nothing.

The bulk pass's chunks are independent (CHUNK = 2^K entries from a multiple of 2^K: every node
of levels 1..K over them lies inside, and each chain link is read beside the link before it on
its chain), so ``workers`` processes can check them (``flask verify-log --jobs N``), each on
its own connection, while this one stitches the nodes above level K and the checkpoint roots
in index order. Every read is bounded by the entries counted at the start, and those rows are
append-only, so the workers read what the session would.

The canonical form of bodies is checked in bulk too. Bodies of the shape the log writes
(``{"data":…,"event_id":…,…,"v":…}``) are matched by one regular expression per chunk that
admits only canonical strings and integers in the envelope; then only each ``data`` value is
parsed and all of a chunk's are re-encoded in one call, and only the small ``prev`` objects are
parsed (their keys must be strictly increasing: sorted and without duplicates). A chunk with any
body of another shape is checked as a whole: every body parsed and all re-encoded in one call.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import operator
import re
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Mapping

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from registry.ledger import CheckpointError, Frontier, Hasher, verify_checkpoint
from registry.ledger.canonical import CanonicalError
from registry.store.db import driver_rows
from registry.store.models import ChainLink, LogEntry, LogHead, LogNode, SignedCheckpoint

#: Entries per bulk chunk.
CHUNK = 1 << 14


def _no_float(text: str):
    raise CanonicalError(f"{text}: floats have no canonical form")


# canonical_bytes(json.loads(body)) == body, without walking the parsed value a second time:
# the parser refuses floats (and NaN, Infinity) itself, JSON keys are always strings, and
# re-encoding with canonical_bytes' settings gives the body back only if it was canonical.
_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)
_DECODE = _DECODER.decode
_SCAN = _DECODER.scan_once  # (value, end) of the one JSON value at an offset; no white space skipped
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                           check_circular=False).encode  # what JSON parses has no cycles
_PAIRS = json.JSONDecoder(object_pairs_hook=list).decode  # objects as [(key, value), …]: duplicates kept

# What json.dumps(ensure_ascii=False) writes for a str: no raw quote, backslash or control
# character; escapes only the two-character ones and \u00XX (lower-case) for the other controls.
_STR = r'"(?:[^"\\\x00-\x1f]++|\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f])))*+"'
# An int as json.dumps writes it; at most 18 digits, far below int()'s digit limit.
_INT = r"(?:0|-?[1-9][0-9]{0,17})"
_PREV_ITEM = f"{_STR}:(?:null|{_INT})"
#: One canonical body of the shape LogStore.append writes, on a line of its own: captures the
#: data text (checked apart) and the inside of prev (keys checked for order by the caller).
_EVENT = re.compile(
    r'^\{"data":(.*?),"event_id":' + _STR + ',"kind":' + _STR + ',"occurred_at":' + _STR
    + ',"org":(?:null|' + _STR + '),"prev":\\{((?:' + _PREV_ITEM + "(?:," + _PREV_ITEM + ")*)?)\\},"
    + '"recorded_at":' + _STR + ',"user":(?:null|' + _STR + '),"v":' + _INT + r"\}$",
    re.MULTILINE,
)

# In a text with no backslash at all, a canonical string is a quote, no quote and no control
# character, a quote: one character class, which the regular expression engine runs fast.
_PLAIN_STR = r'"[^"\\\x00-\x1f]*+"'
_EVENT_PLAIN = re.compile(_EVENT.pattern.replace(_STR, _PLAIN_STR), re.MULTILINE)

#: Leaf and node hashing straight from hashlib (the two algorithms a log may use).
_HASHES: dict[str, Callable[[bytes], "hashlib._Hash"]] = {"sha256": hashlib.sha256, "sm3": partial(hashlib.new, "sm3")}


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
    workers: int = 1,
) -> Report:
    """Recompute the log and return what does not match, earliest first.

    *workers* > 1: the bulk pass checks its chunks in that many processes, each reading on its
    own connection (a log in an in-memory SQLite is checked here alone).
    """
    keys = [(origin, pub) for pub in public_keys.values()]
    reported = [0]

    def counted(k: int) -> None:
        reported[0] += k
        progress(k)

    report = _bulk(session, hasher, keys, counted if progress is not None else None, workers)
    if report is not None:
        return report
    # Something does not hold (or bulk could not tell): walk the log entry by entry to say
    # what and where. Progress already reported by the bulk pass is not reported again.
    if progress is not None and reported[0]:
        progress = _after(progress, reported[0])
    streams = _Streams(session)
    try:
        return _locate(session, streams, hasher, origin, public_keys, progress, limit)
    finally:
        streams.close()


def _after(progress: Callable[[int], None], skip: int) -> Callable[[int], None]:
    seen = 0

    def call(k: int) -> None:
        nonlocal seen
        before, seen = seen, seen + k
        if seen > skip:
            progress(seen - max(before, skip))

    return call


# --- bulk pass -----------------------------------------------------------------------------

# Each chunk is read as one row per table (and per node level): the values concatenated in
# index order by the database, beside their indexes as text, so no Python object is made per
# row. The index text is compared with the one expected, which also proves the order in which
# the values were concatenated.
_SQLITE = {
    "encoding": "PRAGMA encoding",
    "entries": "SELECT count(*), group_concat(idx), CAST(group_concat(leaf_hash, '') AS BLOB), "
               "CAST(group_concat(body, char(10)) AS BLOB) "
               "FROM (SELECT idx, leaf_hash, body FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx)",
    # (the primary key's order; a plan in another order shows in the index text)
    "nodes": "SELECT count(*), group_concat(idx), CAST(group_concat(hash, '') AS BLOB) "
             "FROM log_nodes WHERE level = ? AND idx >= ? AND idx < ?",
    # subjects in code-point order, as Python sorts them: SQLite's BINARY collation is that
    "links": "SELECT count(*), group_concat(idx), group_concat(subject, char(10)), group_concat(prior), count(back) "
             "FROM (SELECT c.idx, c.subject, CASE WHEN c.seq = 0 THEN '' ELSE coalesce(p.idx, 'none') END AS prior, "
             "CASE WHEN p.idx >= c.idx THEN 1 END AS back "
             "FROM chain_links c LEFT JOIN chain_links p ON p.subject = c.subject AND p.seq = c.seq - 1 "
             "WHERE c.idx >= ? AND c.idx < ? ORDER BY c.idx, c.subject, c.seq)",
}
_POSTGRESQL = {
    "encoding": "SELECT 'UTF-8'",
    "entries": "SELECT count(*), string_agg(idx::text, ',' ORDER BY idx), string_agg(leaf_hash, ''::bytea ORDER BY idx), "
               "string_agg(body, decode('0a', 'hex') ORDER BY idx) FROM log_entries WHERE idx >= %s AND idx < %s",
    "nodes": "SELECT count(*), string_agg(idx::text, ',' ORDER BY idx), string_agg(hash, ''::bytea ORDER BY idx) "
             "FROM log_nodes WHERE level = %s AND idx >= %s AND idx < %s",
    "links": "SELECT count(*), string_agg(c.idx::text, ',' ORDER BY c.idx, c.subject COLLATE \"C\", c.seq), "
             "string_agg(c.subject, E'\\n' ORDER BY c.idx, c.subject COLLATE \"C\", c.seq), "
             "string_agg(CASE WHEN c.seq = 0 THEN '' ELSE coalesce(p.idx::text, 'none') END, ',' "
             "ORDER BY c.idx, c.subject COLLATE \"C\", c.seq), count(CASE WHEN p.idx >= c.idx THEN 1 END) "
             "FROM chain_links c LEFT JOIN chain_links p ON p.subject = c.subject AND p.seq = c.seq - 1 "
             "WHERE c.idx >= %s AND c.idx < %s",
}
_COMMON = {
    # one statement, so one snapshot even where each statement gets its own (PostgreSQL's
    # READ COMMITTED); every later read is bounded by these n entries, so appends made
    # meanwhile are not seen
    "counts": "SELECT (SELECT tree_size FROM log_head WHERE id = 1), "
              "(SELECT count(*) FROM log_entries), (SELECT count(*) FROM log_nodes), "
              "(SELECT count(*) FROM chain_links), (SELECT count(*) FROM checkpoints), "
              "(SELECT min(tree_size) FROM checkpoints), (SELECT max(tree_size) FROM checkpoints)",
    "checkpoints": "SELECT tree_size, root_hash, note FROM checkpoints WHERE tree_size >= ? AND tree_size <= ? "
                   "ORDER BY tree_size",
}
_STATEMENTS = {
    "sqlite": {**_COMMON, **_SQLITE},
    "postgresql": {**{k: v.replace("?", "%s") for k, v in _COMMON.items()}, **_POSTGRESQL},
}


def _numbers(start: int, stop: int) -> str:
    return ",".join(map(str, range(start, stop)))


def _source_url(conn) -> str | None:
    """The URL another process can open to read what *conn* reads, or None (an in-memory SQLite)."""
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def _bulk(session: Session, hasher: Hasher, keys, progress, workers: int = 1) -> Report | None:
    """Return a clean report if every entry, node, link and checkpoint holds, else None.

    With *workers* > 1 the chunks are checked by that many processes, each on its own
    connection; this process stitches their results together in index order (see _bulk_pass).
    """
    new = _HASHES.get(hasher.name)
    conn = session.connection()
    sql = _STATEMENTS.get(conn.dialect.name)
    if new is None or sql is None:
        return None

    def rows(name: str, params=()) -> list:
        return driver_rows(conn, sql[name], params)  # same connection, same transaction as the session

    if rows("encoding")[0][0] != "UTF-8":
        return None
    url = _source_url(conn) if workers > 1 else None
    enabled = gc.isenabled()
    gc.disable()  # a chunk makes ~10^5 short-lived objects and no cycles: no collections needed
    try:
        return _bulk_pass(rows, new, hasher, keys, progress, workers if url else 1, url)
    finally:
        if enabled:
            gc.enable()


def _bulk_pass(rows, new, hasher: Hasher, keys, progress, workers: int, url: str | None) -> Report | None:
    """The bulk pass: chunks checked on their own (_check_chunk), then stitched in index order.

    A chunk is CHUNK = 2^K entries starting at a multiple of 2^K, so every node of levels 1..K
    over its leaves lies inside it. A chunk checks its chains on its own (each link is read
    beside the link before it on its chain). Two things cross chunks and are done here: the
    nodes above level K (built from the chunks' level-K roots) and the roots of checkpoints
    (each chunk folds the part of a root that lies inside it; the rest is nodes of levels >= K).
    """
    [(head, n, node_count, link_count, cp_count, cp_min, cp_max)] = rows("counts")
    # the head, the stored nodes (every level >= 1 node of a tree of n leaves), and the
    # checkpoints: the latest covers exactly the n entries, none lies outside [0, n]
    if (head or 0) != n or node_count != n - n.bit_count():
        return None
    if cp_count and (cp_min < 0 or cp_max != n) or not cp_count and n:
        return None
    size = CHUNK
    if size < 1 or size & (size - 1):
        raise ValueError(f"CHUNK must be a power of two, not {size}")
    k = size.bit_length() - 1

    checked = 0
    for cp_size, stored_root, note in rows("checkpoints", (0, 0)):
        signed = _signed(note, keys, cp_size, stored_root)
        if signed is None or signed != hasher.empty():
            return None
        checked += 1

    node_prefix = b"\x01"
    upper: list[bytes] = []  # upper[j]: the latest node of level k + j completed so far
    expected_upper: list[list[bytes]] = []  # expected_upper[j]: every node of level k + 1 + j, in index order
    links_seen = 0
    tasks = [(a, min(a + size, n)) for a in range(0, n, size)]
    with _chunk_results(rows, new, hasher.name, keys, k, tasks, workers, url) as results:
        for (a, b), result in zip(tasks, results):
            if result is None:
                return None
            chunk_root, links, roots = result
            links_seen += links

            before = upper[:]
            if chunk_root is not None:  # a whole chunk: its level-k root joins the upper levels
                h, i, j = chunk_root, a >> k, 0
                while True:
                    if j == len(upper):
                        upper.append(h)
                        expected_upper.append([])
                        left = None
                    else:
                        left, upper[j] = upper[j], h
                    if not i & 1:
                        break
                    h = new(node_prefix + left + h).digest()
                    i >>= 1
                    j += 1
                    expected_upper[j - 1].append(h)

            for cp_size, root, part, level in roots:
                # the rest of the root: nodes of levels >= k, each the latest of its level that
                # ends at or before a (completed before the chunk), or, for a root of the whole
                # chunk's end, the ones this chunk's root completed
                rest = cp_size >> level
                try:
                    while rest:
                        if rest & 1:
                            h = before[level - k] if rest << level <= a else upper[level - k]
                            part = h if part is None else new(node_prefix + h + part).digest()
                        rest >>= 1
                        level += 1
                except IndexError:
                    return None
                if part != root:
                    return None
                checked += 1

            if progress is not None:
                progress(b - a)
    for j, hashes in enumerate(expected_upper):
        level = k + 1 + j
        if not hashes:
            continue
        [(count, idx_text, stored)] = rows("nodes", (level, 0, n >> level))
        if count != len(hashes) or idx_text != _numbers(0, count) or stored != b"".join(hashes):
            return None
    if links_seen != link_count or checked != cp_count:
        return None
    return Report(n, [])


def _signed(note: str, keys, size: int, stored_root) -> bytes | None:
    """The root a checkpoint row signs, if its note verifies and agrees with the row, else None."""
    try:
        signed = verify_checkpoint(note, keys)
    except CheckpointError:
        return None
    if signed.size != size or signed.root_hash != bytes(stored_root):
        return None
    return signed.root_hash


@contextmanager
def _chunk_results(rows, new, hash_name: str, keys, k: int, tasks, workers: int, url: str | None):
    """Each task's _check_chunk result, in task order: here, or from *workers* processes."""
    if workers <= 1 or len(tasks) <= 1:
        yield (_check_chunk(rows, new, keys, k, a, b) for a, b in tasks)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                               initializer=_worker_open, initargs=(url, hash_name, keys, k))
    try:
        yield _in_order(pool, tasks, window=2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(pool, tasks, window: int):
    """The results of _worker_chunk over *tasks* in order, with at most *window* in flight (a
    result waits in memory until it is stitched)."""
    pending = deque()
    todo = iter(tasks)
    for task in todo:
        pending.append(pool.submit(_worker_chunk, task))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        for task in todo:
            pending.append(pool.submit(_worker_chunk, task))
            break
        yield result


_WORKER: dict = {}


def _worker_open(url: str, hash_name: str, keys, k: int) -> None:
    """A worker process: its own connection (the parent's must not be shared across a fork)."""
    gc.disable()
    engine = create_engine(url, poolclass=NullPool)
    conn = engine.connect()
    sql = _STATEMENTS[conn.dialect.name]
    _WORKER.update(rows=lambda name, params=(): driver_rows(conn, sql[name], params), new=_HASHES[hash_name], keys=keys, k=k)


def _worker_chunk(task):
    w = _WORKER
    return _check_chunk(w["rows"], w["new"], w["keys"], w["k"], *task)


def _check_chunk(rows, new, keys, k: int, a: int, b: int):
    """Check entries [a, b) (a a multiple of 2^k, b - a <= 2^k) on their own, or return None.

    Returns (the chunk's level-k root or None if it is partial; per subject of the chunk [the
    previous index its first event names, its first link number, its last index, its count];
    the number of links; per checkpoint of size in (a, b]: (size, root, the part of the root
    inside the chunk or None, the level the rest starts at)).
    """
    [(count, idx_text, stored_leaves, joined)] = rows("entries", (a, b))
    if count != b - a or idx_text != _numbers(a, b) or joined is None or joined.count(b"\n") != count - 1:
        return None  # a missing, repeated or misplaced index, a null body, or a raw newline in one (not canonical)
    leaf_prefix, node_prefix = b"\x00", b"\x01"
    leaves = [new(leaf_prefix + body).digest() for body in joined.split(b"\n")]
    if stored_leaves != b"".join(leaves):
        return None

    # chains: each body names its subjects' previous indexes. Each link of the chunk is read
    # beside the link before it on its subject's chain (by primary key, wherever it lies), so a
    # chunk is checked on its own: per link, the body names that link's index (none for link 0,
    # and a link after 0 must have one before it), which lies before the link's own. Induction
    # on the link number then gives every subject's links as 0, 1, 2, … in index order, each
    # body naming the event before it on the chain.
    prevs = _event_prevs(joined, count)
    del joined
    if prevs is None:
        return None
    for prev in prevs:
        if len(prev) > 1:
            names = [subject for subject, _ in prev]
            if any(map(operator.ge, names, names[1:])):
                return None  # keys out of order or repeated: not canonical
    subjects = [subject for prev in prevs for subject, _ in prev]
    [(links, idx_text, subject_text, before_text, backwards)] = rows("links", (a, b))
    if links != len(subjects):
        return None
    if links:
        # with as many rows as expected and no newline inside the expected subjects, equal
        # texts mean equal rows
        expected = "\n".join(subjects)
        if subject_text != expected or expected.count("\n") != links - 1 or backwards:
            return None
        if idx_text != ",".join([str(i) for i, prev in zip(range(a, b), prevs) for _ in prev]):
            return None
        if before_text != ",".join(["" if index is None else str(index) for prev in prevs for _, index in prev]):
            return None

    # nodes of levels 1..k: inside the chunk, compared level by level with the stored ones
    levels = [leaves]
    current = leaves
    for level in range(1, k + 1):
        pairs = iter(current)
        current = [new(node_prefix + left + right).digest() for left, right in zip(pairs, pairs)]
        if not current:
            break
        lo, hi = a >> level, b >> level
        [(stored_count, idx_text, stored)] = rows("nodes", (level, lo, hi))
        if stored_count != hi - lo or len(current) != stored_count or idx_text != _numbers(lo, hi) or stored != b"".join(current):
            return None
        levels.append(current)
    chunk_root = levels[k][0] if len(levels) > k else None

    roots = []
    for size, stored_root, note in rows("checkpoints", (a + 1, b)):
        root = _signed(note, keys, size, stored_root)
        if root is None:
            return None
        # fold the part of the root of the first *size* leaves that lies in this chunk: the
        # nodes of its lowest set bits; from the first one whose node does not lie inside the
        # chunk (one of level > k, or the level-k node before it), the caller goes on
        part, level, rest = None, 0, size
        while rest:
            if rest & 1:
                j, lo = rest - 1, a >> level
                if level > k or j < lo:
                    break
                h = levels[level][j - lo]
                part = h if part is None else new(node_prefix + h + part).digest()
            rest >>= 1
            level += 1
        roots.append((size, root, part, level))
    return chunk_root, links, roots


def _event_prevs(joined: bytes, count: int) -> list | None:
    """Return each body's prev as [(subject, index), …] if every body is canonical JSON, else None.

    *joined*: the *count* bodies joined by newlines. The keys of each prev are returned as
    written: the caller checks that they strictly increase.
    """
    try:
        text = joined.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.count("\n") != count - 1:
        return None  # a raw newline in a body: not canonical
    try:
        found = (_EVENT if "\\" in text else _EVENT_PLAIN).findall(text)
        if len(found) == count:
            # every line is the writer's shape: the envelope is canonical by the pattern, so
            # parse each data value alone (it must end where the pattern says) and re-encode
            # all of them in one call: the concatenations agree only if every one does
            datas, prevs = zip(*found)
            parsed = [_SCAN(data, 0) for data in datas]
            if [end for _, end in parsed] != list(map(len, datas)):
                return None
            if _ENCODE([value for value, _ in parsed]) != "[" + ",".join(datas) + "]":
                return None
            return _PAIRS("[{" + "},{".join(prevs) + "}]")
        lines = text.split("\n")
        parsed = [_SCAN(line, 0) for line in lines]
        if [end for _, end in parsed] != list(map(len, lines)):
            return None
        events = [value for value, _ in parsed]
        if _ENCODE(events) != "[" + ",".join(lines) + "]":
            return None
        out = []
        for event in events:
            prev = event["prev"]
            if type(prev) is not dict:
                return None
            pairs = list(prev.items())
            if not all(index is None or type(index) is int for _, index in pairs):
                return None  # an index is an integer or null (true == 1 in Python)
            out.append(pairs)
        return out
    except (ValueError, KeyError, TypeError, StopIteration, RecursionError):
        return None


# --- exact pass ----------------------------------------------------------------------------


def _locate(session, _stream, hasher, origin, public_keys, progress, limit) -> Report:
    findings: list[Finding] = []

    def found(index: int, what: str) -> bool:
        findings.append(Finding(index, what))
        return len(findings) >= limit

    keys = [(origin, pub) for pub in public_keys.values()]
    head = session.execute(select(LogHead.tree_size).where(LogHead.id == 1)).scalar() or 0
    count = session.execute(select(func.count()).select_from(LogEntry)).scalar() or 0

    # subjects in code-point order, as sorted() gives them (PostgreSQL's collation may differ)
    by_subject = ChainLink.subject.collate("C") if session.connection().dialect.name == "postgresql" else ChainLink.subject
    links = _stream(select(ChainLink.idx, ChainLink.subject, ChainLink.seq).order_by(ChainLink.idx, by_subject))
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
            named = prev[subject]
            if named != last or (named is not None and type(named) is not int):  # true == 1 in Python
                stop = found(idx, f"chain {subject} broken: body names previous index {json.dumps(named)}, log has {last}")
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
