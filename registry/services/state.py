"""Rebuild the projections by replaying the log, and compare with the live tables."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import create_engine, delete, insert, select
from sqlalchemy.orm import Session

from registry.services import projections
from registry.store.models import PROJECTION_MODELS, LogEntry
from registry.store.uow import UnitOfWork


@dataclass
class Difference:
    table: str
    only_live: list[tuple]
    only_rebuilt: list[tuple]


def _rows(session: Session, model) -> set[tuple]:
    table = model.__table__
    return {tuple(_plain(v) for v in row) for row in session.execute(select(*table.columns))}


def _plain(value):
    if hasattr(value, "isoformat"):
        value = value.replace(tzinfo=None) if getattr(value, "tzinfo", None) else value
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def replay(uow: UnitOfWork, progress=None) -> Session:
    """Replay every event into projections of a private in-memory database and return its session."""
    engine = create_engine("sqlite://")
    for model in PROJECTION_MODELS:
        model.__table__.create(engine)
    scratch = Session(engine)
    stmt = select(LogEntry.idx, LogEntry.body).order_by(LogEntry.idx).execution_options(yield_per=5000)
    for n, (idx, body) in enumerate(uow.session.execute(stmt), 1):
        projections.apply(scratch, idx, json.loads(bytes(body)))
        if n % 5000 == 0:
            scratch.flush()
            if progress:
                progress(5000)
    scratch.flush()
    return scratch


def compare(uow: UnitOfWork, scratch: Session) -> list[Difference]:
    """Return each projection table whose live rows differ from the rebuilt ones."""
    diffs = []
    for model in PROJECTION_MODELS:
        live, rebuilt = _rows(uow.session, model), _rows(scratch, model)
        if live != rebuilt:
            diffs.append(Difference(model.__tablename__, sorted(live - rebuilt, key=repr)[:10], sorted(rebuilt - live, key=repr)[:10]))
    return diffs


def rebuild_state(uow: UnitOfWork, *, write: bool, progress=None) -> list[Difference]:
    """Replay the log; return the differences and, with *write*, replace the live projections."""
    scratch = replay(uow, progress)
    diffs = compare(uow, scratch)
    if write and diffs:
        for model in reversed(PROJECTION_MODELS):
            uow.session.execute(delete(model))
        for model in PROJECTION_MODELS:
            table = model.__table__
            rows = [dict(r._mapping) for r in scratch.execute(select(*table.columns))]
            if rows:
                uow.session.execute(insert(table), rows)
        uow.commit()
    scratch.close()
    return diffs
