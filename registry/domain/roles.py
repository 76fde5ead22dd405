"""Organisation kinds and who may record which event (DOMAIN.md, normative)."""

from __future__ import annotations

from dataclasses import dataclass

from registry.domain.errors import DomainError, not_allowed

ORG_KINDS: dict[str, tuple[str, str]] = {
    "manufacturer": ("生产企业", "Manufacturer"),
    "dealer": ("销售网点", "Dealer"),
    "registration_point": ("登记上牌点", "Registration point"),
    "repair_shop": ("维修点", "Repair shop"),
    "swap_operator": ("换电运营商", "Battery swap operator"),
    "recycler": ("回收网点", "Recycler"),
    "investigator": ("消防/公安", "Investigator"),
    "regulator": ("市场监管", "Regulator"),
    "admin": ("系统管理员", "Administrator"),
}

#: Event kind -> organisation kinds that may record it. Finer conditions ("its own
#: models", "the current holder", "the organisation it was shipped to") are checked
#: by each use case once the kind is allowed.
RECORDED_BY: dict[str, frozenset[str]] = {
    "register_organisation": frozenset({"admin"}),
    "certificate": frozenset({"manufacturer", "regulator"}),
    "model": frozenset({"manufacturer"}),
    "commission": frozenset({"manufacturer"}),
    # "the current holder of the item" / "the organisation it was shipped to": any kind may hold
    # an item (an investigator keeps evidence, a regulator samples); the use case checks who holds it
    "ship": frozenset(ORG_KINDS),
    "receive": frozenset(ORG_KINDS),
    "sell": frozenset({"dealer"}),
    "register": frozenset({"registration_point"}),
    "transfer": frozenset({"registration_point"}),
    "deregister": frozenset({"registration_point"}),
    "backfill": frozenset({"registration_point"}),
    # a vehicle arriving from another region's log (转入登记)
    "transfer_in": frozenset({"registration_point"}),
    "repair": frozenset({"repair_shop", "swap_operator"}),
    "swap_battery": frozenset({"repair_shop", "swap_operator"}),
    "replace_charger": frozenset({"repair_shop", "swap_operator"}),
    "report_modification": frozenset({"repair_shop", "registration_point", "investigator", "regulator"}),
    "assess_battery": frozenset({"repair_shop", "recycler", "regulator"}),
    "recall": frozenset({"regulator", "manufacturer"}),
    "recall_remedy": frozenset({"regulator", "manufacturer"}),
    "certificate_status": frozenset({"regulator"}),
    "list_change": frozenset({"regulator"}),
    "report_stolen": frozenset({"registration_point", "investigator"}),
    "report_recovered": frozenset({"registration_point", "investigator"}),
    "report_incident": frozenset({"investigator"}),
    "retire": frozenset({"recycler"}),
    "recycle": frozenset({"recycler"}),
    "scrap": frozenset({"recycler"}),
    # the recording organisation or admin: the use case checks which event it corrects
    "correction": frozenset(ORG_KINDS),
}

EVENT_KINDS = tuple(RECORDED_BY)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of one organisation of one kind."""

    org_id: str
    org_kind: str
    user_id: str


def may_record(org_kind: str, event_kind: str) -> bool:
    """Return whether an organisation of *org_kind* may record *event_kind* at all."""
    return org_kind in RECORDED_BY.get(event_kind, frozenset())


def require(actor: Actor, event_kind: str) -> None:
    """Refuse (403) an actor whose organisation kind may not record *event_kind*."""
    if not may_record(actor.org_kind, event_kind):
        zh_kind = ORG_KINDS.get(actor.org_kind, (actor.org_kind,))[0]
        raise not_allowed(
            "role_not_allowed",
            f"{zh_kind}无权记录此类事件（{event_kind}）",
            f"a {actor.org_kind} may not record {event_kind} events",
        )


def require_kind(actor: Actor, *kinds: str) -> None:
    """Refuse (403) an actor whose organisation is none of *kinds*."""
    if actor.org_kind not in kinds:
        raise not_allowed(
            "role_not_allowed",
            "当前机构类型无权执行此操作",
            f"a {actor.org_kind} may not do this (needs {', '.join(kinds)})",
        )


__all__ = ["ORG_KINDS", "RECORDED_BY", "EVENT_KINDS", "Actor", "may_record", "require", "require_kind", "DomainError"]
