"""What an organisation did and holds: its events of a day and its stock, for its pages."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, select

from registry.domain.roles import Actor
from registry.store.models import Item, LogEntry
from registry.store.uow import UnitOfWork

#: A day at the counter is a day in China Standard Time.
CST = timezone(timedelta(hours=8))
ITEM_KEYS = ("vehicle", "battery", "charger")


def start_of_today(now: datetime | None = None) -> datetime:
    """Return midnight (China Standard Time) of today, in UTC."""
    now = (now or datetime.now(timezone.utc)).astimezone(CST)
    return datetime.combine(now.date(), time(0), CST).astimezone(timezone.utc)


def recorded_today(uow: UnitOfWork, actor: Actor, kinds: tuple[str, ...], limit: int = 200) -> list[dict]:
    """Return the events of *kinds* the actor's organisation recorded today, newest first.

    Each is ``{index, kind, occurred_at, items: [(kind, identifier)], data}``; event
    bodies carry pseudonyms only, never personal data.
    """
    since = start_of_today()
    rows = uow.session.execute(
        select(LogEntry.idx, LogEntry.body)
        .where(LogEntry.kind.in_(kinds), LogEntry.recorded_at >= since)
        .order_by(LogEntry.idx.desc())
        .limit(limit * 4)
    ).all()
    out = []
    for idx, raw in rows:
        body = json.loads(bytes(raw))
        if body.get("org") != actor.org_id:
            continue
        items = []
        for subject in body.get("prev") or {}:
            kind, _, identifier = subject.partition(":")
            if kind in ITEM_KEYS:
                items.append((kind, identifier))
        data = {k: v for k, v in (body.get("data") or {}).items() if k != "effects"}
        out.append({"index": idx, "kind": body["kind"], "occurred_at": body["occurred_at"], "items": items, "data": data})
        if len(out) >= limit:
            break
    return out


def holdings(uow: UnitOfWork, actor: Actor) -> dict[str, dict[str, int]]:
    """Return how many items the organisation holds, by kind and state (and what is on its way to it)."""
    out: dict[str, dict[str, int]] = {}
    rows = uow.session.execute(
        select(Item.kind, Item.state, func.count()).where(Item.holder_org_id == actor.org_id).group_by(Item.kind, Item.state)
    ).all()
    for kind, state, n in rows:
        out.setdefault(kind, {})[state] = n
    incoming = uow.session.execute(
        select(Item.kind, func.count()).where(Item.shipped_to_org_id == actor.org_id, Item.state == "shipped").group_by(Item.kind)
    ).all()
    for kind, n in incoming:
        out.setdefault(kind, {})["incoming"] = n
    return out
