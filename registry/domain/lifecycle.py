"""State machines of vehicles, batteries and chargers: one pure transition per event kind.

Every item is an :class:`ItemState` (a frozen dataclass whose fields mirror the
``items`` projection).  Each transition takes the current state(s) and returns
the new one(s), or raises :class:`~registry.domain.errors.DomainError` with
status 409 and a stable code from :data:`EVENT_STATE_CODES`.  Nothing is ever
mutated: a refused step leaves its inputs exactly as they were.

Lifecycles (DOMAIN.md "Lifecycles")::

    vehicle  commissioned → shipped → in_stock → sold → registered ⇄ (transfer) → deregistered
                                                  └──────────────┴────────────────┴→ scrapped
    battery  commissioned → shipped → in_stock → installed (in V) → removed → shipped → in_stock
             (at a shop or recycler) → installed (in V′) … → retired → recycled
    charger  like the battery

Choices made here (the services rely on them):

* **At a sale the battery and charger become ``installed`` in the vehicle**
  (bound: ``vehicle.battery``/``vehicle.charger`` name them and their
  ``installed_in`` names the vehicle).  Only the vehicle is ``sold``; so
  "battery and charger bound to the vehicle" means the same thing at
  registration, in a swap and in a trace, and a part is installed in at most
  one vehicle at any time.
* Bindings hold **subjects** (``"vehicle:117322500000001"``), as the
  ``items.installed_in``, ``items.battery`` and ``items.charger`` columns do;
  see :func:`subject` and :func:`split_subject`.
* ``holder_org_id`` is the organisation that has the item; it is ``None`` once
  an owner has it (a sale to a person), or the buying organisation (a sale to
  a swap operator, 车电分离).  Parts follow their vehicle's holder and owner.
* A ``removed`` part is held by the organisation that removed it.  That holder
  may ship it on, or install it again by a swap (a swap operator's batteries go
  round its fleet without a shipment to itself); a recycler may retire it
  wherever it lies (it collects it).
* Deregistering or scrapping a vehicle frees its plate (``plate`` becomes
  ``None``) and keeps its last owner for the trace.  Scrapping unbinds the
  battery and charger: they become ``removed``, held by the recycler.
* A failed health assessment voids an earlier passed one: ``assessed_on`` is
  the date of the passed assessment in force, or ``None``.
* ``stolen`` is a flag, not a state; ``recalled`` is not stored at all (it is
  derived from the open recalls, see :func:`registry.domain.rules.recall_covers`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from registry.domain.errors import DomainError, conflict

__all__ = [
    "ITEM_KINDS",
    "VEHICLE_STATES",
    "PART_STATES",
    "STATES",
    "MESSAGES",
    "EVENT_STATE_CODES",
    "REFUSAL_CODES",
    "ItemState",
    "subject",
    "split_subject",
    "refusal",
    "commission",
    "ship",
    "receive",
    "sell",
    "register",
    "transfer",
    "deregister",
    "backfill",
    "transfer_in",
    "crosses_regions",
    "carried",
    "swap_battery",
    "replace_charger",
    "retire",
    "recycle",
    "scrap",
    "report_stolen",
    "report_recovered",
    "assess_battery",
]

ITEM_KINDS = ("vehicle", "battery", "charger")

VEHICLE_STATES = ("commissioned", "shipped", "in_stock", "sold", "registered", "deregistered", "scrapped")
PART_STATES = ("commissioned", "shipped", "in_stock", "installed", "removed", "retired", "recycled")
STATES: dict[str, tuple[str, ...]] = {"vehicle": VEHICLE_STATES, "battery": PART_STATES, "charger": PART_STATES}

#: Kind -> (Chinese, English) name, used in messages.
KIND_LABELS: dict[str, tuple[str, str]] = {
    "vehicle": ("车辆", "vehicle"),
    "battery": ("蓄电池", "battery"),
    "charger": ("充电器", "charger"),
}

#: Every refusal code of this module -> (Chinese, English) message template.
#: ``{zh}`` / ``{en}`` name the item concerned, e.g. ``蓄电池 CATLF48V2026000001``.
MESSAGES: dict[str, tuple[str, str]] = {
    "wrong_kind": ("{zh}不是此操作所需的物品类型", "{en} is not the kind of item this step needs"),
    "already_commissioned": ("{zh}已赋码，不能重复赋码", "{en} is already coded"),
    "already_coded": ("{zh}已在系统中赋码，不能补码", "{en} is already coded in the registry and cannot be backfilled"),
    "item_not_in_your_stock": ("{zh}不在本机构库存中", "{en} is not in your organisation's stock"),
    "item_in_transit": ("{zh}正在发运途中，须先由收货方验收", "{en} is in transit: the receiving organisation must accept it first"),
    "item_installed": ("{zh}已安装在车辆上，须先拆下", "{en} is installed in a vehicle: remove it first"),
    "item_retired": ("{zh}已退役，不能再使用", "{en} is retired and may not be used again"),
    "item_recycled": ("{zh}已回收拆解", "{en} has been recycled"),
    "item_not_retired": ("{zh}尚未退役，不能回收拆解", "{en} is not retired and cannot be recycled"),
    "vehicle_scrapped": ("{zh}已报废", "{en} is scrapped"),
    "ship_to_self": ("{zh}不能发运给本机构自己", "{en} cannot be shipped to your own organisation"),
    "not_shipped_to_you": ("{zh}未发运给本机构，不能收货", "{en} was not shipped to your organisation"),
    "buyer_missing": ("销售{zh}须指明购买人或购买机构", "the sale of {en} must name a buyer or a buying organisation"),
    "buyer_conflict": ("销售{zh}只能指明购买人或购买机构之一", "the sale of {en} must name a buyer or a buying organisation, not both"),
    "vehicle_already_sold": ("{zh}已售出", "{en} has already been sold"),
    "not_in_dealer_stock": ("{zh}不在本销售网点库存中", "{en} is not in this dealer's stock"),
    "battery_already_installed": ("{zh}已安装在一辆车上", "{en} is already installed in a vehicle"),
    "charger_already_installed": ("{zh}已与一辆车绑定", "{en} is already bound to a vehicle"),
    "battery_missing": (
        "{zh}不能不带蓄电池销售（严禁整车与蓄电池拆分销售），换电运营商购车除外",
        "{en} may not be sold without a battery (no split sales) unless the buyer is a swap operator",
    ),
    "charger_missing": ("{zh}不能不带充电器销售", "{en} may not be sold without a charger"),
    "reused_battery": ("{zh}为梯次利用蓄电池，不得用于电动自行车", "{en} is a reused battery and may not go into an e-bike"),
    "vehicle_not_sold": ("{zh}尚未售出，不能登记", "{en} has not been sold and cannot be registered"),
    "already_registered": ("{zh}已登记", "{en} is already registered"),
    "vehicle_deregistered": ("{zh}已注销登记", "{en} has been deregistered"),
    "battery_not_bound": ("{zh}未与该车辆绑定", "{en} is not bound to the vehicle"),
    "charger_not_bound": ("{zh}未与该车辆绑定", "{en} is not bound to the vehicle"),
    "owner_missing": ("{zh}须指明车主", "{en} needs an owner"),
    "plate_missing": ("{zh}须指明号牌", "{en} needs a plate"),
    "vehicle_not_registered": ("{zh}未登记", "{en} is not registered"),
    "vehicle_stolen": ("{zh}已被报盗抢，不能办理过户", "{en} is reported stolen and cannot be transferred"),
    "same_owner": ("{zh}已登记在该车主名下", "{en} is already registered to this owner"),
    "battery_not_installed_in_vehicle": ("{zh}不是该车辆当前安装的蓄电池", "{en} is not the battery installed in the vehicle"),
    "charger_not_installed_in_vehicle": ("{zh}不是该车辆当前绑定的充电器", "{en} is not the charger bound to the vehicle"),
    "backfill_needs_vehicle": ("补码{zh}须指明其所在的已登记车辆", "backfilling {en} needs the registered vehicle it is in"),
    "vehicle_has_battery": ("{zh}已装有蓄电池，请改用换电登记", "{en} already has a battery: record a battery swap instead"),
    "vehicle_has_charger": ("{zh}已绑定充电器，请改用更换充电器登记", "{en} already has a charger: record a charger replacement instead"),
    "vehicle_not_in_service": ("{zh}不在使用中（须已售出或已登记）", "{en} is not in service (it must be sold or registered)"),
    "old_battery_not_installed": ("{zh}不是该车辆当前安装的蓄电池", "{en} is not the battery installed in the vehicle"),
    "old_charger_not_installed": ("{zh}不是该车辆当前绑定的充电器", "{en} is not the charger bound to the vehicle"),
    "vehicle_without_battery": (
        "{zh}为车电分离车辆，未装蓄电池，只有换电运营商可以为其安装",
        "{en} was sold without a battery (battery-free sale): only a swap operator may install one",
    ),
    "not_in_shop_stock": ("{zh}不在本机构库存中，不能用于更换", "{en} is not in your organisation's stock and cannot be fitted"),
    "already_reported_stolen": ("{zh}已被报盗抢", "{en} is already reported stolen"),
    "not_reported_stolen": ("{zh}未被报盗抢", "{en} is not reported stolen"),
    "already_in_registry": (
        "{zh}已在本登记系统中，不能再转入",
        "{en} is already in this registry and cannot be transferred in",
    ),
    "assessment_before_production": ("{zh}的评估日期早于生产日期", "the assessment of {en} is dated before its production"),
}

#: Event kind -> every refusal code its transition may raise (all with status 409).
EVENT_STATE_CODES: dict[str, tuple[str, ...]] = {
    "commission": ("wrong_kind", "already_commissioned"),
    "ship": (
        "item_retired", "item_recycled", "vehicle_scrapped", "item_in_transit", "item_installed",
        "item_not_in_your_stock", "ship_to_self",
    ),
    "receive": ("not_shipped_to_you",),
    "sell": (
        "wrong_kind", "buyer_missing", "buyer_conflict", "vehicle_scrapped", "vehicle_already_sold",
        "not_in_dealer_stock", "item_retired", "item_recycled", "battery_already_installed",
        "charger_already_installed", "battery_missing", "charger_missing", "reused_battery",
    ),
    "register": (
        "wrong_kind", "vehicle_scrapped", "already_registered", "vehicle_deregistered", "vehicle_not_sold",
        "battery_not_bound", "charger_not_bound", "owner_missing", "plate_missing",
    ),
    "transfer": (
        "wrong_kind", "vehicle_not_registered", "vehicle_stolen", "owner_missing", "same_owner",
        "battery_not_installed_in_vehicle", "charger_not_installed_in_vehicle",
    ),
    "deregister": ("wrong_kind", "vehicle_not_registered"),
    "backfill": (
        "wrong_kind", "already_coded", "owner_missing", "backfill_needs_vehicle", "vehicle_not_registered",
        "vehicle_has_battery", "vehicle_has_charger", "reused_battery",
    ),
    "transfer_in": (
        "wrong_kind", "already_in_registry", "owner_missing", "plate_missing", "battery_not_bound",
        "charger_not_bound",
    ),
    "swap_battery": (
        "wrong_kind", "vehicle_not_in_service", "old_battery_not_installed", "vehicle_without_battery",
        "item_retired", "item_recycled", "battery_already_installed", "not_in_shop_stock", "reused_battery",
    ),
    "replace_charger": (
        "wrong_kind", "vehicle_not_in_service", "old_charger_not_installed", "item_retired", "item_recycled",
        "charger_already_installed", "not_in_shop_stock",
    ),
    "retire": (
        "wrong_kind", "item_retired", "item_recycled", "item_installed", "item_in_transit", "item_not_in_your_stock",
    ),
    "recycle": ("wrong_kind", "item_recycled", "item_not_retired", "item_not_in_your_stock"),
    "scrap": (
        "wrong_kind", "vehicle_scrapped", "item_in_transit", "item_not_in_your_stock",
        "battery_not_installed_in_vehicle", "charger_not_installed_in_vehicle",
    ),
    "report_stolen": ("vehicle_scrapped", "item_recycled", "already_reported_stolen"),
    "report_recovered": ("not_reported_stolen",),
    "assess_battery": ("wrong_kind", "item_recycled", "assessment_before_production"),
}

#: Every code any transition may raise.
REFUSAL_CODES: frozenset[str] = frozenset(code for codes in EVENT_STATE_CODES.values() for code in codes)


def subject(kind: str, identifier: str) -> str:
    """Return the chain subject ``kind:identifier`` of an item."""
    return f"{kind}:{identifier}"


def split_subject(value: str) -> tuple[str, str]:
    """Return ``(kind, identifier)`` of a subject ``kind:identifier``."""
    kind, sep, identifier = value.partition(":")
    if not sep or kind not in ITEM_KINDS or not identifier:
        raise ValueError(f"not an item subject: {value!r}")
    return kind, identifier


def _as_date(value: Any) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


@dataclass(frozen=True)
class ItemState:
    """The current state of one coded item, as the ``items`` projection holds it."""

    kind: str
    identifier: str
    state: str
    #: The organisation that has it now; ``None`` once it is with an owner.
    holder_org_id: str | None = None
    #: Where it was shipped and not yet received.
    shipped_to_org_id: str | None = None
    #: Battery or charger: the subject of the vehicle it is installed in.
    installed_in: str | None = None
    #: Vehicle: the subjects of its battery and charger.
    battery: str | None = None
    charger: str | None = None
    #: Pseudonym of the owner (registered or sold vehicles and their parts).
    owner: str | None = None
    model: str | None = None
    maker_org_id: str | None = None
    produced_on: datetime.date | None = None
    batch: str | None = None
    reused: bool = False
    legacy: bool = False
    backfilled: bool = False
    stolen: bool = False
    #: Battery: the date of the passed health assessment in force.
    assessed_on: datetime.date | None = None
    plate: str | None = None
    #: Vehicle: the dealer that sold it.
    sold_by_org_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in STATES:
            raise ValueError(f"unknown item kind {self.kind!r}")
        if self.state not in STATES[self.kind]:
            raise ValueError(f"{self.state!r} is not a state of a {self.kind}")

    @property
    def subject(self) -> str:
        """The chain subject ``kind:identifier``."""
        return subject(self.kind, self.identifier)

    @classmethod
    def from_record(cls, record: Any) -> ItemState:
        """Build from a mapping or an object with the ``items`` columns (ISO dates become dates)."""
        get = record.get if isinstance(record, Mapping) else lambda name, default=None: getattr(record, name, default)
        values: dict[str, Any] = {}
        for name in _STATE_FIELDS:
            value = get(name, None)
            if name in _DATES:
                value = _as_date(value)
            elif name in _FLAGS:
                value = bool(value)
            if value is not None or name in _REQUIRED:
                values[name] = value
        return cls(**values)

    def to_record(self) -> dict[str, Any]:
        """Return the ``items`` columns this state sets (dates as ISO strings), with ``subject``."""
        out: dict[str, Any] = {"subject": self.subject}
        for name in _STATE_FIELDS:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime.date) else value
        return out


# (read once: ``dataclasses.fields`` per call was a tenth of an event's rule checks)
_STATE_FIELDS = tuple(f.name for f in fields(ItemState))
_DATES = frozenset({"produced_on", "assessed_on"})
_FLAGS = frozenset({"reused", "legacy", "backfilled", "stolen"})
_REQUIRED = frozenset({"kind", "identifier", "state"})


# --------------------------------------------------------------------------
# Refusals


def _names(item: ItemState | None, kind: str | None = None) -> dict[str, str]:
    if item is None:
        zh, en = KIND_LABELS.get(kind or "", ("物品", "item"))
        return {"zh": zh, "en": en}
    zh, en = KIND_LABELS[item.kind]
    return {"zh": f"{zh} {item.identifier}", "en": f"{en} {item.identifier}"}


def refusal(code: str, item: ItemState | None = None, kind: str | None = None) -> DomainError:
    """Return the 409 :class:`DomainError` of ``code`` naming ``item`` (or its ``kind``)."""
    zh, en = MESSAGES[code]
    names = _names(item, kind)
    en = en.format(**names)
    return conflict(code, zh.format(**names), en[:1].upper() + en[1:])


def _expect_kind(item: ItemState, kind: str) -> None:
    if item.kind != kind:
        raise refusal("wrong_kind", item)


def _refuse_terminal(item: ItemState) -> None:
    if item.state == "retired":
        raise refusal("item_retired", item)
    if item.state == "recycled":
        raise refusal("item_recycled", item)
    if item.state == "scrapped":
        raise refusal("vehicle_scrapped", item)


def _bound(vehicle: ItemState, part: ItemState | None, slot: str) -> bool:
    """Whether ``part`` is the battery/charger (``slot``) bound to ``vehicle``, both ways."""
    bound = getattr(vehicle, slot)
    if part is None:
        return bound is None
    return (
        part.kind == slot
        and bound == part.subject
        and part.installed_in == vehicle.subject
        and part.state == "installed"
    )


def _install(part: ItemState, vehicle: ItemState) -> ItemState:
    return replace(
        part,
        state="installed",
        installed_in=vehicle.subject,
        holder_org_id=vehicle.holder_org_id,
        shipped_to_org_id=None,
        owner=vehicle.owner,
    )


def _remove(part: ItemState, holder_org: str) -> ItemState:
    return replace(part, state="removed", installed_in=None, holder_org_id=holder_org, shipped_to_org_id=None, owner=None)


# --------------------------------------------------------------------------
# Making and moving


def commission(
    kind: str,
    identifier: str,
    maker_org: str,
    *,
    model: str | None = None,
    produced_on: datetime.date | None = None,
    batch: str | None = None,
    reused: bool = False,
    existing: ItemState | None = None,
) -> ItemState:
    """Code a new item: ``commissioned``, held by its maker."""
    if kind not in ITEM_KINDS:
        raise refusal("wrong_kind")
    if existing is not None:
        raise refusal("already_commissioned", existing)
    return ItemState(
        kind=kind,
        identifier=identifier,
        state="commissioned",
        holder_org_id=maker_org,
        model=model,
        maker_org_id=maker_org,
        produced_on=produced_on,
        batch=batch,
        reused=reused and kind == "battery",
    )


def ship(item: ItemState, actor_org: str, to_org: str) -> ItemState:
    """Hand an item its holder has (commissioned, in stock or removed) over to ``to_org``."""
    _refuse_terminal(item)
    if item.state == "shipped":
        raise refusal("item_in_transit", item)
    if item.state == "installed":
        raise refusal("item_installed", item)
    if item.state not in ("commissioned", "in_stock", "removed") or item.holder_org_id != actor_org:
        raise refusal("item_not_in_your_stock", item)
    if to_org == actor_org:
        raise refusal("ship_to_self", item)
    return replace(item, state="shipped", shipped_to_org_id=to_org)


def receive(item: ItemState, actor_org: str) -> ItemState:
    """Accept an item shipped to ``actor_org``: it is now in its stock."""
    if item.state != "shipped" or item.shipped_to_org_id != actor_org:
        raise refusal("not_shipped_to_you", item)
    return replace(item, state="in_stock", holder_org_id=actor_org, shipped_to_org_id=None)


# --------------------------------------------------------------------------
# Sale, registration, ownership


def _sellable_part(part: ItemState, dealer_org: str) -> None:
    _refuse_terminal(part)
    if part.state == "installed":
        raise refusal(f"{part.kind}_already_installed", part)
    if part.state != "in_stock" or part.holder_org_id != dealer_org:
        raise refusal("not_in_dealer_stock", part)


def sell(
    vehicle: ItemState,
    battery: ItemState | None,
    charger: ItemState | None,
    dealer_org: str,
    owner_pseudonym: str | None = None,
    buyer_org: str | None = None,
    *,
    buyer_is_swap_operator: bool = False,
) -> tuple[ItemState, ItemState | None, ItemState]:
    """Sell a complete set from ``dealer_org``'s stock; return (vehicle, battery, charger).

    The vehicle becomes ``sold`` and the battery and charger ``installed`` in
    it, all owned by ``owner_pseudonym`` or held by ``buyer_org``.  Only a swap
    operator (``buyer_org`` with ``buyer_is_swap_operator``) may buy without a
    battery (车电分离).  The full rule set (certificates, approvals, recalls,
    lists) is :func:`registry.domain.rules.check_sale`; this is the state step.
    """
    _expect_kind(vehicle, "vehicle")
    if battery is not None:
        _expect_kind(battery, "battery")
    if charger is not None:
        _expect_kind(charger, "charger")
    if not owner_pseudonym and not buyer_org:
        raise refusal("buyer_missing", vehicle)
    if owner_pseudonym and buyer_org:
        raise refusal("buyer_conflict", vehicle)
    _refuse_terminal(vehicle)
    if vehicle.state in ("sold", "registered", "deregistered"):
        raise refusal("vehicle_already_sold", vehicle)
    if vehicle.state != "in_stock" or vehicle.holder_org_id != dealer_org:
        raise refusal("not_in_dealer_stock", vehicle)
    if battery is None:
        if not (buyer_org and buyer_is_swap_operator):
            raise refusal("battery_missing", vehicle)
    else:
        _sellable_part(battery, dealer_org)
        if battery.reused:
            raise refusal("reused_battery", battery)
    if charger is None:
        raise refusal("charger_missing", vehicle)
    _sellable_part(charger, dealer_org)

    sold = replace(
        vehicle,
        state="sold",
        holder_org_id=buyer_org or None,
        shipped_to_org_id=None,
        owner=owner_pseudonym or None,
        battery=battery.subject if battery is not None else None,
        charger=charger.subject,
        sold_by_org_id=dealer_org,
    )
    return sold, (_install(battery, sold) if battery is not None else None), _install(charger, sold)


def register(
    vehicle: ItemState,
    battery: ItemState | None,
    charger: ItemState | None,
    owner: str,
    plate: str,
    registration_point_org: str,
) -> tuple[ItemState, ItemState | None, ItemState | None]:
    """Register a sold vehicle with its bound parts to ``owner`` under ``plate``; return the three.

    ``battery`` and ``charger`` must be the parts bound to the vehicle at the
    sale (``None`` only where the vehicle has none: a battery-free vehicle of a
    swap operator).  Whether that absence is allowed, the owner's document and
    the plate's uniqueness are :func:`registry.domain.rules.check_registration`.
    ``registration_point_org`` is recorded by the event, not in the state.
    """
    del registration_point_org  # recorded by the event; the item's state does not hold it
    _expect_kind(vehicle, "vehicle")
    _refuse_terminal(vehicle)
    if vehicle.state == "registered":
        raise refusal("already_registered", vehicle)
    if vehicle.state == "deregistered":
        raise refusal("vehicle_deregistered", vehicle)
    if vehicle.state != "sold":
        raise refusal("vehicle_not_sold", vehicle)
    if not _bound(vehicle, battery, "battery"):
        raise refusal("battery_not_bound", battery, "battery")
    if charger is None or not _bound(vehicle, charger, "charger"):
        raise refusal("charger_not_bound", charger, "charger")
    if not owner:
        raise refusal("owner_missing", vehicle)
    if not plate:
        raise refusal("plate_missing", vehicle)
    registered = replace(vehicle, state="registered", owner=owner, plate=plate)
    return (
        registered,
        replace(battery, owner=owner) if battery is not None else None,
        replace(charger, owner=owner),
    )


def _parts_of(vehicle: ItemState, battery: ItemState | None, charger: ItemState | None) -> None:
    """Refuse parts that are not exactly the ones installed in ``vehicle``."""
    if not _bound(vehicle, battery, "battery"):
        raise refusal("battery_not_installed_in_vehicle", battery, "battery")
    if not _bound(vehicle, charger, "charger"):
        raise refusal("charger_not_installed_in_vehicle", charger, "charger")


def transfer(
    vehicle: ItemState,
    new_owner: str,
    battery: ItemState | None = None,
    charger: ItemState | None = None,
) -> tuple[ItemState, ItemState | None, ItemState | None]:
    """Transfer a registered vehicle and its installed parts to ``new_owner``; return the three.

    It stays ``registered`` with its plate; a stolen vehicle is not transferred.
    """
    _expect_kind(vehicle, "vehicle")
    if vehicle.state != "registered":
        raise refusal("vehicle_not_registered", vehicle)
    if vehicle.stolen:
        raise refusal("vehicle_stolen", vehicle)
    if not new_owner:
        raise refusal("owner_missing", vehicle)
    if new_owner == vehicle.owner:
        raise refusal("same_owner", vehicle)
    _parts_of(vehicle, battery, charger)
    return (
        replace(vehicle, owner=new_owner),
        replace(battery, owner=new_owner) if battery is not None else None,
        replace(charger, owner=new_owner) if charger is not None else None,
    )


def deregister(vehicle: ItemState) -> ItemState:
    """Deregister a registered vehicle: its plate is freed, its last owner kept."""
    _expect_kind(vehicle, "vehicle")
    if vehicle.state != "registered":
        raise refusal("vehicle_not_registered", vehicle)
    return replace(vehicle, state="deregistered", plate=None)


def backfill(
    kind: str,
    identifier: str,
    *,
    registration_point_org: str,
    owner: str | None = None,
    existing: ItemState | None = None,
    vehicle: ItemState | None = None,
    plate: str | None = None,
    model: str | None = None,
    maker_org_id: str | None = None,
    produced_on: datetime.date | None = None,
    batch: str | None = None,
    legacy: bool = False,
    reused: bool = False,
) -> tuple[ItemState, ItemState | None]:
    """Code an item already on the road (补码); return (the new item, the vehicle it went into or None).

    A vehicle goes straight to ``registered`` (owner required, plate
    optional); a battery or charger straight to ``installed`` in ``vehicle``,
    a registered vehicle with that slot empty.  Flagged ``backfilled`` forever.
    ``existing`` is the item already coded under ``identifier``, if any.
    """
    del registration_point_org  # recorded by the event; the item's state does not hold it
    if kind not in ITEM_KINDS:
        raise refusal("wrong_kind")
    if existing is not None:
        raise refusal("already_coded", existing)
    common = dict(
        kind=kind,
        identifier=identifier,
        model=model,
        maker_org_id=maker_org_id,
        produced_on=produced_on,
        batch=batch,
        legacy=legacy,
        backfilled=True,
    )
    if kind == "vehicle":
        if vehicle is not None:
            raise refusal("wrong_kind", vehicle)
        if not owner:
            raise refusal("owner_missing", kind="vehicle")
        return ItemState(state="registered", owner=owner, plate=plate or None, **common), None
    if vehicle is None:
        raise refusal("backfill_needs_vehicle", kind=kind)
    _expect_kind(vehicle, "vehicle")
    if vehicle.state != "registered":
        raise refusal("vehicle_not_registered", vehicle)
    if getattr(vehicle, kind) is not None:
        raise refusal(f"vehicle_has_{kind}", vehicle)
    part = ItemState(state="commissioned", reused=reused and kind == "battery", **common)
    if part.reused:
        raise refusal("reused_battery", part)
    return _install(part, vehicle), replace(vehicle, **{kind: part.subject})


def crosses_regions(kind: str, data: Mapping[str, Any] | None) -> bool:
    """Whether an event moves items between regional logs: a ``transfer_in``, or a ``deregister``
    naming the log the vehicle leaves for (``to_origin``)."""
    return kind == "transfer_in" or (kind == "deregister" and bool((data or {}).get("to_origin")))


#: What a vehicle and its parts take with them to another region's log (the fields of
#: an ItemState that describe the thing, not where it is or who has it).
CARRIED = ("model", "produced_on", "batch", "reused", "legacy", "backfilled", "stolen", "assessed_on")


def carried(item: ItemState) -> dict[str, Any]:
    """Return what *item* takes with it when it leaves for another region (JSON-ready)."""
    out: dict[str, Any] = {"kind": item.kind, "identifier": item.identifier}
    for name in CARRIED:
        value = getattr(item, name)
        out[name] = value.isoformat() if isinstance(value, datetime.date) else value
    return out


def transfer_in(
    arriving: Mapping[str, Mapping[str, Any]],
    scanned: Mapping[str, str | None],
    existing: Mapping[str, ItemState | None],
    *,
    owner: str,
    plate: str,
    returning: frozenset[str] = frozenset(),
) -> tuple[ItemState, ItemState | None, ItemState | None]:
    """Register a vehicle arriving from another region (转入登记); return (vehicle, battery, charger).

    ``arriving`` maps ``vehicle``/``battery``/``charger`` to what the other region's
    log said left with the vehicle (:func:`carried`); ``scanned`` to the identifiers
    the registration point scanned, which must be exactly those parts; ``existing``
    to what this registry already holds under each identifier: nothing, or an item
    that once left this region and now comes back (its slot in ``returning``, judged
    by the service from its last event here); anything else is refused.  The vehicle
    is ``registered`` to ``owner`` under ``plate`` (a plate of this region), its
    parts ``installed`` in it; what describes them (model, production, flags, the
    battery's assessment) comes with them.  A returning item keeps what this region
    knew of it (its maker here) and takes the rest from what arrives.
    """
    described = arriving.get("vehicle")
    if described is None or described.get("kind") != "vehicle":
        raise refusal("wrong_kind", kind="vehicle")
    for slot in ("battery", "charger"):
        have = (arriving.get(slot) or {}).get("identifier")
        if (scanned.get(slot) or None) != have:
            raise refusal(f"{slot}_not_bound", kind=slot)
    for slot, item in existing.items():
        if item is not None and slot not in returning:
            raise refusal("already_in_registry", item)
    if not owner:
        raise refusal("owner_missing", kind="vehicle")
    if not plate:
        raise refusal("plate_missing", kind="vehicle")

    def state(slot: str, **where: Any) -> ItemState:
        d = arriving[slot]
        described = dict(
            model=d.get("model"), produced_on=_as_date(d.get("produced_on")),
            batch=d.get("batch"), reused=bool(d.get("reused")), legacy=bool(d.get("legacy")),
            backfilled=bool(d.get("backfilled")), stolen=bool(d.get("stolen")),
            assessed_on=_as_date(d.get("assessed_on")), owner=owner,
        )
        before = existing.get(slot)
        if before is not None:  # back from another region: the same item, where it is now
            cleared = dict(holder_org_id=None, shipped_to_org_id=None, installed_in=None, battery=None, charger=None,
                           plate=None, sold_by_org_id=None)
            return replace(before, **{**cleared, **described, **where})
        return ItemState(kind=slot, identifier=d["identifier"], **described, **where)

    battery = arriving.get("battery")
    charger = arriving.get("charger")
    vehicle = state(
        "vehicle", state="registered", plate=plate,
        battery=subject("battery", battery["identifier"]) if battery else None,
        charger=subject("charger", charger["identifier"]) if charger else None,
    )
    parts = [state(slot, state="installed", installed_in=vehicle.subject) if arriving.get(slot) else None
             for slot in ("battery", "charger")]
    return vehicle, parts[0], parts[1]


# --------------------------------------------------------------------------
# Repairs: battery swaps and charger replacements


def _fittable(part: ItemState, shop_org: str) -> None:
    _refuse_terminal(part)
    if part.state == "installed":
        raise refusal(f"{part.kind}_already_installed", part)
    if part.state not in ("in_stock", "removed") or part.holder_org_id != shop_org:
        raise refusal("not_in_shop_stock", part)


def swap_battery(
    vehicle: ItemState,
    old: ItemState | None,
    new: ItemState,
    shop_org: str,
    *,
    swap_operator: bool = False,
) -> tuple[ItemState, ItemState | None, ItemState]:
    """Replace the vehicle's battery ``old`` by ``new`` from ``shop_org``'s stock; return (vehicle, old, new).

    ``old`` becomes ``removed``, held by ``shop_org``.  A vehicle with no
    battery (车电分离) takes ``old=None``, and only from a swap operator.
    Approval, certificate, recall and listing rules are
    :func:`registry.domain.rules.check_swap`; this is the state step.
    """
    _expect_kind(vehicle, "vehicle")
    if old is not None:
        _expect_kind(old, "battery")
    _expect_kind(new, "battery")
    if vehicle.state not in ("sold", "registered"):
        raise refusal("vehicle_not_in_service", vehicle)
    if old is None and vehicle.battery is not None:
        raise refusal("old_battery_not_installed", kind="battery")
    if old is not None and not _bound(vehicle, old, "battery"):
        raise refusal("old_battery_not_installed", old)
    if old is None and not swap_operator:
        raise refusal("vehicle_without_battery", vehicle)
    _fittable(new, shop_org)
    if new.reused:
        raise refusal("reused_battery", new)
    swapped = replace(vehicle, battery=new.subject)
    return swapped, (_remove(old, shop_org) if old is not None else None), _install(new, swapped)


def replace_charger(
    vehicle: ItemState,
    old: ItemState | None,
    new: ItemState,
    shop_org: str,
) -> tuple[ItemState, ItemState, ItemState]:
    """Replace the vehicle's charger ``old`` by ``new`` from ``shop_org``'s stock; return (vehicle, old, new)."""
    _expect_kind(vehicle, "vehicle")
    if old is not None:
        _expect_kind(old, "charger")
    _expect_kind(new, "charger")
    if vehicle.state not in ("sold", "registered"):
        raise refusal("vehicle_not_in_service", vehicle)
    if old is None or vehicle.charger is None or not _bound(vehicle, old, "charger"):
        raise refusal("old_charger_not_installed", old, "charger")
    _fittable(new, shop_org)
    replaced = replace(vehicle, charger=new.subject)
    return replaced, _remove(old, shop_org), _install(new, replaced)


# --------------------------------------------------------------------------
# End of life


def retire(item: ItemState, recycler_org: str) -> ItemState:
    """Retire a battery or charger out of service; the recycler now holds it.

    A ``removed`` part may be retired wherever it lies (the recycler collects
    it); a part ``in_stock`` only by the recycler that holds it.
    """
    if item.kind == "vehicle":
        raise refusal("wrong_kind", item)
    _refuse_terminal(item)
    if item.state == "installed":
        raise refusal("item_installed", item)
    if item.state == "shipped":
        raise refusal("item_in_transit", item)
    if not (item.state == "removed" or (item.state == "in_stock" and item.holder_org_id == recycler_org)):
        raise refusal("item_not_in_your_stock", item)
    return replace(item, state="retired", holder_org_id=recycler_org, shipped_to_org_id=None, owner=None)


def recycle(item: ItemState, recycler_org: str) -> ItemState:
    """Recycle (disassemble) a retired battery or charger the recycler holds."""
    if item.kind == "vehicle":
        raise refusal("wrong_kind", item)
    if item.state == "recycled":
        raise refusal("item_recycled", item)
    if item.state != "retired":
        raise refusal("item_not_retired", item)
    if item.holder_org_id != recycler_org:
        raise refusal("item_not_in_your_stock", item)
    return replace(item, state="recycled")


def scrap(
    vehicle: ItemState,
    recycler_org: str,
    battery: ItemState | None = None,
    charger: ItemState | None = None,
) -> tuple[ItemState, ItemState | None, ItemState | None]:
    """Scrap a vehicle; its installed parts become ``removed`` at the recycler; return the three.

    Allowed for a vehicle in service or deregistered (its owner hands it in),
    or one in the recycler's own stock.  The plate is freed.
    """
    _expect_kind(vehicle, "vehicle")
    _refuse_terminal(vehicle)
    if vehicle.state == "shipped":
        raise refusal("item_in_transit", vehicle)
    if vehicle.state not in ("sold", "registered", "deregistered") and not (
        vehicle.state == "in_stock" and vehicle.holder_org_id == recycler_org
    ):
        raise refusal("item_not_in_your_stock", vehicle)
    _parts_of(vehicle, battery, charger)
    scrapped = replace(
        vehicle, state="scrapped", holder_org_id=recycler_org, shipped_to_org_id=None, plate=None,
        battery=None, charger=None,
    )
    return (
        scrapped,
        _remove(battery, recycler_org) if battery is not None else None,
        _remove(charger, recycler_org) if charger is not None else None,
    )


# --------------------------------------------------------------------------
# Flags and assessments


def report_stolen(item: ItemState) -> ItemState:
    """Flag an item stolen."""
    if item.state == "scrapped":
        raise refusal("vehicle_scrapped", item)
    if item.state == "recycled":
        raise refusal("item_recycled", item)
    if item.stolen:
        raise refusal("already_reported_stolen", item)
    return replace(item, stolen=True)


def report_recovered(item: ItemState) -> ItemState:
    """Clear an item's stolen flag."""
    if not item.stolen:
        raise refusal("not_reported_stolen", item)
    return replace(item, stolen=False)


def assess_battery(battery: ItemState, passed: bool, on: datetime.date) -> ItemState:
    """Record a health assessment (健康评估) of ``battery`` on ``on``.

    A pass dated after the one in force replaces it; a failure dated on or
    after the one in force voids it (``assessed_on`` becomes ``None``).  An
    assessment older than the one in force changes nothing.
    """
    _expect_kind(battery, "battery")
    if battery.state == "recycled":
        raise refusal("item_recycled", battery)
    if battery.produced_on is not None and on < battery.produced_on:
        raise refusal("assessment_before_production", battery)
    current = battery.assessed_on
    if passed:
        if current is None or on > current:
            return replace(battery, assessed_on=on)
        return battery
    if current is not None and on >= current:
        return replace(battery, assessed_on=None)
    return battery
