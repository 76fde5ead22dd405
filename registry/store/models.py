"""Typed SQLAlchemy models: the append-only log tables and the projections derived from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# --- the log (append-only: triggers refuse UPDATE and DELETE) -------------------------


class LogEntry(Base):
    """One event: its canonical bytes are a leaf of the Merkle tree."""

    __tablename__ = "log_entries"
    #: Leaf index: dense from 0, never reissued (the primary key and the head lock see to it).
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: H(0x00 || body), stored so proofs never rehash bodies.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: The exact canonical bytes that were hashed.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LogNode(Base):
    """A perfect subtree of level >= 1, written once when its last leaf arrives."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ChainLink(Base):
    """The seq-th event of one subject's chain (``vehicle:…``, ``battery:…``, ``owner:…``)."""

    __tablename__ = "chain_links"
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, index=True)


class SignedCheckpoint(Base):
    """A signed tree head, one per size the log has had when a commit ended."""

    __tablename__ = "checkpoints"
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: A size may be signed again by a new key after a rotation.
    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: The signed note exactly as served.
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LogHead(Base):
    """The one row whose lock serialises appends; its size is the next index."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)


LOG_TABLES = ("log_entries", "log_nodes", "chain_links", "checkpoints")


# --- access (mutable: passwords change, tokens expire) --------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: No foreign key: projections are rebuilt from the log underneath users.
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(default=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    #: SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- projections (rebuilt from the log by rebuild-state) ------------------------------


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    license_no: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(12))
    #: Log index of the register_organisation event.
    registered_index: Mapped[int] = mapped_column(BigInteger)


PROJECTION_MODELS: list[type[Base]] = [Organisation]
