"""The national index: which regional logs hold an item (docs/SCALE.md "Nation").

A convenience, not a source of truth: it is derived from the regional logs, read
entry by entry from where it last stopped (one mark per log), and whatever it
names is then read and proven in that log. Rows are ``(subject, origin, index)``:
the item ``kind:identifier`` entered the log ``origin`` at ``index`` (its
``commission``, ``backfill`` or ``transfer_in``). An item that moved has a row in
each log it entered. It can be dropped and rebuilt at any time.

Its database is the directory's ``index_url`` (on PostgreSQL the schema
``national`` of the regions' database; on SQLite a file beside ``regions.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine

from registry.config import normalise_database_url
from registry.domain.lifecycle import ITEM_KINDS
from registry.store.models import LogEntry

metadata = MetaData()
entries = Table(
    "national_index", metadata,
    Column("subject", String(200), primary_key=True),
    Column("origin", String(200), primary_key=True),
    Column("idx", BigInteger, nullable=False),
)
marks = Table(
    "national_index_marks", metadata,
    Column("origin", String(200), primary_key=True),
    Column("next_index", BigInteger, nullable=False),
)

#: The kinds by which an item enters a log.
ENTERING = ("commission", "backfill", "transfer_in")


class NationalIndex:
    """Identifier -> the regional logs that hold it."""

    def __init__(self, url: str):
        """Open (and create, if need be) the index's tables at *url* (its schema made by ``init_regions``)."""
        self.url = normalise_database_url(url)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def lookup(self, subjects: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """subject -> [(origin, index it entered there)], oldest entry first."""
        subjects = list(dict.fromkeys(subjects))
        out: dict[str, list[tuple[str, int]]] = {s: [] for s in subjects}
        if not subjects:
            return out
        with self.engine.connect() as conn:
            for subject, origin, idx in conn.execute(
                select(entries.c.subject, entries.c.origin, entries.c.idx).where(entries.c.subject.in_(subjects))
            ):
                out[subject].append((origin, idx))
        return out

    def sync(self, origin: str, registry, *, chunk: int = 10_000) -> int:
        """Read *registry*'s log from where the index last stopped; return the rows added."""
        added = 0
        with self.engine.connect() as conn:
            start = conn.execute(select(marks.c.next_index).where(marks.c.origin == origin)).scalar() or 0
        while True:
            with registry.reading() as uow:
                size = uow.log.size()
                rows = uow.session.execute(
                    select(LogEntry.idx, LogEntry.body)
                    .where(LogEntry.idx >= start, LogEntry.idx < min(size, start + chunk), LogEntry.kind.in_(ENTERING))
                    .order_by(LogEntry.idx)
                ).all() if start < size else []
            found = []
            for idx, body in rows:
                for subject in json.loads(bytes(body))["prev"]:
                    if subject.split(":", 1)[0] in ITEM_KINDS:
                        found.append({"subject": subject, "origin": origin, "idx": idx})
            end = min(size, start + chunk)
            with self.engine.begin() as conn:
                if found:
                    known = {(s, o) for s, o in conn.execute(select(entries.c.subject, entries.c.origin).where(
                        entries.c.origin == origin, entries.c.subject.in_([f["subject"] for f in found])))}
                    fresh = [f for f in found if (f["subject"], origin) not in known]
                    # an item that left and came back keeps its first entry here
                    fresh = list({f["subject"]: f for f in reversed(fresh)}.values())
                    if fresh:
                        conn.execute(entries.insert(), fresh)
                        added += len(fresh)
                updated = conn.execute(marks.update().where(marks.c.origin == origin).values(next_index=end)).rowcount
                if not updated:
                    conn.execute(marks.insert().values(origin=origin, next_index=end))
            if end >= size:
                return added
            start = end
