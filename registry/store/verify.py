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
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
) -> Report:
    """Recompute the log and return what does not match, earliest first."""
    keys = [(origin, pub) for pub in public_keys.values()]
    reported = [0]

    def counted(k: int) -> None:
        reported[0] += k
        progress(k)

    report = _bulk(session, hasher, keys, counted if progress is not None else None)
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
    "links": "SELECT count(*), group_concat(idx), group_concat(seq), group_concat(subject, char(10)) "
             "FROM (SELECT idx, subject, seq FROM chain_links WHERE idx >= ? AND idx < ? ORDER BY idx, subject, seq)",
}
_POSTGRESQL = {
    "encoding": "SELECT 'UTF-8'",
    "entries": "SELECT count(*), string_agg(idx::text, ',' ORDER BY idx), string_agg(leaf_hash, ''::bytea ORDER BY idx), "
               "string_agg(body, decode('0a', 'hex') ORDER BY idx) FROM log_entries WHERE idx >= %s AND idx < %s",
    "nodes": "SELECT count(*), string_agg(idx::text, ',' ORDER BY idx), string_agg(hash, ''::bytea ORDER BY idx) "
             "FROM log_nodes WHERE level = %s AND idx >= %s AND idx < %s",
    "links": "SELECT count(*), string_agg(idx::text, ',' ORDER BY idx, subject COLLATE \"C\", seq), "
             "string_agg(seq::text, ',' ORDER BY idx, subject COLLATE \"C\", seq), "
             "string_agg(subject, E'\\n' ORDER BY idx, subject COLLATE \"C\", seq) "
             "FROM chain_links WHERE idx >= %s AND idx < %s",
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


def _bulk(session: Session, hasher: Hasher, keys, progress) -> Report | None:
    """Return a clean report if every entry, node, link and checkpoint holds, else None."""
    new = _HASHES.get(hasher.name)
    conn = session.connection()
    sql = _STATEMENTS.get(conn.dialect.name)
    if new is None or sql is None:
        return None

    def rows(name: str, params=()) -> list:
        return driver_rows(conn, sql[name], params)  # same connection, same transaction as the session

    if rows("encoding")[0][0] != "UTF-8":
        return None
    enabled = gc.isenabled()
    gc.disable()  # a chunk makes ~10^5 short-lived objects and no cycles: no collections needed
    try:
        return _bulk_pass(rows, new, hasher.empty(), keys, progress)
    finally:
        if enabled:
            gc.enable()


def _bulk_pass(rows, new, empty: bytes, keys, progress) -> Report | None:
    [(head, n, node_count, link_count, cp_count, cp_min, cp_max)] = rows("counts")
    # the head, the stored nodes (every level >= 1 node of a tree of n leaves), and the
    # checkpoints: the latest covers exactly the n entries, none lies outside [0, n]
    if (head or 0) != n or node_count != n - n.bit_count():
        return None
    if cp_count and (cp_min < 0 or cp_max != n) or not cp_count and n:
        return None

    checked = 0

    def checkpoints_hold(lo: int, hi: int, root_at) -> bool:
        nonlocal checked
        for size, stored_root, note in rows("checkpoints", (lo, hi)):
            try:
                signed = verify_checkpoint(note, keys)
            except CheckpointError:
                return False
            if signed.size != size or signed.root_hash != bytes(stored_root) or signed.root_hash != root_at(size):
                return False
            checked += 1
        return True

    if not checkpoints_hold(0, 0, lambda size: empty):
        return None

    leaf_prefix, node_prefix = b"\x00", b"\x01"
    last: list[bytes] = []  # last[level]: the latest node of that level completed so far
    chains: dict[str, list[int]] = {}  # subject -> [seq, index] of its latest event
    chains_get = chains.get
    links_seen = 0
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        [(count, idx_text, stored_leaves, joined)] = rows("entries", (a, b))
        if count != b - a or idx_text != _numbers(a, b) or joined is None or joined.count(b"\n") != count - 1:
            return None  # a missing, repeated or misplaced index, a null body, or a raw newline in one (not canonical)
        bodies = joined.split(b"\n")
        leaves = [new(leaf_prefix + body).digest() for body in bodies]
        if stored_leaves != b"".join(leaves):
            return None

        # chains: each body names its subjects' previous indexes; the links table must agree
        prevs = _event_prevs(joined, count)
        del joined
        if prevs is None:
            return None
        link_idx, link_seq = [], []
        add_idx, add_seq = link_idx.append, link_seq.append
        for i, prev in zip(range(a, b), prevs):
            prior = None
            for subject, named in prev:
                if prior is not None and not subject > prior:
                    return None  # keys out of order or repeated: not canonical
                prior = subject
                state = chains_get(subject)
                if state is None:
                    if named is not None:
                        return None
                    chains[subject] = [0, i]
                    add_seq(0)
                else:
                    if named != state[1]:
                        return None
                    state[0] += 1
                    state[1] = i
                    add_seq(state[0])
                add_idx(i)
        subjects = [subject for prev in prevs for subject, _ in prev]
        [(count, idx_text, seq_text, subject_text)] = rows("links", (a, b))
        if count != len(subjects):
            return None
        if count:
            # with as many rows as expected and no newline inside the expected subjects, equal
            # texts mean equal rows
            expected = "\n".join(subjects)
            if (subject_text != expected or expected.count("\n") != count - 1
                    or idx_text != ",".join(map(str, link_idx)) or seq_text != ",".join(map(str, link_seq))):
                return None
        links_seen += count

        # nodes: level by level over the chunk; a chunk's first node of a level whose index
        # is odd pairs with the latest node of that level from before the chunk
        before = last[:]
        levels = [leaves]
        current, level = leaves, 0
        while current:
            start = a >> level
            pairs = iter([last[level]] + current if start & 1 else current)
            if level == len(last):
                last.append(current[-1])
            else:
                last[level] = current[-1]
            current = [new(node_prefix + left + right).digest() for left, right in zip(pairs, pairs)]
            level += 1
            if current:
                lo, hi = a >> level, b >> level
                [(count, idx_text, stored)] = rows("nodes", (level, lo, hi))
                if count != hi - lo or len(current) != count or idx_text != _numbers(lo, hi) or stored != b"".join(current):
                    return None
                levels.append(current)

        def root_at(size: int) -> bytes:
            """MTH of the first *size* leaves (a < size <= b) from this chunk's levels."""
            root, lv, rest = None, 0, size
            while rest:
                if rest & 1:
                    j, lo = rest - 1, a >> lv
                    h = levels[lv][j - lo] if j >= lo else before[lv]
                    root = h if root is None else new(node_prefix + h + root).digest()
                rest >>= 1
                lv += 1
            return root

        if not checkpoints_hold(a + 1, b, root_at):
            return None
        if progress is not None:
            progress(b - a)
    if links_seen != link_count or checked != cp_count:
        return None
    return Report(n, [])


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
            out.append(list(prev.items()))
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
