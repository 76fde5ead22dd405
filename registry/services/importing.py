"""Importing a manufacturer's items from CSV or JSON lines: streamed, in chunks, safe to re-run.

Memory stays constant whatever the file's size: at most two chunks are held (one
being written while the next is signed). Each chunk is one unit of work: its
commission events are appended with the lock taken once, and committed, so an
interrupted import keeps every chunk before the interruption and a re-run skips
them. A bad line is reported with its number and skipped; it never stops the run.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from registry.domain.roles import Actor, require
from registry.services import commissioning
from registry.services.code_signing import CodeSigner
from registry.services.commissioning import NewItem

COLUMNS = commissioning.FIELDS
REQUIRED_COLUMNS = ("kind", "identifier", "model", "produced_on")


@dataclass
class ImportReport:
    """What an import did."""

    lines: int = 0
    commissioned: int = 0
    skipped: int = 0
    bad: int = 0
    first_index: int | None = None
    last_index: int | None = None
    seconds: float = 0.0
    errors_shown: int = 0


@dataclass
class _Chunk:
    rows: list[tuple[int, NewItem]] = field(default_factory=list)
    tokens: object = None  # a Future of the tokens, in row order


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported (unknown format, header without the needed columns)."""


def count_lines(path: Path) -> int:
    """Return the number of lines of a file, reading it in blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def detect_format(path: Path, fmt: str = "auto") -> str:
    """Return "csv" or "jsonl" from the option, the file's extension or its first character."""
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict | str]]:
    """Yield ``(line number, row)`` for each data line, or ``(line number, message)`` for an unreadable one."""
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
        if fmt == "jsonl":
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as err:
                    yield n, f"not valid JSON ({err.msg})"
                    continue
                yield n, row if isinstance(row, dict) else "not a JSON object"
            return
        reader = csv.reader(f)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            return
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if unknown or missing:
            raise UnreadableFile(
                f"CSV header must name {', '.join(COLUMNS)} (batch optional); "
                + (f"unknown: {', '.join(unknown)}; " if unknown else "")
                + (f"missing: {', '.join(missing)}" if missing else "")
            )
        for cells in reader:
            n = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield n, f"has {len(cells)} columns, the header {len(header)}"
                continue
            row = {h: (c.strip() or None) for h, c in zip(header, cells)}
            yield n, row


def import_items(
    registry,
    actor: Actor,
    path: Path,
    *,
    fmt: str = "auto",
    chunk: int = 5000,
    processes: int | None = None,
    on_error: Callable[[int, str], None] = lambda line, message: None,
    progress: Callable[[int], None] = lambda lines: None,
) -> ImportReport:
    """Commission every good line of *path* as *actor*; report bad lines through *on_error*.

    Already-commissioned items of the same kind and model, by this maker, are
    skipped (a re-run commissions nothing twice); a line naming an item that
    exists otherwise is a bad line.
    """
    require(actor, "commission")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    started = time.perf_counter()
    report = ImportReport()
    fmt = detect_format(path, fmt)
    rows = read_rows(path, fmt)

    def bad(line: int, message: str) -> None:
        report.bad += 1
        on_error(line, message)

    with CodeSigner(registry.keys.current, processes) as signer:
        pending: _Chunk | None = None
        for raw_chunk in _chunks(rows, chunk, report, bad, progress):
            prepared = _prepare(registry, actor, raw_chunk, report, bad)
            if prepared.rows:
                prepared.tokens = signer.submit([(i.kind, i.identifier) for _, i in prepared.rows])
            # The pool signs this chunk while the previous one is written.
            if pending is not None:
                _write(registry, actor, pending, report, bad)
            pending = prepared if prepared.rows else None
        if pending is not None:
            _write(registry, actor, pending, report, bad)
    report.seconds = time.perf_counter() - started
    return report


def _chunks(rows, size: int, report: ImportReport, bad, progress) -> Iterator[list[tuple[int, dict]]]:
    buf: list[tuple[int, dict]] = []
    last_line = 0
    for line, row in rows:
        report.lines += 1
        last_line = line
        if isinstance(row, str):
            bad(line, row)
        else:
            buf.append((line, row))
        if len(buf) >= size:
            yield buf
            buf = []
            progress(last_line)
    if buf:
        yield buf
    progress(last_line)


def _prepare(registry, actor: Actor, raw: list[tuple[int, dict]], report: ImportReport, bad) -> _Chunk:
    """Validate a chunk, drop what exists already (counted as skipped) and the bad lines."""
    lines = [line for line, _ in raw]
    with registry.reading() as uow:
        valid, errors = commissioning.validate_items(uow, actor, [row for _, row in raw])
        by_line: dict[int, list[str]] = {}
        for key, messages in errors.items():
            _, position, *rest = key.split(".", 2)
            by_line.setdefault(lines[int(position)], []).extend(f"{rest[0] if rest else 'line'}: {en} ({zh})" for zh, en in messages)
        for line in sorted(by_line):
            bad(line, "; ".join(by_line[line]))
        found = commissioning.existing(uow, (i.subject for i in valid))
    out = _Chunk()
    first_line: dict[str, int] = {}
    for item in valid:
        line = lines[item.position]
        earlier = found.get(item.subject)
        if earlier is not None or item.subject in first_line:
            same = earlier is None or (earlier.model == item.model and earlier.maker_org_id == actor.org_id)
            if same and item.subject in first_line:
                bad(line, f"identifier: {item.identifier} repeats line {first_line[item.subject]}")
            elif same:
                report.skipped += 1
            else:
                bad(line, f"identifier: {item.identifier} is already commissioned (model {earlier.model}, another maker or model)")
            continue
        first_line[item.subject] = line
        out.rows.append((line, item))
    return out


def _write(registry, actor: Actor, chunk: _Chunk, report: ImportReport, bad) -> None:
    tokens = chunk.tokens.result()
    with registry.writing() as uow:
        # Checked again under the lock: another import may have written some since.
        taken = commissioning.existing(uow, (i.subject for _, i in chunk.rows))
        items, codes = [], {}
        for (line, item), token in zip(chunk.rows, tokens):
            if item.subject in taken:
                report.skipped += 1
                continue
            items.append(item)
            codes[item.subject] = token
        if not items:
            return
        done = commissioning.append(uow, actor, items, codes)
        uow.commit()
    report.commissioned += len(done)
    report.first_index = done[0].index if report.first_index is None else report.first_index
    report.last_index = done[-1].index
