"""The owner vault: personal data encrypted, outside the log, under a keyed pseudonym.

The log holds only ``pseudonym = HMAC-SHA256(pseudonym key, id_type:id_number)``;
names, ID numbers and phones live here, encrypted with AES-GCM. Erasing a person
deletes the row; the log, its proofs and the pseudonym's chain stay intact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.domain import identifiers as ids
from registry.domain.errors import DomainError, invalid, not_found
from registry.domain.roles import Actor
from registry.store.log import utc_now
from registry.store.models import Person, Reveal
from registry.store.uow import UnitOfWork, hold, load_held

#: Who may see clear personal data (each reveal is recorded).
REVEALERS = ("investigator", "registration_point")


@dataclass(frozen=True)
class PersonDetails:
    """A validated person: name, identity document and phone."""

    name: str
    id_type: str
    id_number: str
    phone: str | None

    def as_dict(self) -> dict:
        return {"name": self.name, "id_type": self.id_type, "id_number": self.id_number, "phone": self.phone}

    def masked(self) -> dict:
        return {
            "name": ids.mask_name(self.name),
            "id_type": self.id_type,
            "id_number": ids.mask_id_number(self.id_number),
            "phone": ids.mask_phone(self.phone) if self.phone else None,
        }


def validate_person(raw, field: str) -> PersonDetails:
    """Validate a person object from a request; raise 422 naming each bad field."""
    if not isinstance(raw, dict):
        raise invalid({field: [("应为包含姓名、证件号码和手机号的对象", "must be an object with name, id_number and phone")]})
    errors: dict[str, list[tuple[str, str]]] = {}
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        errors[f"{field}.name"] = [("姓名不能为空且不超过64字", "name is required (at most 64 characters)")]
    id_type = raw.get("id_type", "resident_id")
    id_number = phone = None
    try:
        id_number = ids.id_document(id_type, raw.get("id_number"), field=f"{field}.id_number")
    except ids.InvalidIdentifier as err:
        errors[err.field if err.field.startswith(field) else f"{field}.{err.field}"] = [(err.message_zh, err.message_en)]
    if raw.get("phone") not in (None, ""):
        try:
            phone = ids.mobile_phone(raw.get("phone"), field=f"{field}.phone")
        except ids.InvalidIdentifier as err:
            errors[f"{field}.phone"] = [(err.message_zh, err.message_en)]
    unknown = set(raw) - {"name", "id_type", "id_number", "phone"}
    for key in sorted(unknown):
        errors[f"{field}.{key}"] = [("未知字段", "unknown field")]
    if errors:
        raise invalid(errors)
    return PersonDetails(name.strip(), id_type, id_number, phone)


class Vault:
    """Keys in the instance folder: one for pseudonyms (HMAC), one for encryption (AES-GCM)."""

    def __init__(self, instance_path: Path):
        self.folder = Path(instance_path) / "vault"
        self._pseudonym_key = self._key("pseudonym.key")
        self._aead = AESGCM(self._key("vault.key"))

    def _key(self, name: str) -> bytes:
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(os.urandom(32))
            except FileExistsError:
                pass
        return path.read_bytes()

    def pseudonym(self, id_type: str, id_number: str) -> str:
        """Return the keyed pseudonym of a document (stable for this instance)."""
        mac = hmac.new(self._pseudonym_key, f"{id_type}:{id_number}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def seal(self, person: PersonDetails, pseudonym: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(person.as_dict(), ensure_ascii=False).encode(), pseudonym.encode())

    def open(self, blob: bytes, pseudonym: str) -> PersonDetails:
        blob = bytes(blob)
        data = json.loads(self._aead.decrypt(blob[:12], blob[12:], pseudonym.encode()))
        return PersonDetails(**data)


def store_person(uow: UnitOfWork, vault: Vault, person: PersonDetails) -> str:
    """Keep a person's latest details in the vault; return the pseudonym the log will use."""
    pseudonym = vault.pseudonym(person.id_type, person.id_number)
    session = uow.session
    # Persons are added only here, and held when added: a batch registering owners finds them
    # without writing out every previous event's changes first.
    row = load_held(session, Person, pseudonym)
    if row is None:
        row = Person(pseudonym=pseudonym, ciphertext=vault.seal(person, pseudonym), created_at=utc_now())
        session.add(row)
        hold(session, row, pseudonym)
    else:
        row.ciphertext = vault.seal(person, pseudonym)
    return pseudonym


def person_view(uow: UnitOfWork, vault: Vault, actor: Actor, pseudonym: str, *, clear: bool,
                case_number: str | None, purpose: str) -> dict | None:
    """Return a person's details, clear (and the reveal recorded) or masked; None when erased."""
    row = uow.session.get(Person, pseudonym)
    if row is None:
        return {"pseudonym": pseudonym, "erased": True}
    person = vault.open(row.ciphertext, pseudonym)
    if not clear:
        return {"pseudonym": pseudonym, "masked": True, **person.masked()}
    if actor.org_kind not in REVEALERS:
        raise DomainError("reveal_not_allowed", "无权查看个人信息", "this role may not see personal data", status=403)
    uow.session.add(Reveal(at=utc_now(), org_id=actor.org_id, user_id=actor.user_id, pseudonym=pseudonym,
                           case_number=case_number, purpose=purpose))
    return {"pseudonym": pseudonym, "masked": False, **person.as_dict()}


def erase_person(uow: UnitOfWork, actor: Actor, pseudonym: str, reason: str) -> None:
    """Erase a person (PIPL): delete the vault row; the log and its proofs are untouched."""
    row = uow.session.get(Person, pseudonym)
    if row is None:
        raise not_found("person_not_found", "该个人信息不存在或已删除", "no such person (or already erased)")
    uow.session.delete(row)
    uow.session.add(Reveal(at=utc_now(), org_id=actor.org_id, user_id=actor.user_id, pseudonym=pseudonym,
                           case_number=reason[:100], purpose="erasure"))
    uow.commit()
