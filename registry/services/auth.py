"""Bearer tokens: issued for a username and password, stored hashed, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, select
from werkzeug.security import check_password_hash

from registry.domain.errors import DomainError
from registry.domain.roles import Actor
from registry.store.log import utc_now
from registry.store.models import ApiToken, Organisation, User
from registry.store.uow import UnitOfWork

# A hash to compare against when the user does not exist, so that a wrong
# username costs as long as a wrong password.
_DUMMY_HASH = "scrypt:32768:8:1$abcdefghijklmnop$" + "0" * 128


def unauthorised() -> DomainError:
    return DomainError("unauthorised", "未登录或令牌无效", "missing or invalid credentials", status=401)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(uow: UnitOfWork, username: str, password: str) -> User:
    """Return the active user with this username and password, or refuse (401)."""
    user = uow.session.execute(select(User).where(User.username == username)).scalar()
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        raise DomainError("bad_credentials", "用户名或密码错误", "wrong username or password", status=401)
    return user


def issue_token(uow: UnitOfWork, username: str, password: str, ttl_seconds: int) -> tuple[str, datetime]:
    """Return a new bearer token and when it expires."""
    user = authenticate(uow, username, password)
    token = secrets.token_urlsafe(32)
    expires = utc_now() + timedelta(seconds=ttl_seconds)
    uow.session.add(ApiToken(token_hash=_hash_token(token), user_id=user.id, created_at=utc_now(), expires_at=expires))
    uow.commit()
    return token, expires


def actor_for_user(uow: UnitOfWork, user: User) -> Actor:
    org = uow.session.get(Organisation, user.org_id)
    if org is None:
        raise unauthorised()
    return Actor(org_id=org.id, org_kind=org.kind, user_id=user.id)


_ACTOR_FOR_TOKEN = (
    select(ApiToken.expires_at, User.id, User.active, Organisation.id, Organisation.kind)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Organisation, Organisation.id == User.org_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def actor_for_token(uow: UnitOfWork, token: str) -> Actor:
    """Return who a bearer token speaks for, or refuse (401). One round trip: every request pays it."""
    row = uow.session.execute(_ACTOR_FOR_TOKEN, {"token_hash": _hash_token(token)}).first()
    if row is None:
        raise unauthorised()
    expires_at, user_id, active, org_id, org_kind = row
    expires = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=timezone.utc)
    if expires <= utc_now() or not active or org_id is None:
        raise unauthorised()
    return Actor(org_id=org_id, org_kind=org_kind, user_id=user_id)
