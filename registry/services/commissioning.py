"""Commissioning: a manufacturer codes its items, one signed `commission` event per item, all or nothing."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.domain import catalogue as catalogue_rules
from registry.domain.errors import DomainError, Problem, invalid
from registry.domain.identifiers import ITEM_KINDS, InvalidIdentifier, is_reused_battery, item_identifier, normalise
from registry.domain.roles import Actor, require
from registry.labels import make_token, payload_url
from registry.services.code_signing import CodeSigner
from registry.services.items import subject
from registry.services.projections import applies_to
from registry.services.recording import record_many
from registry.store.log import NewEvent
from registry.store.models import Item, ProductModel
from registry.store.uow import UnitOfWork, hold

FIELDS = ("kind", "identifier", "model", "produced_on", "batch")
#: Earliest production date accepted (the registry codes e-bikes of this century).
EARLIEST = "2000-01-01"
#: Subjects per IN (...) query: well under SQLite's bound on parameters.
_QUERY_CHUNK = 900

Errors = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class NewItem:
    """One validated item of a batch, at its position in the batch."""

    position: int
    kind: str
    identifier: str
    model: str
    produced_on: str
    batch: str | None
    reused: bool

    @property
    def subject(self) -> str:
        return subject(self.kind, self.identifier)


@dataclass(frozen=True)
class Commissioned:
    """An item as commissioned: its code (the full QR payload) and the index of its event."""

    kind: str
    identifier: str
    code: str
    index: int
    subject: str


# --- validation -------------------------------------------------------------------------


def _models(uow: UnitOfWork, names: Iterable[str]) -> dict[str, ProductModel]:
    """The product models named *names*, read **without flushing first** (as ``load_item``): the
    select is by primary key, so pending changes cannot alter which rows it returns, and a model
    already loaded comes back from the identity map with them. Only a model added and not yet
    flushed is missed; then the session flushes and the missing names are read again. In a batch
    this saves writing out the previous events' changes before every commissioning."""
    session = uow.session
    names = sorted(set(names))
    found: dict[str, ProductModel] = {}

    def read(wanted: list[str]) -> None:
        for i in range(0, len(wanted), _QUERY_CHUNK):
            part = wanted[i : i + _QUERY_CHUNK]
            found.update({m.model: m for m in session.execute(select(ProductModel).where(ProductModel.model.in_(part))).scalars()})

    with session.no_autoflush:
        read(names)
    if len(found) < len(names) and session.new:
        read([n for n in names if n not in found])
    return found


def _check(raw: object, position: int, models: Mapping[str, ProductModel], actor: Actor, errors: Errors, today: str) -> NewItem | None:
    """Return the item in stored form, or record every problem of it under ``items.<position>.<field>``."""
    at = f"items.{position}"

    def bad(field: str, zh: str, en: str) -> None:
        errors.setdefault(f"{at}.{field}" if field else at, []).append((zh, en))

    if not isinstance(raw, Mapping):
        bad("", "应为对象 {kind, identifier, model, produced_on, batch}", "must be an object {kind, identifier, model, produced_on, batch}")
        return None
    for key in raw:
        if key not in FIELDS:
            bad(str(key), "不是物品字段", "is not an item field")
    kind, identifier, model, produced_on, batch = (raw.get(k) for k in FIELDS)
    ok = True
    if kind not in ITEM_KINDS:
        bad("kind", "应为 vehicle、battery 或 charger", "must be vehicle, battery or charger")
        ok = False
    else:
        try:
            identifier = item_identifier(kind, identifier)
        except InvalidIdentifier as err:
            bad("identifier", err.message_zh, err.message_en)
            ok = False
    try:
        model = _model_name(model)
    except InvalidIdentifier as err:
        bad("model", err.message_zh, err.message_en)
        ok = False
    else:
        found = models.get(model)
        if found is None:
            bad("model", "型号未登记", f"model {model} is not recorded")
            ok = False
        elif found.maker_org_id != actor.org_id:
            bad("model", "型号不属于本企业", f"model {model} belongs to another manufacturer")
            ok = False
        elif kind in ITEM_KINDS and found.kind != kind:
            bad("model", f"型号不是{catalogue_rules.KIND_ZH[kind]}型号", f"model {model} is a {found.kind} model, not a {kind} model")
            ok = False
    date_errors: Errors = {}
    produced = catalogue_rules.iso_date(produced_on, f"{at}.produced_on", date_errors) if produced_on is not None else None
    if produced_on is None:
        bad("produced_on", "为必填项（生产日期 YYYY-MM-DD）", "is required (production date, YYYY-MM-DD)")
        ok = False
    elif produced is None:
        for zh, en in date_errors[f"{at}.produced_on"]:
            bad("produced_on", zh, en)
        ok = False
    elif not EARLIEST <= produced <= today:
        bad("produced_on", f"应在{EARLIEST}至今天之间", f"must be between {EARLIEST} and today")
        ok = False
    if batch is not None:
        if not isinstance(batch, str) or len(batch) > 64:
            bad("batch", "应为不超过64个字符的文本", "must be text of at most 64 characters")
            ok = False
        else:
            batch = normalise(batch) or None
    if not ok:
        return None
    reused = kind == "battery" and is_reused_battery(identifier)
    return NewItem(position, kind, identifier, model, produced, batch, reused)


def _tomorrow() -> str:
    # A day of slack: a factory east of UTC may date today's production "tomorrow" in UTC terms.
    return (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)).isoformat()


@functools.lru_cache(maxsize=1024)
def _normalised_model(raw: str) -> str:
    return catalogue_rules.model_name(raw)


def _model_name(raw: object) -> str:
    # A batch names a handful of models thousands of times: normalise each spelling once.
    return _normalised_model(raw) if isinstance(raw, str) else catalogue_rules.model_name(raw)


def validate_items(uow: UnitOfWork, actor: Actor, items: Sequence[object]) -> tuple[list[NewItem], Errors]:
    """Return the valid items and the errors of the others, keyed ``items.<position>.<field>``."""
    names = set()
    for raw in items:
        if isinstance(raw, Mapping):
            try:
                names.add(_model_name(raw.get("model")))
            except InvalidIdentifier:
                pass
    models = _models(uow, names)
    errors: Errors = {}
    today = _tomorrow()
    valid = [v for i, raw in enumerate(items) if (v := _check(raw, i, models, actor, errors, today)) is not None]
    return valid, errors


def existing(uow: UnitOfWork, subjects: Iterable[str]) -> dict[str, Item]:
    """Return the already-commissioned items among *subjects*."""
    subjects = list(dict.fromkeys(subjects))
    found: dict[str, Item] = {}
    for i in range(0, len(subjects), _QUERY_CHUNK):
        part = subjects[i : i + _QUERY_CHUNK]
        found.update({it.subject: it for it in uow.session.execute(select(Item).where(Item.subject.in_(part))).scalars()})
    return found


def item_exists(problems: list[Problem]) -> DomainError:
    return DomainError(
        "item_exists", "物品已赋码，不能重复赋码", "items already commissioned (or listed twice)", status=409, problems=problems
    )


def prepare(uow: UnitOfWork, actor: Actor, items: Sequence[object]) -> list[NewItem]:
    """Check a batch as a whole: role (403), then every item (422 ``invalid_items``), then duplicates (409)."""
    require(actor, "commission")
    if not items:
        raise invalid({"items": [("至少需要一个物品", "must list at least one item")]}, code="invalid_items")
    valid, errors = validate_items(uow, actor, items)
    if errors:
        raise invalid(errors, code="invalid_items")
    problems = []
    seen: dict[str, int] = {}
    for item in valid:
        if item.subject in seen:
            problems.append(Problem("duplicate_in_batch", f"items.{item.position}", f"与第{seen[item.subject]}项重复", f"repeats item {seen[item.subject]}"))
        seen.setdefault(item.subject, item.position)
    for subj, found in existing(uow, seen).items():
        problems.append(Problem("item_exists", f"items.{seen[subj]}", f"{subj} 已于日志第{found.commissioned_index}条赋码", f"{subj} was commissioned at index {found.commissioned_index}"))
    if problems:
        raise item_exists(sorted(problems, key=lambda p: int(p.subject.split(".")[1])))
    return valid


# --- codes ------------------------------------------------------------------------------

def sign_codes(uow_or_registry, items: Sequence[NewItem], processes: int = 1) -> dict[str, str]:
    """Return ``subject -> token`` for *items*, signed with the current key (no lock needed)."""
    registry = getattr(uow_or_registry, "registry", uow_or_registry)
    with CodeSigner(registry.keys.current, processes) as signer:
        tokens = signer.sign([(i.kind, i.identifier) for i in items])
    return {i.subject: t for i, t in zip(items, tokens)}


# --- appending --------------------------------------------------------------------------


def append(uow: UnitOfWork, actor: Actor, items: Sequence[NewItem], tokens: Mapping[str, str]) -> list[Commissioned]:
    """Append one commission event per item in one go (the lock taken once) and project them."""
    public_url = uow.registry.public_url
    key = uow.registry.keys.current
    events = []
    for item in items:
        token = tokens.get(item.subject) or make_token(item.kind, item.identifier, key.key_hash, key.sign)
        data = {
            "kind": item.kind,
            "identifier": item.identifier,
            "model": item.model,
            "produced_on": item.produced_on,
            "batch": item.batch,
            "reused": item.reused,
            "code": token,
            "payload": payload_url(public_url, token),
        }
        events.append(NewEvent("commission", actor.org_id, actor.user_id, [item.subject], data))
    appended = record_many(uow, events)
    return [
        Commissioned(e.data["kind"], e.data["identifier"], e.data["payload"], a.index, e.subjects[0])
        for e, a in zip(events, appended)
    ]


def commission_items(uow: UnitOfWork, actor: Actor, items: Sequence[object], *, tokens: Mapping[str, str] | None = None) -> list[Commissioned]:
    """Commission a batch, all or nothing: 403 role, 422 ``invalid_items`` naming every bad item, 409 ``item_exists``.

    *tokens* (``subject -> token``) may hold codes signed beforehand, outside the
    append lock; any item without one is signed here.
    """
    valid = prepare(uow, actor, items)
    out = append(uow, actor, valid, tokens or {})
    uow.commit()
    return out


# --- projection -------------------------------------------------------------------------


@applies_to("commission")
def _item_commissioned(session: Session, index: int, body: dict) -> None:
    data = body["data"]
    item = Item(
        subject=subject(data["kind"], data["identifier"]),
        kind=data["kind"],
        identifier=data["identifier"],
        model=data["model"],
        maker_org_id=body["org"],
        produced_on=data["produced_on"],
        batch=data.get("batch"),
        state="commissioned",
        holder_org_id=body["org"],
        reused=bool(data.get("reused")),
        legacy=False,
        backfilled=False,
        stolen=False,
        code=data["payload"],
        commissioned_index=index,
        last_index=index,
    )
    session.add(item)
    hold(session, item)  # a batch ships what it commissioned without flushing to find it
