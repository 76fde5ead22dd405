"""Lifecycle use cases: every event kind of POST /events, one function each.

Each reads top to bottom: resolve the items, ask the domain whether the step is
allowed, append one event, fold it into the projections, commit. The event body
carries, under ``effects``, the fields of each subject's projection that the
step changed, so the projections are a plain fold of the log (live and on
``rebuild-state``) and a ``did_not_occur`` correction can restore each subject's
state as of its previous event.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.domain import identifiers as ids
from registry.domain import lifecycle as life
from registry.domain import rules
from registry.domain.errors import DomainError, conflict, invalid, not_allowed, not_found
from registry.domain.roles import Actor, require
from registry.services import facts
from registry.services import items as found
from registry.services.projections import applies_to
from registry.services.recording import record
from registry.services.vault import store_person, validate_person
from registry.store.log import Appended, rfc3339, utc_now
from registry.store.models import (
    Certificate,
    ChainLink,
    Item,
    LogEntry,
    OrgListing,
    Organisation,
    ProductModel,
    Recall,
    RecallRemedy,
    Voided,
)
from registry.store.uow import UnitOfWork, hold, load_item, unhold

Handler = Callable[[UnitOfWork, Actor, dict], Appended]
HANDLERS: dict[str, Handler] = {}
ITEM_KEYS = ("vehicle", "battery", "charger")


def handles(kind: str):
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def record_event(uow: UnitOfWork, actor: Actor, kind: str, data: dict) -> Appended:
    """Record one event of *kind* by *actor*: check, append, project, commit."""
    require(actor, kind)
    appended = HANDLERS[kind](uow, actor, data)
    uow.commit()
    return appended


# --- helpers ----------------------------------------------------------------------------


def _today(data: dict) -> datetime.date:
    """The day the step happened (an assessment's date)."""
    moment = data.get("occurred_at")
    return (moment or utc_now()).date()


def _judged_on(data: dict) -> datetime.date:
    """The day rules judge a step on: never before it is recorded, so backdating a step
    (``occurred_at``) does not bring an expired certificate back or reopen a transition period."""
    return max(_today(data), utc_now().date())


def _occurred(data: dict) -> str | None:
    return rfc3339(data["occurred_at"]) if data.get("occurred_at") else None


def _state(row: Item) -> life.ItemState:
    return life.ItemState.from_record(row)


def _item(uow: UnitOfWork, data: dict, key: str, kind: str) -> Item:
    return found.find_item(uow, data[key], kind, field=key)


def _diff(before: life.ItemState | None, after: life.ItemState) -> dict:
    new = after.to_record()
    new.pop("subject")
    if before is None:
        return new
    old = before.to_record()
    return {k: v for k, v in new.items() if old.get(k) != v}


def _effects(pairs) -> dict:
    """Return ``{subject: changed fields}`` for (before, after) state pairs."""
    out = {}
    for before, after in pairs:
        if after is not None:
            out[after.subject] = _diff(before, after)
    return out


def _emit(uow: UnitOfWork, actor: Actor, kind: str, data: dict, effects: dict, fields: dict,
          extra_subjects=()) -> Appended:
    subjects = list(dict.fromkeys([*effects, *extra_subjects]))
    body = {**fields, "effects": effects}
    return record(uow, actor, kind, subjects, body, _occurred(data))


def _org(uow: UnitOfWork, org_id: str, field: str) -> Organisation:
    org = facts.get(uow, Organisation, org_id)
    if org is None:
        err = not_found("organisation_not_found", "机构不存在", "no such organisation")
        err.errors = {field: [("机构不存在", "no such organisation")]}
        raise err
    return org


def _listings(uow: UnitOfWork) -> tuple[frozenset, frozenset]:
    return facts.listings(uow)


def _part_facts(uow: UnitOfWork, row: Item) -> rules.PartFacts:
    model = facts.get(uow, ProductModel, row.model) if row.model else None
    cert = None
    if model is not None and model.certificate:
        c = facts.get(uow, Certificate, model.certificate)
        if c is not None:
            cert = rules.CertificateFacts(c.number, c.status, datetime.date.fromisoformat(c.expires_on))
        else:
            cert = rules.CertificateFacts(None)
    return rules.PartFacts.from_state(
        _state(row), model_kind=model.kind if model else None, certificate=cert,
        open_recall=bool(found.open_recalls(uow, row)),
    )


def _resolve_facts(uow: UnitOfWork, value: str | None, kind: str, field: str):
    """Return (row or None, PartFacts or None): an unknown or forged code is a fact, not an error."""
    if value is None:
        return None, None
    try:
        row = found.find_item(uow, value, kind, field=field)
    except DomainError as err:
        label = value if len(value) <= 64 else value[:64]
        if err.code == "item_not_found":
            return None, rules.PartFacts.unknown(label, kind)
        if err.code == "code_not_genuine":
            return None, rules.PartFacts.forged(label, kind)
        if err.code == "code_wrong_kind":  # a genuine code of another kind of item: wrong_kind, not forged
            try:
                other = found.find_item(uow, value, None, field=field)
            except DomainError:
                return None, rules.PartFacts.unknown(label, kind)
            return None, _part_facts(uow, other)
        raise
    return row, _part_facts(uow, row)


def _approved(uow: UnitOfWork, vehicle_model: str | None, part_kind: str) -> frozenset:
    return facts.approved(uow, vehicle_model, part_kind)


def _person(uow: UnitOfWork, raw, field: str) -> str:
    """Validate a person, keep them in the vault and return their pseudonym."""
    return store_person(uow, uow.registry.vault, validate_person(raw, field))


# --- ship and receive --------------------------------------------------------------------


def _named_items(uow: UnitOfWork, data: dict) -> list[Item]:
    return [_item(uow, data, k, k) for k in ITEM_KEYS if data.get(k)]


@handles("ship")
def ship(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Hand items over to a named organisation (the holder only)."""
    to = _org(uow, data["to"], "to")
    pairs = []
    for row in _named_items(uow, data):
        before = _state(row)
        pairs.append((before, life.ship(before, actor.org_id, to.id)))
    return _emit(uow, actor, "ship", data, _effects(pairs), {"to": to.id})


@handles("receive")
def receive(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Accept what was shipped to the acting organisation, with the inspection result."""
    pairs = []
    for row in _named_items(uow, data):
        before = _state(row)
        pairs.append((before, life.receive(before, actor.org_id)))
    return _emit(uow, actor, "receive", data, _effects(pairs), {"inspection": data["inspection"]})


# --- sale ------------------------------------------------------------------------------


def _sale_context(uow: UnitOfWork, actor: Actor, data: dict):
    vehicle, vf = _resolve_facts(uow, data.get("vehicle"), "vehicle", "vehicle")
    battery, bf = _resolve_facts(uow, data.get("battery"), "battery", "battery")
    charger, cf = _resolve_facts(uow, data.get("charger"), "charger", "charger")
    buyer_is_swap_operator = False
    if data.get("buyer_org"):
        buyer_is_swap_operator = _org(uow, data["buyer_org"], "buyer_org").kind == "swap_operator"
    blacklisted, listed = _listings(uow)
    vehicle_model = vehicle.model if vehicle is not None else None
    ctx = rules.SaleContext(
        dealer_org_id=actor.org_id, buyer_is_swap_operator=buyer_is_swap_operator,
        vehicle=vf, battery=bf, charger=cf,
        approved_battery_models=_approved(uow, vehicle_model, "battery"),
        approved_charger_models=_approved(uow, vehicle_model, "charger"),
        blacklisted_makers=blacklisted, listed_makers=listed, today=_judged_on(data),
    )
    return ctx, (vehicle, battery, charger)


def check_sale(uow: UnitOfWork, actor: Actor, data: dict) -> list:
    """Dry-run a sale: every failed rule, nothing written."""
    require(actor, "sell")
    ctx, _ = _sale_context(uow, actor, data)
    return rules.check_sale(ctx)


@handles("sell")
def sell(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Sell a complete set (or a vehicle and charger to a swap operator) after the scan checks."""
    if data.get("buyer_org") and _org(uow, data["buyer_org"], "buyer_org").kind != "swap_operator":
        raise invalid({"buyer_org": [("只有换电运营商可以机构名义购车", "only a swap operator buys as an organisation")]})
    owner = _person(uow, data["buyer"], "buyer") if data.get("buyer") else None
    ctx, (vehicle, battery, charger) = _sale_context(uow, actor, data)
    rules.refuse_if_any(rules.check_sale(ctx), "sale_refused")
    v0, b0, c0 = _state(vehicle), battery and _state(battery), _state(charger)
    v1, b1, c1 = life.sell(v0, b0, c0, actor.org_id, owner, data.get("buyer_org"),
                           buyer_is_swap_operator=ctx.buyer_is_swap_operator)
    effects = _effects([(v0, v1), (b0, b1), (c0, c1)])
    effects[v1.subject]["sold_at"] = _occurred(data) or rfc3339(utc_now())
    extra = [f"owner:{owner}"] if owner else []
    fields = {"buyer": f"owner:{owner}" if owner else None, "buyer_org": data.get("buyer_org")}
    return _emit(uow, actor, "sell", data, effects, fields, extra)


# --- registration ----------------------------------------------------------------------


def _plates_in_use(uow: UnitOfWork, plate: str) -> frozenset:
    return frozenset(uow.session.execute(select(Item.plate).where(Item.plate_key == rules.plate_key(plate))).scalars())


def _owner_and_plate(uow: UnitOfWork, person, plate: str) -> list:
    """The owner's document and the plate, checked as a registration that codes its items does."""
    return rules.check_owner_document(person.id_type, person.id_number) + rules.check_plate(plate, _plates_in_use(uow, plate))


def _new_code(uow: UnitOfWork, kind: str, identifier: str) -> str:
    """The payload of a label this registry issues now (backfill, arrival from another region)."""
    from registry.labels import make_token, payload_url

    key = uow.registry.keys.current
    return payload_url(uow.registry.public_url, make_token(kind, identifier, key.key_hash, key.sign))


def _standard(uow: UnitOfWork, row: Item):
    model = facts.get(uow, ProductModel, row.model) if row.model else None
    if model is None:
        return None, None
    deadline = datetime.date.fromisoformat(model.transition_deadline) if model.transition_deadline else None
    return model.standard, deadline


def _bound_parts(uow: UnitOfWork, vehicle: Item, data: dict):
    parts = []
    for kind in ("battery", "charger"):
        bound = getattr(vehicle, kind)
        if data.get(kind):
            row = _item(uow, data, kind, kind)
            if bound != row.subject:
                raise conflict(f"{kind}_not_bound", f"该{'蓄电池' if kind == 'battery' else '充电器'}未与此车绑定",
                               f"this {kind} is not bound to the vehicle")
            parts.append(row)
        else:
            parts.append(load_item(uow.session, bound) if bound else None)
    return parts


@handles("register")
def register(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Register a sold vehicle with its bound battery and charger to an owner, with a plate (码牌合一)."""
    vehicle = _item(uow, data, "vehicle", "vehicle")
    battery, charger = _bound_parts(uow, vehicle, data)
    person = validate_person(data["owner"], "owner")
    plate = ids.plate(data["plate"])
    standard, deadline = _standard(uow, vehicle)
    sold_to_swap = vehicle.holder_org_id is not None and facts.get(uow, Organisation, vehicle.holder_org_id) is not None \
        and facts.get(uow, Organisation, vehicle.holder_org_id).kind == "swap_operator"
    ctx = rules.RegistrationContext(
        vehicle=_state(vehicle), battery=battery and _state(battery), charger=charger and _state(charger),
        sold_to_swap_operator=sold_to_swap, owner_id_type=person.id_type, owner_id_number=person.id_number,
        plate=plate, plates_in_use=_plates_in_use(uow, plate), vehicle_standard=standard,
        transition_deadline=deadline, today=_judged_on(data),
    )
    rules.refuse_if_any(rules.check_registration(ctx), "registration_refused")
    owner = store_person(uow, uow.registry.vault, person)
    v0, b0, c0 = ctx.vehicle, ctx.battery, ctx.charger
    v1, b1, c1 = life.register(v0, b0, c0, owner, plate, actor.org_id)
    effects = _effects([(v0, v1), (b0, b1), (c0, c1)])
    return _emit(uow, actor, "register", data, effects, {"plate": plate, "owner": f"owner:{owner}"}, [f"owner:{owner}"])


@handles("transfer")
def transfer(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Transfer a registered vehicle (and its bound parts) to a new owner."""
    vehicle = _item(uow, data, "vehicle", "vehicle")
    battery, charger = _bound_parts(uow, vehicle, {})
    new_owner = _person(uow, data["new_owner"], "new_owner")
    v0, b0, c0 = _state(vehicle), battery and _state(battery), charger and _state(charger)
    old_owner = v0.owner
    v1, b1, c1 = life.transfer(v0, new_owner, b0, c0)
    effects = _effects([(v0, v1), (b0, b1), (c0, c1)])
    owners = [f"owner:{new_owner}"] + ([f"owner:{old_owner}"] if old_owner else [])
    return _emit(uow, actor, "transfer", data, effects,
                 {"from": f"owner:{old_owner}" if old_owner else None, "to": f"owner:{new_owner}"}, owners)


def _other_region(uow: UnitOfWork, origin: str, field: str) -> None:
    peers = uow.registry.peers
    if peers is None or not peers.knows(origin):
        raise invalid({field: [("不是本系统已知的其他地区登记系统的日志", "is not the log of another region this registry knows")]})


@handles("deregister")
def deregister(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Deregister a vehicle; its plate is freed.

    With ``to_origin`` (转出) the vehicle moves to another region's log: the entry
    says what leaves with it (the vehicle and its bound parts, :func:`life.carried`)
    and joins the parts' chains too, so that region can register it from this
    entry alone (``transfer_in``), and each chain here ends by naming where it went.
    """
    vehicle = _item(uow, data, "vehicle", "vehicle")
    v0 = _state(vehicle)
    v1 = life.deregister(v0)
    fields: dict = {"reason": data["reason"], "plate": v0.plate}
    parts = []
    if data.get("to_origin"):
        _other_region(uow, data["to_origin"], "to_origin")
        carries = {"vehicle": life.carried(v0)}
        for slot in ("battery", "charger"):
            bound = getattr(v0, slot)
            row = load_item(uow.session, bound) if bound else None
            if row is not None:
                carries[slot] = life.carried(_state(row))
                parts.append(bound)
        fields.update(to_origin=data["to_origin"], carries=carries)
    return _emit(uow, actor, "deregister", data, _effects([(v0, v1)]), fields, parts)


def _arriving_identifier(uow: UnitOfWork, value: str, kind: str) -> str:
    """The identifier an arriving item was scanned by: its code (its first region's label, or one issued
    here or elsewhere on an earlier stay: ``verify_code`` knows every region's keys) or typed."""
    token = found.code_token(value)
    if token is None:
        return ids.item_identifier(kind, value, legacy=True, field=kind)
    return found.verified_code(uow, token, kind, kind).identifier


def _left(uow: UnitOfWork, row: Item) -> bool:
    """Whether an item's last event here took it to another region (it may come back)."""
    entry = uow.log.entry(row.last_index)
    return (entry is not None and entry.kind == "deregister"
            and life.crosses_regions(entry.kind, json.loads(bytes(entry.body))["data"]))


@handles("transfer_in")
def transfer_in(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Register a vehicle arriving from another region (转入登记), proven by that region's log.

    ``from_origin``/``from_index`` name the other log's ``deregister`` with ``to_origin``
    (without ``from_index``, the vehicle's latest entry in that log)
    this registry's origin; the entry is read from that log and proven against its
    latest signed checkpoint with the key the directory lists (registry.regions), and
    what it says left (the vehicle, its battery and charger) must be what was scanned
    here.  The items are coded here (new labels) and registered to the new owner
    under a plate of this region; the event records the proven pointer.
    """
    from registry.regions import NotProven, Unreachable

    origin = data["from_origin"]
    _other_region(uow, origin, "from_origin")
    peers = uow.registry.peers
    person = validate_person(data["owner"], "owner")
    plate = ids.plate(data["plate"])
    scanned = {kind: _arriving_identifier(uow, data[kind], kind) for kind in ITEM_KEYS if data.get(kind)}
    index = data.get("from_index")
    try:
        if index is None and peers.remote(origin):
            raise invalid({"from_index": [("该地区经公开接口访问，须填写其注销记录编号",
                                           "that region is reached through its public log API: give its entry's index")]})
        if index is None:  # the vehicle's latest entry there: its deregistration to here, if it left for here
            index = peers.latest_on(origin, found.subject("vehicle", scanned["vehicle"]))
            if index is None:
                raise conflict("not_transferred_here", "该车辆在该地区的日志中没有记录",
                               "That region's log has no entry on this vehicle")
        proven = peers.prove(origin, index)
    except Unreachable as exc:
        raise DomainError("region_unavailable", f"{exc.zh}，请稍后重试", f"{exc.en}: try again later", status=503) from None
    except NotProven as exc:
        raise conflict("transfer_not_proven", f"无法证明转出记录：{exc.zh}", f"The transfer out cannot be proven: {exc.en}") from None
    left = proven.body.get("data") or {}
    carries = left.get("carries") or {}
    if (proven.body.get("kind") != "deregister" or left.get("to_origin") != uow.registry.origin
            or (carries.get("vehicle") or {}).get("identifier") != scanned["vehicle"]):
        raise conflict("not_transferred_here", "该记录不是这辆车转出到本地区的记录",
                       "That entry is not this vehicle's transfer out to this region")
    problems = _owner_and_plate(uow, person, plate)
    rules.refuse_if_any(problems, "transfer_in_refused")
    existing = {slot: load_item(uow.session, found.subject(slot, d["identifier"]))
                for slot, d in carries.items() if slot in ITEM_KEYS}
    before = {slot: _state(row) if row is not None else None for slot, row in existing.items()}
    owner = store_person(uow, uow.registry.vault, person)
    vehicle, battery, charger = life.transfer_in(
        carries, scanned, before, owner=owner, plate=plate,
        returning=frozenset(slot for slot, row in existing.items() if row is not None and _left(uow, row)),
    )
    effects = _effects([(before.get("vehicle"), vehicle), (before.get("battery"), battery), (before.get("charger"), charger)])
    for item in (vehicle, battery, charger):
        if item is not None:
            effects[item.subject]["code"] = _new_code(uow, item.kind, item.identifier)
    return _emit(uow, actor, "transfer_in", data, effects,
                 {"plate": plate, "owner": f"owner:{owner}", "from": proven.pointer()}, [f"owner:{owner}"])


@handles("backfill")
def backfill(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Code a vehicle already on the road (补码), with its battery and charger, straight into registered."""
    person = validate_person(data["owner"], "owner")
    plate = ids.plate(data["plate"])
    entries = []
    for kind in ITEM_KEYS:
        raw = data.get(kind)
        if not raw:
            continue
        identifier = ids.item_identifier(kind, raw, legacy=True, field=kind)
        try:
            standard_id = ids.item_identifier(kind, raw, field=kind)
        except ids.InvalidIdentifier:
            standard_id = None
        model_name = data.get(f"{kind}_model")
        model = facts.get(uow, ProductModel, model_name) if model_name else None
        if model_name and (model is None or model.kind != kind):
            raise invalid({f"{kind}_model": [("型号不存在或类型不符", "no such model of this kind")]})
        entries.append((kind, identifier, standard_id is None, model))
    problems = _owner_and_plate(uow, person, plate)
    vehicle_model = entries[0][3]
    if vehicle_model is not None and vehicle_model.standard:
        deadline = datetime.date.fromisoformat(vehicle_model.transition_deadline) if vehicle_model.transition_deadline else None
        problems += rules.check_standard(vehicle_model.standard, deadline, _judged_on(data), entries[0][1])
    rules.refuse_if_any(problems, "backfill_refused")
    owner = store_person(uow, uow.registry.vault, person)
    pairs, codes, vehicle = [], {}, None
    for kind, identifier, legacy, model in entries:
        existing = load_item(uow.session, found.subject(kind, identifier))
        item, vehicle_after = life.backfill(
            kind, identifier, registration_point_org=actor.org_id, owner=owner,
            existing=_state(existing) if existing else None, vehicle=vehicle,
            plate=plate if kind == "vehicle" else None, model=model.model if model else None,
            maker_org_id=model.maker_org_id if model else None, legacy=legacy,
            reused=kind == "battery" and ids.is_reused_battery(identifier),
        )
        if kind == "vehicle":
            vehicle = item
        else:
            vehicle = vehicle_after
        codes[item.subject] = _new_code(uow, kind, identifier)
        pairs.append((None, item))
    # the vehicle's final state binds the parts: replace its record with the last one
    effects = _effects(pairs)
    if vehicle is not None:
        effects[vehicle.subject] = _diff(None, vehicle)
    for subj, payload in codes.items():
        effects[subj]["code"] = payload
    return _emit(uow, actor, "backfill", data, effects, {"plate": plate, "owner": f"owner:{owner}", "backfilled": True},
                 [f"owner:{owner}"])


# --- workshop --------------------------------------------------------------------------


@handles("repair")
def repair(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Record a repair of a vehicle in service."""
    vehicle = _item(uow, data, "vehicle", "vehicle")
    if vehicle.state not in ("sold", "registered"):
        raise conflict("vehicle_not_in_service", "车辆未在使用中，不能记录维修", "the vehicle is not in service")
    return _emit(uow, actor, "repair", data, {}, {"work": data["work"]}, [vehicle.subject])


def _swap(uow: UnitOfWork, actor: Actor, data: dict, part_kind: str) -> Appended:
    vehicle, vf = _resolve_facts(uow, data["vehicle"], "vehicle", "vehicle")
    old, of = _resolve_facts(uow, data.get(f"old_{part_kind}"), part_kind, f"old_{part_kind}")
    new, nf = _resolve_facts(uow, data[f"new_{part_kind}"], part_kind, f"new_{part_kind}")
    blacklisted, listed = _listings(uow)
    installed = getattr(vehicle, part_kind) if vehicle is not None else None
    ctx = rules.SwapContext(
        part_kind=part_kind, actor_org_id=actor.org_id, actor_is_swap_operator=actor.org_kind == "swap_operator",
        vehicle=vf, installed=life.split_subject(installed)[1] if installed else None, old=of, new=nf,
        approved_models=_approved(uow, vehicle.model if vehicle is not None else None, part_kind),
        blacklisted_makers=blacklisted, listed_makers=listed, today=_judged_on(data),
    )
    rules.refuse_if_any(rules.check_swap(ctx), "swap_refused")
    v0, o0, n0 = _state(vehicle), old and _state(old), _state(new)
    if part_kind == "battery":
        v1, o1, n1 = life.swap_battery(v0, o0, n0, actor.org_id, swap_operator=actor.org_kind == "swap_operator")
    else:
        v1, o1, n1 = life.replace_charger(v0, o0, n0, actor.org_id)
    kind = "swap_battery" if part_kind == "battery" else "replace_charger"
    fields = {f"old_{part_kind}": o0.subject if o0 else None, f"new_{part_kind}": n0.subject}
    return _emit(uow, actor, kind, data, _effects([(v0, v1), (o0, o1), (n0, n1)]), fields)


@handles("swap_battery")
def swap_battery(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Swap a vehicle's battery for an approved, certified one from the shop's stock."""
    return _swap(uow, actor, data, "battery")


@handles("replace_charger")
def replace_charger(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Replace a vehicle's charger with an approved one from the shop's stock."""
    return _swap(uow, actor, data, "charger")


@handles("report_modification")
def report_modification(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Record an illegal modification (非法改装) found on a vehicle."""
    vehicle = _item(uow, data, "vehicle", "vehicle")
    return _emit(uow, actor, "report_modification", data, {}, {"modification": data["modification"]}, [vehicle.subject])


@handles("assess_battery")
def assess_battery(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Record a battery health assessment (健康评估)."""
    battery = _item(uow, data, "battery", "battery")
    b0 = _state(battery)
    b1 = life.assess_battery(b0, data["result"] == "passed", _today(data))
    fields = {"result": data["result"], "capacity_pct": data.get("capacity_pct")}
    return _emit(uow, actor, "assess_battery", data, _effects([(b0, b1)]), fields, [b0.subject])


# --- regulators ------------------------------------------------------------------------


def _own_model_only(uow: UnitOfWork, actor: Actor, model_name: str | None, certificate: str | None) -> None:
    if actor.org_kind != "manufacturer":
        return
    if model_name:
        model = facts.get(uow, ProductModel, model_name)
        if model is not None and model.maker_org_id == actor.org_id:
            return
    elif certificate:
        cert = facts.get(uow, Certificate, certificate)
        if cert is not None and cert.holder_org_id == actor.org_id:
            return
    raise not_allowed("not_own_model", "生产企业只能召回自己的型号", "a maker may only recall its own models")


@handles("recall")
def recall(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Open a recall by model, batch, production dates or certificate."""
    if data.get("model") and facts.get(uow, ProductModel, data["model"]) is None:
        raise invalid({"model": [("型号不存在", "no such model")]})
    if data.get("certificate") and facts.get(uow, Certificate, data["certificate"]) is None:
        raise invalid({"certificate": [("证书不存在", "no such certificate")]})
    _own_model_only(uow, actor, data.get("model"), data.get("certificate"))
    recall_id = str(uuid.uuid4())
    fields = {
        "recall": recall_id, "model": data.get("model"), "batch": data.get("batch"),
        "produced_from": data["produced_from"].isoformat() if data.get("produced_from") else None,
        "produced_to": data["produced_to"].isoformat() if data.get("produced_to") else None,
        "certificate": data.get("certificate"), "reason": data["reason"],
    }
    subjects = [f"recall:{recall_id}"] + ([f"model:{data['model']}"] if data.get("model") else [])
    return _emit(uow, actor, "recall", data, {}, fields, subjects)


@handles("recall_remedy")
def recall_remedy(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Remedy one item under a recall, or (without an item) close the recall."""
    r = uow.session.get(Recall, data["recall"])
    if r is None:
        raise not_found("recall_not_found", "召回不存在", "no such recall")
    if r.closed_index is not None:
        raise conflict("recall_closed", "该召回已关闭", "the recall is already closed")
    _own_model_only(uow, actor, r.model, r.certificate)
    named = [k for k in ITEM_KEYS if data.get(k)]
    subjects = [f"recall:{r.id}"]
    item_subject = None
    if named:
        row = _item(uow, data, named[0], named[0])
        if r.id not in {x.id for x in found.open_recalls(uow, row)}:
            raise conflict("item_not_under_recall", "该物品不在此召回范围内或已处理", "the item is not open under this recall")
        item_subject = row.subject
        subjects.append(row.subject)
    fields = {"recall": r.id, "item": item_subject, "remedy": data["remedy"]}
    return _emit(uow, actor, "recall_remedy", data, {}, fields, subjects)


@handles("certificate_status")
def certificate_status(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Suspend, revoke or restore a CCC certificate; new sales see it at once."""
    cert = facts.get(uow, Certificate, data["certificate"])
    if cert is None:
        raise not_found("certificate_not_found", "证书不存在", "no such certificate")
    if cert.status == data["status"]:
        raise conflict("certificate_status_unchanged", "证书已是该状态", "the certificate already has this status")
    if cert.status == "revoked":
        raise conflict("certificate_revoked", "已撤销的证书不能恢复", "a revoked certificate cannot change again")
    fields = {"certificate": cert.number, "status": data["status"], "reason": data["reason"], "was": cert.status}
    return _emit(uow, actor, "certificate_status", data, {}, fields, [f"certificate:{cert.number}"])


@handles("list_change")
def list_change(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Add an organisation to or remove it from the positive list or the blacklist."""
    org = _org(uow, data["organisation"], "organisation")
    listed = uow.session.get(OrgListing, (data["list"], org.id)) is not None
    if data["action"] == "add" and listed:
        raise conflict("already_listed", "该机构已在名单中", "the organisation is already on this list")
    if data["action"] == "remove" and not listed:
        raise conflict("not_listed", "该机构不在名单中", "the organisation is not on this list")
    fields = {"list": data["list"], "organisation": org.id, "action": data["action"], "reason": data["reason"]}
    return _emit(uow, actor, "list_change", data, {}, fields, [f"org:{org.id}"])


@handles("report_stolen")
def report_stolen(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Report items stolen: every later scan warns."""
    pairs = [(s := _state(row), life.report_stolen(s)) for row in _named_items(uow, data)]
    return _emit(uow, actor, "report_stolen", data, _effects(pairs), {"case_number": data.get("case_number")})


@handles("report_recovered")
def report_recovered(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Report stolen items recovered."""
    pairs = [(s := _state(row), life.report_recovered(s)) for row in _named_items(uow, data)]
    return _emit(uow, actor, "report_recovered", data, _effects(pairs), {"case_number": data.get("case_number")})


@handles("report_incident")
def report_incident(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Report a fire, explosion or accident with the items found at the scene."""
    from registry.services.photos import require_uploaded

    require_uploaded(uow.registry, data["photos"])  # each photo's hash must name an uploaded file
    subjects = [row.subject for row in _named_items(uow, data)]
    fields = {
        "incident_type": data["incident_type"], "region": data["region"], "address": data["address"],
        "state": data["state"], "casualties": data["casualties"], "case_number": data["case_number"],
        "scene_identifiers": data["scene_identifiers"], "photos": data["photos"],
        "subjects": subjects, "escalated": data["casualties"].get("dead", 0) > 0,
    }
    return _emit(uow, actor, "report_incident", data, {}, fields, [*subjects, f"case:{data['case_number']}"])


# --- recyclers -------------------------------------------------------------------------


@handles("retire")
def retire(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Retire removed batteries or chargers taken in by a recycler."""
    pairs = [(s := _state(row), life.retire(s, actor.org_id)) for row in _named_items(uow, data)]
    return _emit(uow, actor, "retire", data, _effects(pairs), {"reason": data["reason"]})


@handles("recycle")
def recycle(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Recycle retired parts."""
    pairs = [(s := _state(row), life.recycle(s, actor.org_id)) for row in _named_items(uow, data)]
    return _emit(uow, actor, "recycle", data, _effects(pairs), {"method": data["method"]})


@handles("scrap")
def scrap(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Scrap a vehicle; its parts become removed, held by the recycler."""
    vehicle = _item(uow, data, "vehicle", "vehicle")
    battery, charger = _bound_parts(uow, vehicle, {})
    v0, b0, c0 = _state(vehicle), battery and _state(battery), charger and _state(charger)
    v1, b1, c1 = life.scrap(v0, actor.org_id, b0, c0)
    return _emit(uow, actor, "scrap", data, _effects([(v0, v1), (b0, b1), (c0, c1)]), {})


# --- corrections -----------------------------------------------------------------------

#: Fields an incorrect_data correction may replace, per corrected kind (validated by the schema).
CORRECTABLE = {
    "commission": {"produced_on", "batch"},
    "receive": {"inspection"},
    "repair": {"work"},
    "report_modification": {"modification"},
    "assess_battery": {"capacity_pct"},
    "report_incident": {"address", "state", "casualties", "scene_identifiers", "region"},
    "retire": {"reason"},
    "recycle": {"method"},
}
#: Of those, the ones that are also item columns.
ITEM_FIELDS = {"produced_on", "batch"}


#: Item columns a restored record sets (every one, so that nothing of the voided step survives).
_RESTORED = tuple(c.key for c in Item.__table__.columns if c.key not in ("subject", "commissioned_index", "last_index"))
_FLAGS = ("reused", "legacy", "backfilled", "stolen")
#: Subject prefixes whose later events a voided event may have made possible.
_DEPENDENT = ("vehicle", "battery", "charger", "certificate", "org", "recall")


def _full(record: dict) -> dict:
    """Return *record* with every item column, absent ones empty."""
    return {k: record.get(k, False if k in _FLAGS else None) for k in _RESTORED}


def _later_events(session: Session, subjects: list[str], after: int) -> int:
    """Count the events after index *after* on *subjects* that still stand (neither voided nor corrections)."""
    if not subjects:
        return 0
    voided = select(Voided.corrected_index).where(Voided.reason == "did_not_occur")
    return session.execute(
        select(func.count(func.distinct(ChainLink.idx))).select_from(ChainLink)
        .join(LogEntry, LogEntry.idx == ChainLink.idx)
        .where(ChainLink.subject.in_(subjects), ChainLink.idx > after, LogEntry.kind != "correction",
               ChainLink.idx.not_in(voided))
    ).scalar()


def _state_before(session: Session, subject: str, until: int) -> dict | None:
    """Fold a subject's chain up to index *until* (inclusive), skipping voided events."""
    idxs = list(session.execute(select(ChainLink.idx).where(ChainLink.subject == subject, ChainLink.idx <= until)
                                .order_by(ChainLink.seq)).scalars())
    voided = set(session.execute(select(Voided.corrected_index).where(Voided.corrected_index.in_(idxs),
                                                                        Voided.reason == "did_not_occur")).scalars())
    record: dict | None = None
    for idx in idxs:
        if idx in voided:
            continue
        body = json.loads(bytes(session.get(LogEntry, idx).body))
        data = body["data"]
        if body["kind"] == "commission":
            record = {"kind": data["kind"], "identifier": data["identifier"], "model": data["model"],
                      "maker_org_id": body["org"], "produced_on": data["produced_on"], "batch": data.get("batch"),
                      "state": "commissioned", "holder_org_id": body["org"], "reused": bool(data.get("reused")),
                      "legacy": False, "backfilled": False, "stolen": False,
                      "code": data.get("payload"), "commissioned_index": idx}
        effects = data.get("effects") or {}
        if subject in effects:
            change = effects[subject]
            if change is None:
                record = None
            else:
                record = {**(record or {"commissioned_index": idx}), **change}
        if record is not None:
            record["last_index"] = idx
    return record


@handles("correction")
def correction(uow: UnitOfWork, actor: Actor, data: dict) -> Appended:
    """Void an event that did not occur, or replace its incorrect fields; projections follow."""
    entry = uow.log.entry_by_event_id(data["corrects"])
    if entry is None:
        raise not_found("event_not_found", "要更正的事件不存在", "no such event to correct")
    body = json.loads(bytes(entry.body))
    subjects = [s for s in body["prev"]]
    item_subjects = [s for s in subjects if s.split(":", 1)[0] in ITEM_KEYS]
    voids = data["reason"] == "did_not_occur"
    # Voiding an event breaks the later ones on its items, certificate, organisation or recall
    # (their state was built on it); replacing descriptive fields leaves them possible.
    dependent = [s for s in subjects if s.split(":", 1)[0] in _DEPENDENT]
    later = _later_events(uow.session, dependent, entry.idx) if voids else 0
    already = uow.session.get(Voided, entry.idx)
    problems = rules.check_correction(
        body["kind"], body["org"], actor.org_id, actor.org_kind, bool(later),
        already_voided=already is not None and already.reason == "did_not_occur", voids=voids,
        crosses_regions=life.crosses_regions(body["kind"], body["data"]),
    )
    rules.refuse_if_any(problems, "correction_refused")
    effects: dict = {}
    fields: dict = {"corrects": data["corrects"], "corrected_index": entry.idx, "reason": data["reason"]}
    if voids:
        for subj in item_subjects:
            prev = body["prev"].get(subj)
            before = _state_before(uow.session, subj, prev) if prev is not None else None
            effects[subj] = _full(before) if before is not None else None
        # regulators' facts go back to what they were (the correction says what, so a rebuild follows)
        d = body["data"]
        if body["kind"] == "certificate_status":
            fields["restores"] = {"certificate": d["certificate"], "status": d["was"]}
        elif body["kind"] == "list_change":
            fields["restores"] = {"list": d["list"], "organisation": d["organisation"],
                                  "action": "remove" if d["action"] == "add" else "add"}
    else:
        replacement = data.get("fields") or {}
        allowed = CORRECTABLE.get(body["kind"], set())
        bad = sorted(set(replacement) - allowed) if replacement else ["fields"]
        if bad:
            raise invalid({f"fields.{f}" if f != "fields" else "fields": [
                ("此字段不能更正", f"{body['kind']} events allow corrections of {sorted(allowed) or 'no field'}")] for f in bad})
        fields["fields"] = {k: replacement[k] for k in sorted(replacement)}
        change = {k: v for k, v in replacement.items() if k in ITEM_FIELDS}
        if change:
            for subj in item_subjects:
                effects[subj] = change
    return _emit(uow, actor, "correction", data, effects, fields, [*subjects, f"event:{data['corrects']}"])


# --- projection --------------------------------------------------------------------------


@applies_to("ship", "receive", "sell", "register", "transfer", "deregister", "backfill", "transfer_in", "repair", "swap_battery",
            "replace_charger", "report_modification", "assess_battery", "report_stolen", "report_recovered",
            "report_incident", "retire", "recycle", "scrap")
def _fold_effects(session: Session, index: int, body: dict) -> None:
    """Apply each subject's changed fields; mark every touched item's last event."""
    _apply_effects(session, index, body["data"].get("effects") or {})
    for subj in body["prev"]:
        if subj.split(":", 1)[0] in ITEM_KEYS:
            row = load_item(session, subj)
            if row is not None:
                row.last_index = index


def _apply_effects(session: Session, index: int, effects: dict) -> None:
    for subj, change in effects.items():
        row = load_item(session, subj)
        if change is None:
            if row is not None:
                unhold(session, subj)
                session.delete(row)
            continue
        if row is None:
            row = Item(subject=subj, commissioned_index=index, last_index=index, reused=False, legacy=False,
                       backfilled=False, stolen=False)
            session.add(row)
            hold(session, row)
        for key, value in change.items():
            if key not in ("subject", "commissioned_index", "last_index"):
                setattr(row, key, value)
        row.last_index = index


@applies_to("correction")
def _corrected(session: Session, index: int, body: dict) -> None:
    data = body["data"]
    existing = session.get(Voided, data["corrected_index"])
    if existing is None:
        session.add(Voided(corrected_index=data["corrected_index"], correction_index=index, reason=data["reason"]))
    else:
        existing.reason, existing.correction_index = data["reason"], index
    session.flush()
    _apply_effects(session, index, data.get("effects") or {})
    # a voided regulator's fact stops counting
    if data["reason"] == "did_not_occur":
        corrected = data["corrected_index"]
        for recall in session.execute(select(Recall).where(Recall.opened_index == corrected)).scalars():
            recall.closed_index = index
        remedy = session.execute(select(RecallRemedy).where(RecallRemedy.remedied_index == corrected)).scalar()
        if remedy is not None:
            session.delete(remedy)
        for recall in session.execute(select(Recall).where(Recall.closed_index == corrected)).scalars():
            recall.closed_index = None  # the closing remedy did not occur: the recall is open again
        restores = data.get("restores") or {}
        if "status" in restores:
            cert = session.get(Certificate, restores["certificate"])
            cert.status, cert.status_index = restores["status"], index
        elif "list" in restores:
            _list_changed(session, index, {"data": restores})
        session.flush()


@applies_to("recall")
def _recall_opened(session: Session, index: int, body: dict) -> None:
    d = body["data"]
    session.add(Recall(id=d["recall"], model=d["model"], batch=d["batch"], produced_from=d["produced_from"],
                       produced_to=d["produced_to"], certificate=d["certificate"], reason=d["reason"],
                       org_id=body["org"], opened_index=index))


@applies_to("recall_remedy")
def _recall_remedied(session: Session, index: int, body: dict) -> None:
    d = body["data"]
    if d["item"]:
        session.add(RecallRemedy(recall_id=d["recall"], subject=d["item"], remedied_index=index))
    else:
        session.get(Recall, d["recall"]).closed_index = index


@applies_to("certificate_status")
def _certificate_status(session: Session, index: int, body: dict) -> None:
    cert = session.get(Certificate, body["data"]["certificate"])
    cert.status = body["data"]["status"]
    cert.status_index = index


@applies_to("list_change")
def _list_changed(session: Session, index: int, body: dict) -> None:
    d = body["data"]
    row = session.get(OrgListing, (d["list"], d["organisation"]))
    if d["action"] == "add" and row is None:
        session.add(OrgListing(list=d["list"], org_id=d["organisation"], listed_index=index))
    elif d["action"] == "remove" and row is not None:
        session.delete(row)
    session.flush()
