"""Rules that name every failed check: sale, swap, registration, correction, assessments and recalls.

Each ``check_*`` function takes plain facts (frozen dataclasses the service
fills from the projections) and returns a ``list[Problem]``, empty when the
step is allowed.  Nothing raises, so a dry run (``POST /checks/sale``) and the
real event give the same list; the service turns a non-empty list into one
refusal with :func:`refuse_if_any` (``sale_refused``, ``swap_refused`` …).

Problems come in a stable order: by subject (vehicle, then battery, then
charger; for swaps vehicle, old part, new part; then owner and plate), and
within a subject in the order of :data:`CHECK_CODES`.  A part that is unknown,
forged or of the wrong kind gets that one problem only: nothing else about it
can be judged.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from registry.domain import identifiers
from registry.domain.errors import DomainError, Problem
from registry.domain.lifecycle import ItemState

__all__ = [
    "ASSESSMENT_AGE_YEARS",
    "ASSESSMENT_VALID_YEARS",
    "CHECK_CODES",
    "FORBIDDEN_CODES",
    "IRREVERSIBLE_KINDS",
    "MESSAGES",
    "SUBJECT_LABELS",
    "CertificateFacts",
    "PartFacts",
    "SaleContext",
    "SwapContext",
    "RegistrationContext",
    "RecallFacts",
    "RecallTarget",
    "check_sale",
    "check_swap",
    "check_registration",
    "check_owner_document",
    "check_plate",
    "check_standard",
    "check_correction",
    "plate_key",
    "assessment_due_on",
    "battery_overdue_for_assessment",
    "recall_covers",
    "open_recalls",
    "refuse_if_any",
]

#: Batteries this many years past production need a passed health assessment to stay in service.
ASSESSMENT_AGE_YEARS = 5
#: A passed assessment keeps a battery in service this many years from its date.
ASSESSMENT_VALID_YEARS = 1

#: Subject -> (Chinese, English) name, used in messages.
SUBJECT_LABELS: dict[str, tuple[str, str]] = {
    "vehicle": ("车辆", "vehicle"),
    "battery": ("蓄电池", "battery"),
    "charger": ("充电器", "charger"),
    "old_battery": ("旧蓄电池", "old battery"),
    "new_battery": ("新蓄电池", "new battery"),
    "old_charger": ("旧充电器", "old charger"),
    "new_charger": ("新充电器", "new charger"),
    "owner": ("车主证件", "owner's identity document"),
    "plate": ("号牌", "plate"),
    "correction": ("更正", "correction"),
}

#: Every problem code -> (Chinese, English) message; ``{zh}`` / ``{en}`` name the subject.
MESSAGES: dict[str, tuple[str, str]] = {
    # identity
    "vehicle_missing": ("未指明车辆", "no vehicle was named"),
    "unknown_item": ("{zh}编码在系统中不存在", "{en} is not a coded item in the registry"),
    "code_not_genuine": ("{zh}的二维码签名无效，疑似伪造", "{en} carries a code whose signature does not verify (forged?)"),
    "wrong_kind": ("{zh}的编码不是该类物品", "{en} is not an item of that kind"),
    # stock
    "not_in_dealer_stock": ("{zh}不在本销售网点库存中", "{en} is not in this dealer's stock"),
    "not_in_shop_stock": ("{zh}不在本机构库存中", "{en} is not in your organisation's stock"),
    "item_retired": ("{zh}已退役，不能再使用", "{en} is retired and may not be used again"),
    "item_recycled": ("{zh}已回收拆解", "{en} has been recycled"),
    "battery_already_installed": ("{zh}已安装在另一辆车上", "{en} is already installed in a vehicle"),
    "charger_already_installed": ("{zh}已与另一辆车绑定", "{en} is already bound to a vehicle"),
    # certificates
    "certificate_missing": ("{zh}没有3C证书", "{en} has no CCC certificate"),
    "certificate_expired": ("{zh}的3C证书已过期", "{en} has an expired CCC certificate"),
    "certificate_suspended": ("{zh}的3C证书已被暂停", "{en} has a suspended CCC certificate"),
    "certificate_revoked": ("{zh}的3C证书已被撤销", "{en} has a revoked CCC certificate"),
    # pairing and quality
    "battery_not_approved_for_model": (
        "{zh}的型号不是该车型认可配套的蓄电池型号（禁止增容量等非标配更换）",
        "{en} is not of a battery model approved for this vehicle model (no larger batteries)",
    ),
    "charger_not_approved_for_model": (
        "{zh}的型号不是该车型认可配套的充电器型号",
        "{en} is not of a charger model approved for this vehicle model",
    ),
    "open_recall": ("{zh}处于未完成的召回中", "{en} is under an open recall"),
    "maker_blacklisted": ("{zh}的生产企业已被列入黑名单", "{en} comes from a blacklisted maker"),
    "maker_not_listed": ("{zh}的生产企业不在正面清单中", "{en} comes from a maker not on the positive list"),
    "reused_battery": ("{zh}为梯次利用蓄电池，不得用于电动自行车", "{en} is a reused battery and may not go into an e-bike"),
    "battery_assessment_overdue": (
        "{zh}生产已满5年且无有效的健康评估，不得继续使用",
        "{en} is over 5 years old without a passed health assessment in force",
    ),
    # sale
    "battery_missing": (
        "销售须包含蓄电池（严禁整车与蓄电池拆分销售），换电运营商购车除外",
        "a sale must include a battery (no split sales) unless the buyer is a swap operator",
    ),
    "charger_missing": ("销售须包含充电器", "a sale must include a charger"),
    # swap
    "vehicle_not_in_service": ("{zh}不在使用中（须已售出或已登记）", "{en} is not in service (it must be sold or registered)"),
    "old_battery_not_installed": ("{zh}不是该车辆当前安装的蓄电池", "{en} is not the battery installed in the vehicle"),
    "old_charger_not_installed": ("{zh}不是该车辆当前绑定的充电器", "{en} is not the charger bound to the vehicle"),
    "vehicle_without_battery": (
        "{zh}为车电分离车辆，未装蓄电池，只有换电运营商可以为其安装",
        "{en} was sold without a battery: only a swap operator may install one",
    ),
    "new_part_missing": ("未指明{zh}", "no {en} was named"),
    # registration
    "vehicle_not_sold": ("{zh}尚未售出，不能登记", "{en} has not been sold and cannot be registered"),
    "already_registered": ("{zh}已登记", "{en} is already registered"),
    "vehicle_deregistered": ("{zh}已注销登记", "{en} has been deregistered"),
    "vehicle_scrapped": ("{zh}已报废", "{en} is scrapped"),
    "battery_not_bound": ("{zh}未与该车辆绑定", "{en} is not bound to the vehicle"),
    "charger_not_bound": ("{zh}未与该车辆绑定", "{en} is not bound to the vehicle"),
    "owner_id_invalid": ("{zh}无效：{detail_zh}", "{en} is invalid: {detail_en}"),
    "plate_invalid": ("{zh}无效：{detail_zh}", "{en} is invalid: {detail_en}"),
    "plate_taken": ("{zh}{value}已被其他车辆使用", "{en} {value} is already in use"),
    "non_standard_after_deadline": (
        "{zh}为非标车，已过过渡期，不能新登记",
        "{en} is a non-standard vehicle past its transition deadline and cannot be newly registered",
    ),
    # correction
    "correction_not_yours": (
        "只有记录原事件的机构或系统管理员可以更正",
        "only the organisation that recorded the event, or an administrator, may correct it",
    ),
    "correction_of_correction": ("更正事件不能再被更正", "a correction cannot itself be corrected"),
    "event_already_voided": ("该事件已被更正为未发生", "the event is already voided"),
    "correction_breaks_later_events": (
        "更正会使其后的事件不再成立，已拒绝",
        "the correction would leave a later event impossible",
    ),
    "correction_crosses_regions": (
        "车辆已转出到其他地区或自其他地区转入，该记录不能更正为未发生（如有错误，请办理转回）",
        "a move between regions cannot be voided (the other region's log relies on it): move the vehicle back instead",
    ),
    "correction_not_reversible": (
        "机构、证书和型号登记不能更正为未发生（证书可由监管部门撤销）",
        "an organisation, certificate or model record cannot be voided (a regulator may revoke a certificate)",
    ),
}

#: Event kinds a did_not_occur correction may not void: facts the rest of the registry is built on,
#: whose projections have no way back (a certificate is revoked instead).
IRREVERSIBLE_KINDS: frozenset[str] = frozenset({"register_organisation", "certificate", "model"})

#: Check -> every problem code it may give, in the order they are listed within a subject.
CHECK_CODES: dict[str, tuple[str, ...]] = {
    "sale": (
        "vehicle_missing", "battery_missing", "charger_missing",
        "unknown_item", "code_not_genuine", "wrong_kind",
        "not_in_dealer_stock",
        "certificate_missing", "certificate_suspended", "certificate_revoked", "certificate_expired",
        "battery_not_approved_for_model", "charger_not_approved_for_model",
        "open_recall", "maker_blacklisted", "maker_not_listed", "reused_battery",
    ),
    "swap": (
        "vehicle_missing", "unknown_item", "code_not_genuine", "wrong_kind", "vehicle_not_in_service",
        "old_battery_not_installed", "old_charger_not_installed", "vehicle_without_battery",
        "new_part_missing", "item_retired", "item_recycled", "battery_already_installed",
        "charger_already_installed", "not_in_shop_stock",
        "certificate_missing", "certificate_suspended", "certificate_revoked", "certificate_expired",
        "battery_not_approved_for_model", "charger_not_approved_for_model",
        "open_recall", "maker_blacklisted", "maker_not_listed", "reused_battery", "battery_assessment_overdue",
    ),
    "registration": (
        "unknown_item", "wrong_kind", "already_registered", "vehicle_deregistered", "vehicle_scrapped",
        "vehicle_not_sold", "non_standard_after_deadline", "battery_not_bound", "charger_not_bound",
        "owner_id_invalid", "plate_invalid", "plate_taken",
    ),
    "correction": (
        "correction_not_yours", "correction_of_correction", "event_already_voided", "correction_not_reversible",
        "correction_crosses_regions", "correction_breaks_later_events",
    ),
}

#: Problems that are a matter of who acts (403), not of state (409).
FORBIDDEN_CODES: frozenset[str] = frozenset({"correction_not_yours"})

#: Refusal code -> (Chinese, English) title of the one error a refused step answers.
REFUSALS: dict[str, tuple[str, str]] = {
    "sale_refused": ("销售核验未通过", "the sale check failed"),
    "swap_refused": ("更换核验未通过", "the replacement check failed"),
    "registration_refused": ("登记核验未通过", "the registration check failed"),
    "backfill_refused": ("补码核验未通过", "the backfill check failed"),
    "correction_refused": ("更正被拒绝", "the correction was refused"),
}


def _problem(code: str, subject: str, identifier: str | None = None, **extra: str) -> Problem:
    zh_label, en_label = SUBJECT_LABELS.get(subject, (subject, subject))
    if identifier:
        zh_label, en_label = f"{zh_label} {identifier}", f"{en_label} {identifier}"
    zh, en = MESSAGES[code]
    zh = zh.format(zh=zh_label, en=en_label, **extra)
    en = en.format(zh=zh_label, en=en_label, **extra)
    return Problem(code, subject, zh, en[:1].upper() + en[1:])


def refuse_if_any(problems: list[Problem], code: str) -> None:
    """Raise one :class:`DomainError` ``code`` listing ``problems``, if there are any.

    Status 409; 403 when a problem is one of :data:`FORBIDDEN_CODES` (then
    only those are listed, so nothing about the state leaks to the actor).
    """
    if not problems:
        return
    zh, en = REFUSALS.get(code, ("操作被拒绝", "the step was refused"))
    forbidden = [p for p in problems if p.code in FORBIDDEN_CODES]
    if forbidden:
        raise DomainError(code, zh, en, status=403, problems=forbidden)
    raise DomainError(code, zh, en, status=409, problems=list(problems))


# --------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class CertificateFacts:
    """A CCC certificate as of the step: number, status (valid / suspended / revoked) and expiry."""

    number: str | None
    status: str = "valid"
    expires_on: datetime.date | None = None


@dataclass(frozen=True, kw_only=True)
class PartFacts:
    """What the rules need to know about one scanned item (vehicle, battery or charger)."""

    identifier: str
    #: The kind the registry knows the item as (the slot it was scanned into may differ).
    kind: str
    found: bool = True
    #: False when a scanned code's signature does not verify.
    genuine: bool = True
    state: str | None = None
    holder_org_id: str | None = None
    model: str | None = None
    #: The kind the item's model is catalogued as.
    model_kind: str | None = None
    maker_org_id: str | None = None
    reused: bool = False
    #: The certificate of the item's model.
    certificate: CertificateFacts | None = None
    open_recall: bool = False
    batch: str | None = None
    produced_on: datetime.date | None = None
    assessed_on: datetime.date | None = None

    @classmethod
    def unknown(cls, identifier: str, kind: str) -> PartFacts:
        """Facts of an identifier the registry does not know."""
        return cls(identifier=identifier, kind=kind, found=False)

    @classmethod
    def forged(cls, identifier: str, kind: str) -> PartFacts:
        """Facts of a scanned code whose signature does not verify."""
        return cls(identifier=identifier, kind=kind, genuine=False)

    @classmethod
    def from_state(
        cls,
        item: ItemState,
        *,
        model_kind: str | None = None,
        certificate: CertificateFacts | None = None,
        open_recall: bool = False,
    ) -> PartFacts:
        """Facts of a known item from its state and its model's facts."""
        return cls(
            identifier=item.identifier,
            kind=item.kind,
            state=item.state,
            holder_org_id=item.holder_org_id,
            model=item.model,
            model_kind=model_kind,
            maker_org_id=item.maker_org_id,
            reused=item.reused,
            certificate=certificate,
            open_recall=open_recall,
            batch=item.batch,
            produced_on=item.produced_on,
            assessed_on=item.assessed_on,
        )


@dataclass(frozen=True, kw_only=True)
class _Listings:
    #: Makers on the blacklist.
    blacklisted_makers: frozenset[str] = frozenset()
    #: Makers on the positive list; while it is non-empty, a maker not on it is refused.
    listed_makers: frozenset[str] = frozenset()

    @property
    def positive_list_in_force(self) -> bool:
        return bool(self.listed_makers)


@dataclass(frozen=True, kw_only=True)
class SaleContext(_Listings):
    """Everything a sale check needs; ``None`` for a part not named in the sale."""

    dealer_org_id: str
    buyer_is_swap_operator: bool = False
    vehicle: PartFacts | None
    battery: PartFacts | None
    charger: PartFacts | None
    #: The vehicle model's approved battery and charger models.
    approved_battery_models: frozenset[str] = frozenset()
    approved_charger_models: frozenset[str] = frozenset()
    today: datetime.date


@dataclass(frozen=True, kw_only=True)
class SwapContext(_Listings):
    """Everything a battery swap or charger replacement check needs."""

    #: ``battery`` (swap_battery) or ``charger`` (replace_charger).
    part_kind: str
    actor_org_id: str
    actor_is_swap_operator: bool = False
    vehicle: PartFacts | None
    #: Identifier of the part of ``part_kind`` now installed in the vehicle (None: none).
    installed: str | None
    old: PartFacts | None
    new: PartFacts | None
    #: The vehicle model's approved models of ``part_kind``.
    approved_models: frozenset[str] = frozenset()
    today: datetime.date


@dataclass(frozen=True, kw_only=True)
class RegistrationContext:
    """Everything a registration check needs."""

    vehicle: ItemState | None
    #: The battery and charger bound to the vehicle (or named in the request), as loaded.
    battery: ItemState | None
    charger: ItemState | None
    #: The vehicle was sold to a swap operator (车电分离): no battery needed.
    sold_to_swap_operator: bool = False
    owner_id_type: str = "resident_id"
    owner_id_number: str
    plate: str
    #: Plates of other vehicles that may clash (compared with the middle dot removed).
    plates_in_use: frozenset[str] = frozenset()
    #: The vehicle model's standard (GB17761-2024, GB17761-2018, non_standard) and deadline.
    vehicle_standard: str | None = None
    transition_deadline: datetime.date | None = None
    today: datetime.date


# --------------------------------------------------------------------------
# Shared part checks


def _identify(part: PartFacts, subject: str, kind: str) -> list[Problem]:
    """Unknown, forged or wrong-kind items: the one problem that stops further checks."""
    if not part.found:
        return [_problem("unknown_item", subject, part.identifier)]
    if not part.genuine:
        return [_problem("code_not_genuine", subject, part.identifier)]
    if part.kind != kind or (part.model_kind is not None and part.model_kind != kind):
        return [_problem("wrong_kind", subject, part.identifier)]
    return []


def _certificate(part: PartFacts, subject: str, today: datetime.date) -> list[Problem]:
    cert = part.certificate
    if cert is None or not cert.number:
        return [_problem("certificate_missing", subject, part.identifier)]
    problems = []
    if cert.status == "suspended":
        problems.append(_problem("certificate_suspended", subject, part.identifier))
    elif cert.status != "valid":  # revoked, or any status we do not know: fail closed
        problems.append(_problem("certificate_revoked", subject, part.identifier))
    if cert.expires_on is not None and cert.expires_on < today:
        problems.append(_problem("certificate_expired", subject, part.identifier))
    return problems


def _is_reused(part: PartFacts) -> bool:
    if part.reused:
        return True
    try:
        return identifiers.is_reused_battery(part.identifier)
    except identifiers.InvalidIdentifier:
        return False


def _quality(
    part: PartFacts,
    subject: str,
    ctx: _Listings,
    today: datetime.date,
    approved: frozenset[str] | None,
) -> list[Problem]:
    """Certificate, approval (unless ``approved`` is None), recall, makers, reuse."""
    problems = _certificate(part, subject, today)
    if approved is not None and part.model not in approved:
        problems.append(_problem(f"{part.kind}_not_approved_for_model", subject, part.identifier))
    if part.open_recall:
        problems.append(_problem("open_recall", subject, part.identifier))
    if part.maker_org_id is not None and part.maker_org_id in ctx.blacklisted_makers:
        problems.append(_problem("maker_blacklisted", subject, part.identifier))
    if ctx.positive_list_in_force and part.maker_org_id not in ctx.listed_makers:
        problems.append(_problem("maker_not_listed", subject, part.identifier))
    if part.kind == "battery" and _is_reused(part):
        problems.append(_problem("reused_battery", subject, part.identifier))
    return problems


# --------------------------------------------------------------------------
# Sale


def check_sale(ctx: SaleContext) -> list[Problem]:
    """List every rule a sale breaks (扫码核验 / 标配销售); empty when it may go ahead."""
    problems: list[Problem] = []
    vehicle_known = ctx.vehicle is not None and not _identify(ctx.vehicle, "vehicle", "vehicle")
    approved = {
        "vehicle": None,
        "battery": ctx.approved_battery_models if vehicle_known else None,
        "charger": ctx.approved_charger_models if vehicle_known else None,
    }
    for slot in ("vehicle", "battery", "charger"):
        part: PartFacts | None = getattr(ctx, slot)
        if part is None:
            if slot == "vehicle":
                problems.append(_problem("vehicle_missing", slot))
            elif slot == "battery" and not ctx.buyer_is_swap_operator:
                problems.append(_problem("battery_missing", slot))
            elif slot == "charger":
                problems.append(_problem("charger_missing", slot))
            continue
        found = _identify(part, slot, slot)
        if found:
            problems += found
            continue
        if part.state != "in_stock" or part.holder_org_id != ctx.dealer_org_id:
            problems.append(_problem("not_in_dealer_stock", slot, part.identifier))
        problems += _quality(part, slot, ctx, ctx.today, approved[slot])
    return problems


# --------------------------------------------------------------------------
# Swaps


def check_swap(ctx: SwapContext) -> list[Problem]:
    """List every rule a battery swap or charger replacement breaks; empty when it may go ahead."""
    kind = ctx.part_kind
    if kind not in ("battery", "charger"):
        raise ValueError(f"part_kind must be battery or charger, not {kind!r}")
    old_subject, new_subject = f"old_{kind}", f"new_{kind}"
    problems: list[Problem] = []

    vehicle = ctx.vehicle
    vehicle_known = False
    if vehicle is None:
        problems.append(_problem("vehicle_missing", "vehicle"))
    else:
        found = _identify(vehicle, "vehicle", "vehicle")
        problems += found
        vehicle_known = not found
        if vehicle_known and vehicle.state not in ("sold", "registered"):
            problems.append(_problem("vehicle_not_in_service", "vehicle", vehicle.identifier))

    if ctx.old is None:
        if ctx.installed is not None or kind == "charger":
            problems.append(_problem(f"old_{kind}_not_installed", old_subject))
        elif vehicle is not None and vehicle_known and not ctx.actor_is_swap_operator:
            problems.append(_problem("vehicle_without_battery", "vehicle", vehicle.identifier))
    else:
        found = _identify(ctx.old, old_subject, kind)
        problems += found
        if not found and (ctx.installed is None or ctx.old.identifier != ctx.installed):
            problems.append(_problem(f"old_{kind}_not_installed", old_subject, ctx.old.identifier))

    new = ctx.new
    if new is None:
        problems.append(_problem("new_part_missing", new_subject))
        return problems
    found = _identify(new, new_subject, kind)
    if found:
        return problems + found
    if new.state == "retired":
        problems.append(_problem("item_retired", new_subject, new.identifier))
    elif new.state == "recycled":
        problems.append(_problem("item_recycled", new_subject, new.identifier))
    elif new.state == "installed":
        problems.append(_problem(f"{kind}_already_installed", new_subject, new.identifier))
    elif new.state not in ("in_stock", "removed") or new.holder_org_id != ctx.actor_org_id:
        problems.append(_problem("not_in_shop_stock", new_subject, new.identifier))
    problems += _quality(new, new_subject, ctx, ctx.today, ctx.approved_models if vehicle_known else None)
    if kind == "battery" and battery_overdue_for_assessment(new.produced_on, new.assessed_on, ctx.today):
        problems.append(_problem("battery_assessment_overdue", new_subject, new.identifier))
    return problems


# --------------------------------------------------------------------------
# Registration


def plate_key(value: str) -> str:
    """Return the form plates are compared in: normalised, with the middle dot (and ``.``) removed."""
    try:
        value = identifiers.normalise(value, "plate")
    except identifiers.InvalidIdentifier:
        pass
    for dot in (identifiers.MIDDLE_DOT, ".", "\u3002"):
        value = value.replace(dot, "")
    return value


def check_owner_document(id_type: str, id_number: str) -> list[Problem]:
    """``owner_id_invalid`` when the owner's identity document does not validate."""
    try:
        identifiers.id_document(id_type, id_number)
    except identifiers.InvalidIdentifier as error:
        return [_problem("owner_id_invalid", "owner", detail_zh=error.message_zh, detail_en=error.message_en)]
    return []


def check_plate(plate: str, plates_in_use: Iterable[str]) -> list[Problem]:
    """``plate_invalid`` or ``plate_taken`` (``浙B·A0001`` and ``浙BA0001`` are the same plate)."""
    try:
        value = identifiers.plate(plate)
    except identifiers.InvalidIdentifier as error:
        return [_problem("plate_invalid", "plate", detail_zh=error.message_zh, detail_en=error.message_en)]
    key = plate_key(value)
    if any(plate_key(other) == key for other in plates_in_use if isinstance(other, str)):
        return [_problem("plate_taken", "plate", value=value)]
    return []


def check_standard(
    standard: str | None,
    transition_deadline: datetime.date | None,
    today: datetime.date,
    identifier: str | None = None,
) -> list[Problem]:
    """``non_standard_after_deadline`` for a non-standard vehicle after its deadline (or with none).

    The deadline day itself is still within the transition period.
    """
    if standard == "non_standard" and (transition_deadline is None or today > transition_deadline):
        return [_problem("non_standard_after_deadline", "vehicle", identifier)]
    return []


def _bound(vehicle: ItemState, part: ItemState, slot: str) -> bool:
    return (
        part.kind == slot
        and getattr(vehicle, slot) == part.subject
        and part.installed_in == vehicle.subject
        and part.state == "installed"
    )


def check_registration(ctx: RegistrationContext) -> list[Problem]:
    """List every rule a registration (合体登记) breaks; empty when it may go ahead."""
    problems: list[Problem] = []
    vehicle = ctx.vehicle
    if vehicle is None:
        problems.append(_problem("unknown_item", "vehicle"))
    elif vehicle.kind != "vehicle":
        problems.append(_problem("wrong_kind", "vehicle", vehicle.identifier))
    else:
        state_code = {
            "registered": "already_registered",
            "deregistered": "vehicle_deregistered",
            "scrapped": "vehicle_scrapped",
        }.get(vehicle.state, None if vehicle.state == "sold" else "vehicle_not_sold")
        if state_code:
            problems.append(_problem(state_code, "vehicle", vehicle.identifier))
        problems += check_standard(ctx.vehicle_standard, ctx.transition_deadline, ctx.today, vehicle.identifier)
        if ctx.battery is None:
            if not ctx.sold_to_swap_operator:
                problems.append(_problem("battery_not_bound", "battery"))
        elif not _bound(vehicle, ctx.battery, "battery"):
            problems.append(_problem("battery_not_bound", "battery", ctx.battery.identifier))
        if ctx.charger is None or not _bound(vehicle, ctx.charger, "charger"):
            problems.append(_problem("charger_not_bound", "charger", ctx.charger.identifier if ctx.charger else None))
    problems += check_owner_document(ctx.owner_id_type, ctx.owner_id_number)
    problems += check_plate(ctx.plate, ctx.plates_in_use)
    return problems


# --------------------------------------------------------------------------
# Corrections


def check_correction(
    corrected_event_kind: str,
    corrected_by_org: str,
    actor_org: str,
    actor_kind: str,
    later_events_depend: bool,
    *,
    already_voided: bool = False,
    voids: bool = False,
    crosses_regions: bool = False,
) -> list[Problem]:
    """List why a correction may not be recorded: not yours (403), or it would break the log (409).

    Only the organisation that recorded the event, or an admin, may correct
    it; a correction is never corrected; a voided event is not corrected
    again; an organisation, certificate or model is not voided (``voids``:
    the correction is ``did_not_occur``; see :data:`IRREVERSIBLE_KINDS`); and a
    move between regions is not voided (``crosses_regions``); and a
    correction that would leave a later event impossible
    (``later_events_depend``, judged by the service) is refused.
    """
    problems: list[Problem] = []
    if actor_kind != "admin" and actor_org != corrected_by_org:
        problems.append(_problem("correction_not_yours", "correction"))
    if corrected_event_kind == "correction":
        problems.append(_problem("correction_of_correction", "correction"))
    if already_voided:
        problems.append(_problem("event_already_voided", "correction"))
    if voids and corrected_event_kind in IRREVERSIBLE_KINDS:
        problems.append(_problem("correction_not_reversible", "correction"))
    if voids and crosses_regions:
        # the other region's log holds a proven pointer to this entry (a transfer out), or this
        # entry holds one to the other log's (a transfer in): voiding it would leave the vehicle
        # in both regions or in neither
        problems.append(_problem("correction_crosses_regions", "correction"))
    if later_events_depend:
        problems.append(_problem("correction_breaks_later_events", "correction"))
    return problems


# --------------------------------------------------------------------------
# Battery health assessments (健康评估)


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the anniversary falls on 1 March
        return datetime.date(day.year + years, 3, 1)


def assessment_due_on(produced_on: datetime.date) -> datetime.date:
    """Return the day a battery turns 5 years old and starts needing a passed assessment."""
    return _add_years(produced_on, ASSESSMENT_AGE_YEARS)


def battery_overdue_for_assessment(
    produced_on: datetime.date | None,
    assessed_on: datetime.date | None,
    today: datetime.date,
) -> bool:
    """Whether a battery in service is overdue for its health assessment on ``today``.

    From the 5th anniversary of production (:func:`assessment_due_on`) a
    battery needs a passed assessment in force.  A passed assessment counts
    only if dated on or after that anniversary, and keeps the battery in
    service for one year: up to the day before the assessment's first
    anniversary.  An assessment dated after ``today`` does not count.  A
    battery with no production date (legacy) is never reported here: the
    trace flags unknown ages separately.
    """
    if produced_on is None:
        return False
    due = assessment_due_on(produced_on)
    if today < due:
        return False
    if assessed_on is None or assessed_on < due or assessed_on > today:
        return True
    return today >= _add_years(assessed_on, ASSESSMENT_VALID_YEARS)


# --------------------------------------------------------------------------
# Recalls


@dataclass(frozen=True, kw_only=True)
class RecallFacts:
    """A recall's scope: every criterion given must match (model, batch, production dates, certificate)."""

    id: str = ""
    model: str | None = None
    batch: str | None = None
    produced_from: datetime.date | None = None
    produced_to: datetime.date | None = None
    certificate: str | None = None
    #: Closed by a recall_remedy of the whole recall.
    closed: bool = False


@dataclass(frozen=True, kw_only=True)
class RecallTarget:
    """What a recall is matched against: an item's model, batch, production date, model certificate."""

    model: str | None = None
    batch: str | None = None
    produced_on: datetime.date | None = None
    certificate: str | None = None


def recall_covers(recall: RecallFacts, item: Any) -> bool:
    """Whether ``recall``'s scope covers ``item`` (a :class:`RecallTarget`, :class:`PartFacts` or ItemState).

    Every criterion the recall gives must match: the model, the batch, the
    production date within ``produced_from``..``produced_to`` (inclusive,
    either end open), the model's certificate number.  An item lacking a fact
    a criterion needs (no production date, say) is not covered; a recall with
    no criterion covers nothing.  Whether the recall is still open is
    :func:`open_recalls`' business.
    """
    certificate = getattr(item, "certificate", None)
    if isinstance(certificate, CertificateFacts):
        certificate = certificate.number
    model = getattr(item, "model", None)
    batch = getattr(item, "batch", None)
    produced_on = getattr(item, "produced_on", None)

    criteria = 0
    if recall.model is not None:
        criteria += 1
        if model != recall.model:
            return False
    if recall.batch is not None:
        criteria += 1
        if batch != recall.batch:
            return False
    if recall.produced_from is not None or recall.produced_to is not None:
        criteria += 1
        if produced_on is None:
            return False
        if recall.produced_from is not None and produced_on < recall.produced_from:
            return False
        if recall.produced_to is not None and produced_on > recall.produced_to:
            return False
    if recall.certificate is not None:
        criteria += 1
        if certificate != recall.certificate:
            return False
    return criteria > 0


def open_recalls(recalls: Iterable[RecallFacts], item: Any, remedied: Iterable[str] = ()) -> list[str]:
    """Return the ids of the recalls still open for ``item``: covering it, not closed, not remedied for it."""
    done = set(remedied)
    return [r.id for r in recalls if not r.closed and r.id not in done and recall_covers(r, item)]
