"""From a submitted form to the same service call the API makes, and from a refusal to lines a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request
from marshmallow import ValidationError

from registry.api.context import registry
from registry.domain.errors import DomainError, invalid
from registry.domain.identifiers import InvalidIdentifier
from registry.services import lifecycle
from registry.store.log import Appended
from registry.web.auth import current_actor, field_errors, problems_of
from registry.web.i18n import gettext as _
from registry.web.i18n import lazy_gettext as _l
from schemas.events import SCHEMAS

#: Marshmallow's messages a form can provoke, said plainly.
_MARSHMALLOW = {
    "Missing data for required field.": _l("This field is required"),
    "Not a valid datetime.": _l("Not a valid date and time"),
    "Not a valid date.": _l("Not a valid date"),
    "Not a valid integer.": _l("Not a valid number"),
}


@dataclass
class Refusal:
    """Why the services refused a step: a title, every failed rule, and messages by field."""

    title: str
    problems: list[str]
    errors: dict[str, list[str]] = field(default_factory=dict)


def refusal(err: DomainError | InvalidIdentifier, title: str | None = None) -> Refusal:
    return Refusal(title or _("Not recorded: nothing was written"), problems_of(err), field_errors(err))


def values(*names: str) -> dict:
    """Return the submitted form's non-empty values of *names*, stripped."""
    out = {}
    for name in names:
        value = (request.form.get(name) or "").strip()
        if value:
            out[name] = value
    return out


def person(prefix: str) -> dict | None:
    """Return a person from the form's ``<prefix>_name``, ``_id_type``, ``_id_number`` and ``_phone``."""
    raw = values(f"{prefix}_name", f"{prefix}_id_type", f"{prefix}_id_number", f"{prefix}_phone")
    if not raw:
        return None
    return {key[len(prefix) + 1:]: value for key, value in raw.items()}


def _flatten(messages, prefix="") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    items = messages.items() if isinstance(messages, dict) else [("_schema", messages)]
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = value if isinstance(value, list) else [str(value)]
    return out


def load(kind: str, body: dict, schema=None) -> dict:
    """Validate *body* with the API's schema for *kind*; refuse (422) naming each field in the page's language."""
    try:
        return (schema or SCHEMAS[kind])().load({"kind": kind, **body})
    except ValidationError as err:
        errors = {}
        for name, messages in _flatten(err.messages).items():
            said = [str(_MARSHMALLOW[m]) if m in _MARSHMALLOW else m for m in messages]
            errors[name] = [(m, m) for m in said]
        raise invalid(errors) from None


def record(kind: str, body: dict) -> Appended:
    """Record one event of *kind* for the logged-in user, exactly as ``POST /api/v1/events`` does."""
    actor = current_actor()
    data = load(kind, body)
    with registry().writing() as uow:
        return lifecycle.record_event(uow, actor, kind, data)


def named(appended: Appended, kind: str) -> str:
    """Return the identifier of the *kind* item an event names (what a person reads, not the scanned payload)."""
    for subject in appended.body.get("prev") or {}:
        k, _s, identifier = subject.partition(":")
        if k == kind:
            return identifier
    return ""


def attempt(kind: str, body: dict) -> tuple[Appended | None, Refusal | None]:
    """Record, or return the refusal to show (nothing was written)."""
    try:
        return record(kind, body), None
    except (DomainError, InvalidIdentifier) as err:
        return None, refusal(err)
