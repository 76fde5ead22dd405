"""The regulator's dashboard: the statistics of :mod:`registry.services.stats` plus registrations by month and the catalogue."""

from __future__ import annotations

import datetime
import json

from sqlalchemy import select

from registry.services import stats
from registry.store.models import Certificate, LogEntry, Organisation, ProductModel
from registry.store.uow import UnitOfWork

#: Months are calendar months in China Standard Time.
CST = datetime.timezone(datetime.timedelta(hours=8))
REGISTRATION_KINDS = ("register", "backfill")


def _month_starts(today: datetime.date, months: int) -> list[datetime.date]:
    y, m = today.year, today.month
    out = []
    for _ in range(months):
        out.append(datetime.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def registrations_by_month(uow: UnitOfWork, months: int = 12, today: datetime.date | None = None) -> list[dict]:
    """Return ``[{month: "YYYY-MM", count}]`` of registrations (new and backfilled) over the last *months* months."""
    today = today or datetime.datetime.now(CST).date()
    starts = _month_starts(today, months)
    since = datetime.datetime.combine(starts[0], datetime.time(), CST).astimezone(datetime.timezone.utc)
    counts = {d.strftime("%Y-%m"): 0 for d in starts}
    rows = uow.session.execute(
        select(LogEntry.body).where(LogEntry.kind.in_(REGISTRATION_KINDS), LogEntry.recorded_at >= since)
    ).scalars()
    for raw in rows:
        body = json.loads(bytes(raw))
        moment = datetime.datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")).astimezone(CST)
        key = moment.strftime("%Y-%m")
        if key in counts:
            counts[key] += 1
    return [{"month": k, "count": v} for k, v in counts.items()]


def certificates(uow: UnitOfWork) -> list[dict]:
    """Return every CCC certificate with its holder and status, newest first."""
    out = []
    names = {o.id: o.name for o in uow.session.execute(select(Organisation)).scalars()}
    for c in uow.session.execute(select(Certificate).order_by(Certificate.registered_index.desc())).scalars():
        out.append({"number": c.number, "product_kind": c.product_kind, "model": c.model, "holder": names.get(c.holder_org_id),
                    "issued_on": c.issued_on, "expires_on": c.expires_on, "status": c.status})
    return out


def models(uow: UnitOfWork) -> list[dict]:
    """Return every model (name, kind, maker), for recall forms."""
    names = {o.id: o.name for o in uow.session.execute(select(Organisation)).scalars()}
    return [{"model": m.model, "kind": m.kind, "maker": names.get(m.maker_org_id), "certificate": m.certificate}
            for m in uow.session.execute(select(ProductModel).order_by(ProductModel.kind, ProductModel.model)).scalars()]


def overview(uow: UnitOfWork, today: datetime.date | None = None) -> dict:
    """Return everything the dashboard shows: incidents by brand and model, clarity, recalls, overdue batteries, registrations."""
    overdue = stats.overdue_batteries(uow, limit=50, today=today)
    return {
        "incidents": stats.incident_counts(uow, None, None, None),
        "clarity": stats.clarity(uow),
        "recalls": [r for r in stats.recalls(uow, only_open=True)["recalls"]],
        "overdue": overdue["batteries"],
        "overdue_more": overdue["next"] is not None,
        "registrations": registrations_by_month(uow, 12, today),
    }
