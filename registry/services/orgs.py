"""Organisations and their users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from registry.domain.errors import conflict, invalid, not_found
from registry.domain.roles import ORG_KINDS, Actor, require, require_kind
from registry.services.recording import record
from registry.store.log import Appended, utc_now
from registry.store.models import Organisation, User
from registry.store.uow import UnitOfWork


def new_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class RegisterOrganisation:
    name: str
    kind: str
    license_no: str
    region: str


def register_organisation(uow: UnitOfWork, actor: Actor | None, cmd: RegisterOrganisation) -> tuple[Organisation, Appended]:
    """Register an organisation: itself a log event, so later rules can be proven against it."""
    if actor is not None:
        require(actor, "register_organisation")
    if cmd.kind not in ORG_KINDS:
        raise invalid({"kind": [("未知的机构类型", f"unknown organisation kind {cmd.kind!r}")]})
    org_id = new_id()
    data = {"id": org_id, "name": cmd.name, "kind": cmd.kind, "license_no": cmd.license_no, "region": cmd.region}
    appended = record(uow, actor, "register_organisation", [f"org:{org_id}"], data)
    org = uow.session.get(Organisation, org_id)
    uow.commit()
    return org, appended


def add_user(uow: UnitOfWork, actor: Actor | None, org_id: str, username: str, password: str, *,
             password_hash: str | None = None) -> User:
    """Create a user of an organisation (admin only); *password_hash*: the password already hashed
    (the demo city's users share one password, hashed once)."""
    if actor is not None:
        require_kind(actor, "admin")
    if uow.session.get(Organisation, org_id) is None:
        raise not_found("organisation_not_found", "机构不存在", "no such organisation")
    if uow.session.execute(select(User.id).where(User.username == username)).first():
        raise conflict("username_taken", "用户名已被占用", "username already taken")
    user = User(
        id=new_id(),
        org_id=org_id,
        username=username,
        password_hash=password_hash or generate_password_hash(password),
        created_at=utc_now(),
        active=True,
    )
    uow.session.add(user)
    uow.commit()
    return user


def find_org_by_kind(uow: UnitOfWork, kind: str) -> Organisation | None:
    return uow.session.execute(select(Organisation).where(Organisation.kind == kind).limit(1)).scalar()


def create_admin(uow: UnitOfWork, username: str, password: str) -> User:
    """Create the first administrator (and the admin organisation, once)."""
    org = find_org_by_kind(uow, "admin")
    if org is None:
        org, _ = register_organisation(
            uow, None, RegisterOrganisation("系统管理 System administration", "admin", "-", "000000")
        )
    return add_user(uow, None, org.id, username, password)


def list_organisations(uow: UnitOfWork) -> list[Organisation]:
    return list(uow.session.execute(select(Organisation).order_by(Organisation.registered_index)).scalars())
