"""Statistics for regulators and investigators: clarity rate (查清率), fires by maker and model, recalls, overdue batteries.

Incidents are found through the index on ``log_entries.kind``; each one is
then traced through its chains like :mod:`registry.services.trace` does, so a
statistic never scans the log.

**Clarity rate** (DOMAIN.md): of the incidents in a period, the share whose
trace resolves all six of

* ``maker`` — every item the incident resolves (the vehicle, the burnt battery) has a ``commission`` event;
* ``seller`` — the vehicle has a ``sell`` event before the incident;
* ``owner`` — the vehicle has a ``register`` (or ``transfer``) event, or its ``sell`` names a buyer;
* ``battery_type`` — the burnt battery (named, or the one the records put in the vehicle) has a known model;
* ``purchase_time`` — the ``sell`` event's time;
* ``modification_history`` — since the sale every swap, replacement and modification is on record: the
  records put the burnt battery in that vehicle at the incident, and the chains of both have no gap or anomaly.
"""

from __future__ import annotations

import datetime
from collections import Counter

from sqlalchemy import select

from registry.domain import rules
from registry.services import items as found
from registry.services.trace import ITEM_KINDS, Event, Loader, TraceSet, collect, kind_of
from registry.store.models import Item, LogEntry, Organisation, ProductModel, Recall, RecallRemedy, Voided
from registry.store.uow import UnitOfWork

#: Dates without a time are days in China Standard Time (UTC+8, no daylight saving).
CHINA = datetime.timezone(datetime.timedelta(hours=8))
CRITERIA = ("maker", "seller", "owner", "battery_type", "purchase_time", "modification_history")
#: A battery not yet retired is in service (installed, or in someone's stock or transit).
IN_SERVICE = ("installed", "in_stock", "removed", "shipped", "commissioned")
#: Rows one page may read before it answers with what it found and a cursor.
MAX_SCAN = 20000


def period_bounds(start, end) -> tuple[str | None, str | None]:
    """Return the period as RFC 3339 UTC strings ``[from, to)``; a date *end* includes that whole day."""

    def utc(moment: datetime.datetime) -> str:
        return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def as_moment(value, *, end: bool):
        if value is None:
            return None
        if isinstance(value, datetime.datetime):
            return utc(value if value.tzinfo else value.replace(tzinfo=CHINA))
        day = value + datetime.timedelta(days=1) if end else value
        return utc(datetime.datetime.combine(day, datetime.time(), CHINA))

    return as_moment(start, end=False), as_moment(end, end=True)


def incidents_in(uow: UnitOfWork, loader: Loader, start=None, end=None, incident_type: str | None = None) -> list[Event]:
    """Return the incidents (not voided) that occurred in ``[start, end]``, oldest first."""
    lo, hi = period_bounds(start, end)
    idxs = list(uow.session.execute(select(LogEntry.idx).where(LogEntry.kind == "report_incident")).scalars())
    loader.load(idxs)
    voided = set(uow.session.execute(select(Voided.corrected_index).where(
        Voided.corrected_index.in_(idxs), Voided.reason == "did_not_occur")).scalars()) if idxs else set()
    out = []
    for i in sorted(idxs):
        e = loader.event(i)
        if i in voided:
            continue
        if incident_type and e.data.get("incident_type") != incident_type:
            continue
        if (lo and e.occurred_at < lo) or (hi and e.occurred_at >= hi):
            continue
        out.append(e)
    out.sort(key=lambda e: (e.occurred_at, e.index))
    return out


def resolve_incident(uow: UnitOfWork, loader: Loader, e: Event) -> tuple[str | None, str | None, TraceSet | None]:
    """Return ``(vehicle, burnt battery, trace set)`` of an incident, as the records have them."""
    named = [s for s in e.prev if kind_of(s) in ITEM_KINDS]
    vehicle = next((s for s in named if kind_of(s) == "vehicle"), None)
    battery = next((s for s in named if kind_of(s) == "battery"), None)
    start_subject = battery or vehicle or next(iter(named), None)
    start = uow.session.get(Item, start_subject) if start_subject else None
    if start is None:
        return vehicle, battery, None
    ts = collect(uow, loader, start)
    if vehicle is None and battery is not None:
        vehicle = ts.installed_at(battery, e.index)
    if battery is None and vehicle is not None:
        battery = next((p for p in ts.parts if kind_of(p) == "battery" and ts.installed_at(p, e.index) == vehicle), None)
    return vehicle, battery, ts


def clarity_of(uow: UnitOfWork, loader: Loader, e: Event) -> dict:
    """Return which of the six facts the trace of incident *e* resolves."""
    vehicle, battery, ts = resolve_incident(uow, loader, e)
    resolved = dict.fromkeys(CRITERIA, False)
    if ts is not None:
        def before(subject):
            return [loader.event(i) for i in ts.chains.get(subject, []) if i < e.index and i not in ts.voided]

        known = [s for s in (vehicle, battery) if s]
        resolved["maker"] = bool(known) and all(any(x.kind == "commission" for x in before(s)) for s in known)
        vchain = before(vehicle) if vehicle else []
        sale = next((x for x in vchain if x.kind == "sell"), None)
        resolved["seller"] = sale is not None
        resolved["purchase_time"] = bool(sale is not None and sale.occurred_at)
        resolved["owner"] = any(x.kind in ("register", "transfer") for x in vchain) or bool(
            sale is not None and str(sale.data.get("buyer") or "").startswith("owner:"))
        item = ts.items.get(battery) if battery else None
        resolved["battery_type"] = bool(item is not None and item.model and uow.session.get(ProductModel, item.model))
        gaps = [a for a in ts.anomalies if a[0] in known and (a[1] is None or a[1] <= e.index)]
        resolved["modification_history"] = bool(
            sale is not None and battery and vehicle and ts.installed_at(battery, e.index) == vehicle and not gaps)
    return {
        "index": e.index, "case_number": e.data.get("case_number"), "incident_type": e.data.get("incident_type"),
        "occurred_at": e.occurred_at, "escalated": bool(e.data.get("escalated")), "vehicle": vehicle, "battery": battery,
        "resolved": resolved, "clear": all(resolved.values()),
    }


def clarity(uow: UnitOfWork, start=None, end=None) -> dict:
    """Return the clarity rate (查清率) of the incidents in ``[start, end]`` and each incident's six facts."""
    loader = Loader(uow)
    cases = [clarity_of(uow, loader, e) for e in incidents_in(uow, loader, start, end)]
    n = len(cases)
    clear = sum(c["clear"] for c in cases)
    return {
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "incidents": n, "clear": clear, "rate": round(clear / n, 4) if n else None,
        "criteria": {k: sum(c["resolved"][k] for c in cases) for k in CRITERIA},
        "cases": cases,
    }


def incident_counts(uow: UnitOfWork, start=None, end=None, incident_type: str | None = "fire") -> dict:
    """Return incidents (by default fires) counted by the burnt battery's and the vehicle's maker and model."""
    loader = Loader(uow)
    events = incidents_in(uow, loader, start, end, incident_type)
    counters = {k: Counter() for k in ("battery_maker", "battery_model", "vehicle_maker", "vehicle_model")}
    dead = injured = escalated = 0
    makers: dict[str, dict] = {}
    model_maker: dict[str, str | None] = {}
    for e in events:
        vehicle, battery, ts = resolve_incident(uow, loader, e)
        cas = e.data.get("casualties") or {}
        dead += int(cas.get("dead") or 0)
        injured += int(cas.get("injured") or 0)
        escalated += bool(e.data.get("escalated"))
        for role, subject in (("battery", battery), ("vehicle", vehicle)):
            item = (ts.items.get(subject) if ts else None) or (uow.session.get(Item, subject) if subject else None)
            maker = item.maker_org_id if item else None
            if maker and maker not in makers:
                org = uow.session.get(Organisation, maker)
                makers[maker] = {"id": maker, "name": org.name if org else None, "kind": org.kind if org else None}
            counters[f"{role}_maker"][maker] += 1
            counters[f"{role}_model"][item.model if item else None] += 1
            if item is not None:
                model_maker[item.model] = maker

    def rows(counter: Counter, by: str) -> list[dict]:
        out = []
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            if by == "maker":
                out.append({"maker": makers.get(key) if key else None, "count": count})
            else:
                m = model_maker.get(key)
                out.append({"model": key, "maker": makers.get(m) if m else None, "count": count})
        return out

    return {
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "incident_type": incident_type or "all", "total": len(events), "escalated": escalated, "dead": dead, "injured": injured,
        "by_battery_maker": rows(counters["battery_maker"], "maker"), "by_battery_model": rows(counters["battery_model"], "model"),
        "by_vehicle_maker": rows(counters["vehicle_maker"], "maker"), "by_vehicle_model": rows(counters["vehicle_model"], "model"),
    }


def recalls(uow: UnitOfWork, only_open: bool | None = None) -> dict:
    """Return every recall, newest first, with its scope, status and the items remedied under it."""
    stmt = select(Recall).order_by(Recall.opened_index.desc())
    out = []
    for r in uow.session.execute(stmt).scalars():
        is_open = r.closed_index is None
        if only_open is not None and is_open != only_open:
            continue
        org = uow.session.get(Organisation, r.org_id)
        remedied = len(uow.session.execute(select(RecallRemedy.subject).where(RecallRemedy.recall_id == r.id)).all())
        out.append({
            "id": r.id, "open": is_open, "index": r.opened_index, "closed_index": r.closed_index, "reason": r.reason,
            "org": {"id": org.id, "name": org.name, "kind": org.kind} if org else None,
            "model": r.model, "batch": r.batch, "produced_from": r.produced_from, "produced_to": r.produced_to,
            "certificate": r.certificate, "remedied": remedied,
        })
    return {"recalls": out}


def overdue_batteries(uow: UnitOfWork, *, limit: int = 100, after: str | None = None,
                      today: datetime.date | None = None) -> dict:
    """Return batteries in service past 5 years without a passed assessment in force, oldest first.

    Read through the index on ``items.produced_on`` in pages; *after* is the
    ``next`` cursor of the previous page.
    """
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    cutoff = rules._add_years(today, -rules.ASSESSMENT_AGE_YEARS).isoformat()
    after_day, _, after_subject = (after or "").partition("|")
    out, cursor, scanned = [], None, 0
    makers: dict[str, str | None] = {}
    while len(out) < limit:
        stmt = select(Item).where(Item.produced_on.is_not(None), Item.produced_on <= cutoff, Item.kind == "battery",
                                  Item.state.in_(IN_SERVICE))
        if after_day:
            stmt = stmt.where((Item.produced_on > after_day) | ((Item.produced_on == after_day) & (Item.subject > after_subject)))
        rows = list(uow.session.execute(stmt.order_by(Item.produced_on, Item.subject).limit(500)).scalars())
        if not rows:
            cursor = None
            break
        for row in rows:
            scanned += 1
            after_day, after_subject = row.produced_on, row.subject
            produced = datetime.date.fromisoformat(row.produced_on)
            assessed = datetime.date.fromisoformat(row.assessed_on) if row.assessed_on else None
            if not rules.battery_overdue_for_assessment(produced, assessed, today):
                continue
            if row.maker_org_id and row.maker_org_id not in makers:
                org = uow.session.get(Organisation, row.maker_org_id)
                makers[row.maker_org_id] = org.name if org else None
            out.append({
                "subject": row.subject, "identifier": row.identifier, "model": row.model,
                "maker": makers.get(row.maker_org_id), "produced_on": row.produced_on, "assessed_on": row.assessed_on,
                "due_on": rules.assessment_due_on(produced).isoformat(), "age_days": found.age_days(row.produced_on, today),
                "state": row.state, "installed_in": row.installed_in, "holder_org_id": row.holder_org_id,
            })
            if len(out) >= limit:
                cursor = f"{row.produced_on}|{row.subject}"
                break
        else:
            cursor = f"{after_day}|{after_subject}" if len(rows) == 500 else None
            if cursor is None or scanned >= MAX_SCAN:
                break
    return {"as_of": today.isoformat(), "batteries": out, "next": cursor}
