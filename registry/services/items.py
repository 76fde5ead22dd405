"""Finding items: by bare identifier or scanned code, the one resolver every use case calls."""

from __future__ import annotations

import datetime
import re

from sqlalchemy import select

from registry.domain.errors import DomainError, Problem, not_found
from registry.domain.identifiers import ITEM_KINDS, InvalidIdentifier, guess_kind, item_identifier, normalise
from registry.labels import InvalidCode, token_from_payload, verify_token
from registry.services import facts
from registry.store.models import Item, Organisation, ProductModel, Recall
from registry.store.uow import UnitOfWork

#: A payload whose "//" a proxy or client merged ("http:/host/c/TOKEN"): the token is still its last segment.
_LOOSE_PAYLOAD = re.compile(r"/c/([0-9A-Za-z]+)/?$", re.ASCII)

#: Why a code is not genuine, for people (the machine code is InvalidCode.code).
REASONS = {
    "not_a_code_url": ("不是本系统的二维码内容", "not a code of this registry"),
    "token_malformed": ("二维码内容格式错误", "the code is malformed"),
    "token_unsupported_version": ("二维码版本未知", "unknown code version"),
    "token_not_canonical": ("二维码内容被改动", "the code has been altered"),
    "unknown_key": ("签名密钥未公布", "signed by a key this registry never published"),
    "signature_invalid": ("签名无效：二维码被篡改或伪造", "the signature does not verify: altered or forged"),
    "item_not_found": ("签名有效，但物品未在本系统登记", "the signature verifies but no such item is registered"),
}


def subject(kind: str, identifier: str) -> str:
    """Return an item's chain subject, ``kind:identifier``."""
    return f"{kind}:{identifier}"


def code_token(value: object) -> str | None:
    """Return the token in a scanned payload or bare token, or None when *value* is no code."""
    token = token_from_payload(value)
    if token is None and isinstance(value, str) and len(value) < 1024:
        m = _LOOSE_PAYLOAD.search(value.strip())
        if m:
            token = m.group(1).upper()
    return token


def not_genuine(reason: str, field: str = "item") -> DomainError:
    zh, en = REASONS.get(reason, REASONS["token_malformed"])
    return DomainError(
        "code_not_genuine",
        f"二维码不是真码：{zh}",
        f"the code is not genuine: {en}",
        status=422,
        problems=[Problem(reason, field, zh, en)],
        errors={field: [(f"二维码不是真码：{zh}", f"the code is not genuine: {en}")]},
    )


def item_not_found(field: str = "item") -> DomainError:
    err = not_found("item_not_found", "未找到该物品：编码未在本系统登记", "no such item: the identifier is not registered")
    err.errors = {field: [("编码未在本系统登记", "is not registered")]}
    return err


def verify_code(uow: UnitOfWork, token: str, field: str = "item"):
    """Return the decoded token when its signature verifies with a published key; else refuse (422)."""
    try:
        return verify_token(token, uow.registry.keys.by_id())
    except InvalidCode as err:
        raise not_genuine(err.code, field) from None


def _by_code(uow: UnitOfWork, decoded, field: str) -> Item:
    if decoded.kind == "plate":
        item = uow.session.execute(select(Item).where(Item.plate == decoded.identifier)).scalar()
    else:
        item = uow.session.get(Item, subject(decoded.kind, decoded.identifier))
    if item is None:
        raise item_not_found(field)
    return item


def _by_identifier(uow: UnitOfWork, value: object, field: str) -> Item:
    """Resolve a bare identifier of unknown kind: its look first, then any item that bears it."""
    norm = normalise(value, field)
    if not norm:
        raise InvalidIdentifier(field, "empty", "编码不能为空", "Identifier must not be empty")
    kind = guess_kind(norm)
    if kind is not None:
        item = uow.session.get(Item, subject(kind, norm))
        if item is not None:
            return item
    elif not norm.isalnum() or not norm.isascii():
        raise InvalidIdentifier(
            field, "identifier_unrecognised",
            "不是有效的整车、蓄电池或充电器编码，也不是本系统的二维码内容",
            "Is neither a vehicle, battery or charger code nor a code of this registry",
        )
    # Legacy identifiers (补码) look like anything; the identifier column is indexed.
    found = list(uow.session.execute(select(Item).where(Item.identifier == norm).limit(2)).scalars())
    if not found:
        raise item_not_found(field)
    if len(found) > 1:
        raise DomainError(
            "identifier_ambiguous", "多个物品使用此编码，请指明类型", "several items bear this identifier: name the kind",
            status=422, errors={field: [("多个物品使用此编码，请指明类型", "several items bear this identifier: name the kind")]},
        )
    return found[0]


def find_item(uow: UnitOfWork, value: str, kind: str | None = None, *, field: str = "item") -> Item:
    """Return the item named by a bare identifier or a scanned payload (or bare token).

    A code must verify with a published key (else 422 ``code_not_genuine``); a bare
    identifier is normalised and validated as *kind* (standard or legacy), or by
    its look when *kind* is None. Unknown: 404 ``item_not_found``.
    """
    token = code_token(value)
    if token is not None:
        decoded = verify_code(uow, token, field)
        if kind is not None and decoded.kind != kind and not (kind == "vehicle" and decoded.kind == "plate"):
            raise DomainError(
                "code_wrong_kind",
                f"这是{decoded.kind}的二维码，不是{kind}的",
                f"this is the code of a {decoded.kind}, not of a {kind}",
                status=422,
                errors={field: [(f"这是{decoded.kind}的二维码", f"is the code of a {decoded.kind}, not of a {kind}")]},
            )
        return _by_code(uow, decoded, field)
    if kind is None:
        return _by_identifier(uow, value, field)
    identifier = item_identifier(kind, value, legacy=True, field=field)
    item = uow.session.get(Item, subject(kind, identifier))
    if item is None:
        raise item_not_found(field)
    return item


# --- what anyone may know about an item -------------------------------------------------


def open_recalls(uow: UnitOfWork, item: Item) -> list[Recall]:
    """Return the open recalls that cover *item* and have not been remedied for it."""
    if item.model is None:
        return []
    recalls = facts.open_recalls(uow)
    if not recalls:
        return []
    model = facts.get(uow, ProductModel, item.model)
    certificate = model.certificate if model else None
    out = []
    for r in recalls:
        if r.model is None and r.certificate is None:
            pass  # a recall of a batch or of production dates across models
        elif r.model is not None and r.model != item.model:
            continue
        elif r.certificate is not None and r.certificate != certificate:
            continue
        if r.batch is not None and r.batch != item.batch:
            continue
        # An item of unknown production date stays covered: flagging is the safe side.
        if item.produced_on and r.produced_from and item.produced_on < r.produced_from:
            continue
        if item.produced_on and r.produced_to and item.produced_on > r.produced_to:
            continue
        out.append(r)
    if out:
        done = facts.remedied(uow, item.subject)
        out = [r for r in out if r.id not in done]
    return out


def age_days(produced_on: str | None, today: datetime.date | None = None) -> int | None:
    """Return the days since *produced_on* (``YYYY-MM-DD``), or None when unknown."""
    if not produced_on:
        return None
    try:
        produced = datetime.date.fromisoformat(produced_on)
    except ValueError:
        return None
    return ((today or datetime.datetime.now(datetime.timezone.utc).date()) - produced).days


def flags(uow: UnitOfWork, item: Item) -> dict:
    """Return the item's flags: recalled, stolen, reused, legacy, backfilled."""
    return {
        "recalled": bool(open_recalls(uow, item)),
        "stolen": bool(item.stolen),
        "reused": bool(item.reused),
        "legacy": bool(item.legacy),
        "backfilled": bool(item.backfilled),
    }


def maker_name(uow: UnitOfWork, item: Item) -> str | None:
    org = facts.get(uow, Organisation, item.maker_org_id)
    return org.name if org else None


def public_view(uow: UnitOfWork, item: Item) -> dict:
    """Return what the public may see of an item: never its owner, plate or holder."""
    model = facts.get(uow, ProductModel, item.model)
    return {
        "kind": item.kind,
        "identifier": item.identifier,
        "model": item.model,
        "maker": maker_name(uow, item),
        "state": item.state,
        "produced_on": item.produced_on,
        "flags": flags(uow, item),
        "battery_age_days": age_days(item.produced_on) if item.kind == "battery" else None,
        "certificate": model.certificate if model else None,
        "standard": model.standard if model else None,
    }


__all__ = [
    "ITEM_KINDS",
    "REASONS",
    "age_days",
    "code_token",
    "find_item",
    "flags",
    "item_not_found",
    "not_genuine",
    "open_recalls",
    "public_view",
    "subject",
    "verify_code",
]
