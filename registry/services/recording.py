"""Append events and fold them into the projections in the caller's transaction."""

from __future__ import annotations

from typing import Sequence

from registry.domain.roles import Actor
from registry.services import facts, projections
from registry.store.log import Appended, NewEvent
from registry.store.uow import UnitOfWork


def record_many(uow: UnitOfWork, events: Sequence[NewEvent]) -> list[Appended]:
    """Append *events* in one go (the lock is taken once) and project each."""
    appended = uow.log.append(events)
    for a in appended:
        projections.apply(uow.session, a.index, a.body)
    facts.recorded(uow, (e.kind for e in events))
    if not uow.batch:
        uow.session.flush()
    return appended


def record(
    uow: UnitOfWork,
    actor: Actor | None,
    kind: str,
    subjects: Sequence[str],
    data: dict,
    occurred_at: str | None = None,
) -> Appended:
    """Append one event by *actor* (None: the command line at bootstrap) and project it."""
    event = NewEvent(
        kind=kind,
        org=actor.org_id if actor else None,
        user=actor.user_id if actor else None,
        subjects=list(subjects),
        data=data,
        occurred_at=occurred_at,
    )
    return record_many(uow, [event])[0]
