"""Checking a code for anyone (no login): genuine or not, and what the public may know of its item."""

from __future__ import annotations

from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.labels import InvalidCode, verify_token
from registry.services.items import REASONS, code_token, find_item, public_view
from registry.store.uow import UnitOfWork

REASONS_EXTRA = {
    "identifier_invalid": ("不是有效的编码或二维码内容", "neither a valid identifier nor a code"),
    "identifier_ambiguous": ("多个物品使用此编码", "several items bear this identifier"),
}
_MAX_TOKEN = 512


def _not_genuine(reason: str, lang: str, **extra) -> dict:
    zh, en = REASONS.get(reason) or REASONS_EXTRA.get(reason) or REASONS["token_malformed"]
    return {"genuine": False, "reason": reason, "message": zh if lang == "zh" else en, **extra}


def check(uow: UnitOfWork, value: str, lang: str = "zh", *, token_only: bool = False) -> dict:
    """Return ``{genuine, reason?, kind, identifier, model, maker, state, flags, battery_age_days, …}``.

    *value* is a bare token (``token_only``, as in ``/codes/{token}`` and ``/c/{token}``),
    or a scanned payload, a bare token or a typed identifier. Never raises for bad
    input, and never answers with personal data.
    """
    if token_only:
        token = value.strip().upper() if isinstance(value, str) and len(value) <= _MAX_TOKEN else ""
    else:
        token = code_token(value)
    if token is not None:
        try:
            decoded = verify_token(token, uow.registry.keys.by_id())
        except InvalidCode as err:
            return _not_genuine(err.code, lang, source="code")
        try:
            item = find_item(uow, token)
        except DomainError as err:
            return _not_genuine(err.code if err.code in REASONS else "item_not_found", lang, source="code", key_id=decoded.key_id)
        return {"genuine": True, "source": "code", "key_id": decoded.key_id, **public_view(uow, item)}
    try:
        item = find_item(uow, value)
    except InvalidIdentifier:
        return _not_genuine("identifier_invalid", lang, source="identifier")
    except DomainError as err:
        return _not_genuine(err.code if err.code in REASONS_EXTRA else "item_not_found", lang, source="identifier")
    return {"genuine": True, "source": "identifier", **public_view(uow, item)}
