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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from registry.domain.lookalike import skeleton as _skeleton
from registry.domain.rules import plate_key

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
    #: Indexed: statistics find every incident (and other rare kinds) without a scan.
    kind: Mapped[str] = mapped_column(String(40), index=True)
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


class Certificate(Base):
    """A CCC certificate and its current status."""

    __tablename__ = "certificates"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    product_kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    holder_org_id: Mapped[str] = mapped_column(String(32), index=True)
    issued_on: Mapped[str] = mapped_column(String(10))
    expires_on: Mapped[str] = mapped_column(String(10))
    #: valid / suspended / revoked
    status: Mapped[str] = mapped_column(String(16))
    registered_index: Mapped[int] = mapped_column(BigInteger)
    status_index: Mapped[int] = mapped_column(BigInteger)


class ProductModel(Base):
    """A vehicle, battery or charger model of one maker, with its specs."""

    __tablename__ = "product_models"
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    maker_org_id: Mapped[str] = mapped_column(String(32), index=True)
    certificate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Canonical JSON of the specs (units in the key names: voltage_v, capacity_ah …).
    specs: Mapped[str] = mapped_column(Text)
    #: Vehicles: GB17761-2024, GB17761-2018 or non_standard.
    standard: Mapped[str | None] = mapped_column(String(16), nullable=True)
    transition_deadline: Mapped[str | None] = mapped_column(String(10), nullable=True)
    registered_index: Mapped[int] = mapped_column(BigInteger)


class ModelApproval(Base):
    """A battery or charger model approved for a vehicle model (标配 standard / 互认 mutual)."""

    __tablename__ = "model_approvals"
    vehicle_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_kind: Mapped[str] = mapped_column(String(16))
    approval: Mapped[str] = mapped_column(String(16))


class Item(Base):
    """A coded vehicle, battery or charger: its current state, holder and bindings."""

    __tablename__ = "items"
    #: The chain subject, ``kind:identifier``.
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(64), index=True)
    #: The identifier folded for look-alike search (O/0, I/1, S/5, B/8, Z/2; separators dropped),
    #: filled from the identifier on insert (registry.domain.lookalike.skeleton).
    skeleton: Mapped[str | None] = mapped_column(
        String(64), index=True, nullable=True, default=lambda ctx: _skeleton(ctx.get_current_parameters().get("identifier"))
    )
    model: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    maker_org_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    #: Indexed: the overdue-assessment list reads batteries oldest first.
    produced_on: Mapped[str | None] = mapped_column(String(10), index=True, nullable=True)
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: commissioned, shipped, in_stock, sold, registered, installed, removed, retired, recycled, deregistered, scrapped
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: The organisation that holds it now (None once it is with an owner).
    holder_org_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    #: Where it was shipped and not yet received.
    shipped_to_org_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Pseudonym of the owner (registered vehicles and their parts).
    owner: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    #: Battery or charger: the vehicle subject it is installed in.
    installed_in: Mapped[str | None] = mapped_column(String(80), index=True, nullable=True)
    #: Vehicle: its current battery and charger subjects.
    battery: Mapped[str | None] = mapped_column(String(80), nullable=True)
    charger: Mapped[str | None] = mapped_column(String(80), nullable=True)
    plate: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    #: The plate as plates are compared (middle dot and full stops removed), set with the
    #: plate: a registration asks "is this plate in use, written either way" by index.
    plate_key: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    sold_by_org_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sold_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reused: Mapped[bool] = mapped_column(default=False)
    legacy: Mapped[bool] = mapped_column(default=False)
    backfilled: Mapped[bool] = mapped_column(default=False)
    stolen: Mapped[bool] = mapped_column(default=False)
    #: Battery: the date of its last passed health assessment.
    assessed_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: The full QR payload printed on its label.
    code: Mapped[str | None] = mapped_column(Text, nullable=True)
    commissioned_index: Mapped[int] = mapped_column(BigInteger)
    last_index: Mapped[int] = mapped_column(BigInteger)

    @validates("plate")
    def _plate_changed(self, _key: str, value: str | None) -> str | None:
        self.plate_key = plate_key(value) if value else None
        return value


class OrgListing(Base):
    """An organisation on the positive list or the blacklist."""

    __tablename__ = "org_listings"
    list: Mapped[str] = mapped_column(String(16), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    listed_index: Mapped[int] = mapped_column(BigInteger)


class Recall(Base):
    """A recall by model, batch, production dates or certificate; open until remedied."""

    __tablename__ = "recalls"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    produced_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    produced_to: Mapped[str | None] = mapped_column(String(10), nullable=True)
    certificate: Mapped[str | None] = mapped_column(String(16), index=True, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    org_id: Mapped[str] = mapped_column(String(32))
    opened_index: Mapped[int] = mapped_column(BigInteger)
    #: Set when a recall_remedy closes the whole recall.
    closed_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RecallRemedy(Base):
    """One item remedied under a recall."""

    __tablename__ = "recall_remedies"
    recall_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: Indexed too: an item's remedies are looked up by subject (open recalls on every trace and scan).
    subject: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    remedied_index: Mapped[int] = mapped_column(BigInteger)


class Voided(Base):
    """An event voided (did_not_occur) or amended (incorrect_data) by a correction."""

    __tablename__ = "corrections"
    corrected_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    correction_index: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))


PROJECTION_MODELS: list[type[Base]] = [
    Organisation,
    Certificate,
    ProductModel,
    ModelApproval,
    Item,
    OrgListing,
    Recall,
    RecallRemedy,
    Voided,
]


# --- personal data (mutable, never in the log) ----------------------------------------


class Person(Base):
    """The owner vault: a person's details, encrypted, under the pseudonym the log uses."""

    __tablename__ = "persons"
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: AES-GCM of the JSON {name, id_type, id_number, phone}, key in the instance folder.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Reveal(Base):
    """A record of clear personal data shown: who, when, whose, and the case number."""

    __tablename__ = "reveals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    org_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    case_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    purpose: Mapped[str] = mapped_column(String(32))


class IdempotentRequest(Base):
    """The first answer to a write sent with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotent_requests"
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
