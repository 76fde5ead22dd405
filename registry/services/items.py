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
from registry.store.uow import UnitOfWork, load_item

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
    """Return the decoded token when its signature verifies with a published key; else refuse (422).

    A code signed by another region of the directory (registry.regions) is genuine too: a
    vehicle that moved here carries its first region's labels."""
    try:
        return verify_token(token, uow.registry.keys.by_id())
    except InvalidCode as err:
        peers = uow.registry.peers
        if err.code == "unknown_key" and peers is not None:
            try:
                return verify_token(token, peers.key_ids())
            except InvalidCode as again:
                err = again
        raise not_genuine(err.code, field) from None


def _by_code(uow: UnitOfWork, decoded, field: str) -> Item:
    if decoded.kind == "plate":
        item = uow.session.execute(select(Item).where(Item.plate == decoded.identifier)).scalar()
    else:
        item = load_item(uow.session, subject(decoded.kind, decoded.identifier))
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
        item = load_item(uow.session, subject(kind, norm))
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


def verified_code(uow: UnitOfWork, token: str, kind: str | None, field: str = "item"):
    """Return the decoded token of a code that verifies (``verify_code``) and names a *kind* item
    (a plate code names a vehicle); else 422 ``code_not_genuine`` or ``code_wrong_kind``."""
    decoded = verify_code(uow, token, field)
    if kind is not None and decoded.kind != kind and not (kind == "vehicle" and decoded.kind == "plate"):
        raise DomainError(
            "code_wrong_kind",
            f"这是{decoded.kind}的二维码，不是{kind}的",
            f"this is the code of a {decoded.kind}, not of a {kind}",
            status=422,
            errors={field: [(f"这是{decoded.kind}的二维码", f"is the code of a {decoded.kind}, not of a {kind}")]},
        )
    return decoded


def find_item(uow: UnitOfWork, value: str, kind: str | None = None, *, field: str = "item") -> Item:
    """Return the item named by a bare identifier or a scanned payload (or bare token).

    A code must verify with a published key (else 422 ``code_not_genuine``); a bare
    identifier is normalised and validated as *kind* (standard or legacy), or by
    its look when *kind* is None. Unknown: 404 ``item_not_found``.
    """
    token = code_token(value)
    if token is not None:
        return _by_code(uow, verified_code(uow, token, kind, field), field)
    if kind is None:
        return _by_identifier(uow, value, field)
    identifier = item_identifier(kind, value, legacy=True, field=field)
    subj = subject(kind, identifier)
    item = load_item(uow.session, subj)
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


# --- recalls and flags of many items at once (traceback, lists) -----------------------------
#
# ``open_recalls``/``flags`` above answer for one item (a scan, a sale, a swap); a traceback
# answers for a whole set. The functions below give the same answers for many items in a fixed
# number of queries, and ``recall_covers`` is the one statement of what a recall's scope covers.


def recall_covers(recall: Recall, item, certificate: str | None) -> bool:
    """Return whether *recall*'s scope covers *item* (an Item or a row with its columns).

    *certificate* is the CCC certificate of the item's model. A recall names a model, a
    certificate, a batch and production dates, each optional: every one it names must match;
    an item of unknown production date stays covered (flagging is the safe side); an item of
    unknown model (a legacy item) is covered by none.
    """
    if item.model is None:
        return False
    if recall.model is not None and recall.model != item.model:
        return False
    if recall.certificate is not None and recall.certificate != certificate:
        return False
    if recall.batch is not None and recall.batch != item.batch:
        return False
    if item.produced_on and recall.produced_from and item.produced_on < recall.produced_from:
        return False
    if item.produced_on and recall.produced_to and item.produced_on > recall.produced_to:
        return False
    return True


def _core(uow: UnitOfWork):
    """The session's connection for a Core read, after writing out what the ORM holds (a batch
    flushes only when something reads: see ``UnitOfWork.commit``)."""
    uow.session.flush()
    return uow.session.connection()


def model_certificates(uow: UnitOfWork, models) -> dict[str, str | None]:
    """Return ``model -> its certificate number`` for *models* (one query)."""
    names = sorted({m for m in models if m})
    if not names:
        return {}
    return dict(_core(uow).execute(
        select(ProductModel.model, ProductModel.certificate).where(ProductModel.model.in_(names))).all())


def _covering_statement(open_only: bool):
    from sqlalchemy import and_, bindparam, or_

    stmt = select(*Recall.__table__.columns).where(or_(
        Recall.model.in_(bindparam("models", expanding=True)),
        and_(Recall.model.is_(None), Recall.certificate.is_(None)),
        Recall.certificate.in_(bindparam("certificates", expanding=True)),
    ))
    if open_only:
        stmt = stmt.where(Recall.closed_index.is_(None))
    return stmt.order_by(Recall.opened_index)


_COVERING: dict[bool, object] = {}


def covering_recalls_of(uow: UnitOfWork, items, certificates: dict[str, str | None] | None = None, *,
                        open_only: bool = False) -> dict[str, list]:
    """Return ``subject -> every recall whose scope covers it`` (rows with the columns of Recall, in
    opening order) for *items* (Items or rows with their columns), in one query.

    *certificates* (``model -> certificate``) saves a query when the caller has them; with
    *open_only* closed recalls are left out (remedies are not: see :func:`open_recalls_of`).
    """
    items = [it for it in items if it is not None]
    models = {it.model for it in items if it.model}
    out: dict[str, list] = {it.subject: [] for it in items}
    if not models:
        return out
    if certificates is None or not models <= set(certificates):
        certificates = {**(certificates or {}), **model_certificates(uow, models - set(certificates or {}))}
    certs = sorted({c for m in models if (c := certificates.get(m))})
    if open_only not in _COVERING:
        _COVERING[open_only] = _covering_statement(open_only)
    recalls = _core(uow).execute(_COVERING[open_only], {"models": sorted(models), "certificates": certs}).all()
    if not recalls:
        return out
    # most recalls name a batch: an item need only be held against those of its own batch and the batchless
    by_batch: dict[str | None, list] = {}
    for r in recalls:
        by_batch.setdefault(r.batch, []).append(r)
    batchless = by_batch.get(None, [])
    for it in items:
        if it.model is None:
            continue
        cert = certificates.get(it.model)
        candidates = batchless + by_batch.get(it.batch, []) if it.batch is not None else batchless
        if candidates:
            found = [r for r in candidates if recall_covers(r, it, cert)]
            if batchless and it.batch is not None and by_batch.get(it.batch):
                found.sort(key=lambda r: r.opened_index)
            out[it.subject] = found
    return out


def open_recalls_of(uow: UnitOfWork, items, certificates: dict[str, str | None] | None = None, *,
                    covering: dict[str, list] | None = None) -> dict[str, list]:
    """:func:`open_recalls` of many items: ``subject -> open recalls covering it, not remedied for it``.

    At most three queries whatever the number of items: the models' certificates (unless given),
    the open recalls that may cover them (unless *covering*, as :func:`covering_recalls_of` gives
    them, is given), and the remedies of those recalls for those items.
    """
    from registry.store.models import RecallRemedy

    if covering is None:
        covering = covering_recalls_of(uow, items, certificates, open_only=True)
    covering = {s: [r for r in rs if r.closed_index is None] for s, rs in covering.items()}
    wanted = sorted({s for s, rs in covering.items() if rs})
    if not wanted:
        return covering
    ids = sorted({r.id for s in wanted for r in covering[s]})
    done: set[tuple[str, str]] = set()
    conn = _core(uow)
    for i in range(0, len(wanted), 500):
        done.update((r, s) for r, s in conn.execute(select(RecallRemedy.recall_id, RecallRemedy.subject).where(
            RecallRemedy.subject.in_(wanted[i:i + 500]), RecallRemedy.recall_id.in_(ids))))
    return {s: [r for r in rs if (r.id, s) not in done] for s, rs in covering.items()}


def flags_of(uow: UnitOfWork, items, open_recalls: dict[str, list] | None = None) -> dict[str, dict]:
    """:func:`flags` of many items (``subject -> flags``); *open_recalls* as :func:`open_recalls_of` gives them."""
    items = [it for it in items if it is not None]
    recalls = open_recalls if open_recalls is not None else open_recalls_of(uow, items)
    return {
        it.subject: {
            "recalled": bool(recalls.get(it.subject)),
            "stolen": bool(it.stolen),
            "reused": bool(it.reused),
            "legacy": bool(it.legacy),
            "backfilled": bool(it.backfilled),
        }
        for it in items
    }
