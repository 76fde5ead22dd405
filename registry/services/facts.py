"""Reference facts a unit of work reads again and again, read once per unit of work.

A sale, a swap or a registration asks about product models, certificates,
organisations, the positive list and the blacklist, approved pairings and open
recalls: a handful of small tables that item events never change. A writing unit
of work holds the append lock, so nothing else changes them either; a reading one
answers one request. So each fact is read once per unit of work and kept in
``uow.facts`` — and dropped as soon as an event of a kind that may change a fact
is recorded in it (:func:`recorded`), when the unit of work commits or rolls back.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

from sqlalchemy import select

from registry.store.models import ModelApproval, OrgListing, Recall, RecallRemedy
from registry.store.uow import UnitOfWork

T = TypeVar("T")

#: Event kinds that change items only (never a model, certificate, organisation,
#: listing, approval or recall): recording them keeps the facts.
ITEM_ONLY = frozenset({
    "commission", "ship", "receive", "sell", "register", "transfer", "deregister", "backfill", "transfer_in", "repair",
    "swap_battery", "replace_charger", "report_modification", "assess_battery", "report_stolen",
    "report_recovered", "report_incident", "retire", "recycle", "scrap",
})


def recorded(uow: UnitOfWork, kinds: Iterable[str]) -> None:
    """Forget the facts if an event of one of *kinds* may have changed them."""
    if uow.facts and any(k not in ITEM_ONLY for k in kinds):
        uow.facts.clear()


def get(uow: UnitOfWork, model: type[T], key) -> T | None:
    """``session.get`` of a reference row (ProductModel, Certificate, Organisation), once per unit of work."""
    if key is None:
        return None
    memo = uow.facts
    k = (model, key)
    try:
        return memo[k]
    except KeyError:
        row = memo[k] = uow.session.get(model, key)
        return row


def listings(uow: UnitOfWork) -> tuple[frozenset, frozenset]:
    """Return (blacklisted organisations, positively listed organisations)."""
    memo = uow.facts
    if "listings" not in memo:
        rows = uow.session.execute(select(OrgListing.list, OrgListing.org_id)).all()
        memo["listings"] = (frozenset(o for lst, o in rows if lst == "blacklist"),
                            frozenset(o for lst, o in rows if lst == "positive"))
    return memo["listings"]


def approved(uow: UnitOfWork, vehicle_model: str | None, part_kind: str) -> frozenset:
    """Return the part models approved for *vehicle_model*."""
    if not vehicle_model:
        return frozenset()
    k = ("approved", vehicle_model, part_kind)
    memo = uow.facts
    if k not in memo:
        memo[k] = frozenset(uow.session.execute(
            select(ModelApproval.part_model).where(ModelApproval.vehicle_model == vehicle_model,
                                                   ModelApproval.part_kind == part_kind)).scalars())
    return memo[k]


def open_recalls(uow: UnitOfWork) -> list[Recall]:
    """Return every open recall (a short list: recalls are opened by regulators, a few a year)."""
    memo = uow.facts
    if "open_recalls" not in memo:
        memo["open_recalls"] = list(uow.session.execute(
            select(Recall).where(Recall.closed_index.is_(None)).order_by(Recall.opened_index)).scalars())
    return memo["open_recalls"]


def remedied(uow: UnitOfWork, subject: str) -> set[str]:
    """Return the recalls remedied for *subject* (read only when a recall covers it)."""
    return set(uow.session.execute(select(RecallRemedy.recall_id).where(RecallRemedy.subject == subject)).scalars())
