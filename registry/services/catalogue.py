"""The catalogue: CCC certificates and models with their specs and approved pairings, each a log event."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.domain import catalogue as rules
from registry.domain.errors import DomainError, conflict, invalid, not_allowed, not_found
from registry.domain.identifiers import ccc_certificate
from registry.domain.roles import Actor, require
from registry.ledger import canonical_bytes
from registry.services.projections import applies_to
from registry.services.recording import record
from registry.store.log import Appended
from registry.store.models import Certificate, ModelApproval, Organisation, ProductModel
from registry.store.uow import UnitOfWork


@dataclass(frozen=True)
class RecordCertificate:
    number: str
    product_kind: str
    model: str
    issued_on: str
    expires_on: str
    #: The organisation holding it; a manufacturer may leave it out (itself).
    holder: str | None = None


@dataclass(frozen=True)
class RecordModel:
    kind: str
    model: str
    specs: dict
    certificate: str | None = None
    #: Model names, or ``{"model", "approval": "standard" | "mutual"}`` (标配 / 互认).
    approved_batteries: list = field(default_factory=list)
    approved_chargers: list = field(default_factory=list)


def _invalid(err: rules.CatalogueInvalid) -> DomainError:
    return invalid(err.errors)


def record_certificate(uow: UnitOfWork, actor: Actor, cmd: RecordCertificate) -> tuple[Certificate, Appended]:
    """Record a new CCC certificate: a manufacturer for itself, a regulator for any manufacturer."""
    require(actor, "certificate")
    holder = cmd.holder
    if actor.org_kind == "manufacturer":
        if holder not in (None, actor.org_id):
            raise not_allowed("not_own_certificate", "生产企业只能登记本企业的证书", "a manufacturer may record only its own certificates")
        holder = actor.org_id
    try:
        data = rules.certificate_fields(cmd.number, cmd.product_kind, cmd.model, cmd.issued_on, cmd.expires_on)
    except rules.CatalogueInvalid as err:
        raise _invalid(err) from None
    if not isinstance(holder, str) or not holder:
        raise invalid({"holder": [("为必填项（持证生产企业的机构编号）", "is required (the manufacturer's organisation id)")]})
    org = uow.session.get(Organisation, holder)
    if org is None or org.kind != "manufacturer":
        raise invalid({"holder": [("不是已登记的生产企业", "is not a registered manufacturer")]})
    if uow.session.get(Certificate, data["number"]) is not None:
        raise conflict("certificate_exists", "该证书编号已登记", "this certificate number is already recorded")
    data["holder"] = holder
    appended = record(uow, actor, "certificate", [f"certificate:{data['number']}"], data)
    cert = uow.session.get(Certificate, data["number"])
    uow.commit()
    return cert, appended


def record_model(uow: UnitOfWork, actor: Actor, cmd: RecordModel) -> tuple[ProductModel, Appended]:
    """Record a new model of the acting manufacturer, with its specs and (vehicles) approved parts."""
    require(actor, "model")
    try:
        data = rules.model_fields(cmd.kind, cmd.model, cmd.specs, cmd.certificate, cmd.approved_batteries, cmd.approved_chargers)
    except rules.CatalogueInvalid as err:
        raise _invalid(err) from None
    errors: rules.Errors = {}
    for name, part_kind in (("approved_batteries", "battery"), ("approved_chargers", "charger")):
        names = [a["model"] for a in data[name]]
        found = {
            m.model: m.kind
            for m in uow.session.execute(select(ProductModel).where(ProductModel.model.in_(names))).scalars()
        } if names else {}
        for i, part in enumerate(names):
            if part not in found:
                errors.setdefault(f"{name}.{i}", []).append(("型号未登记", f"model {part} is not recorded"))
            elif found[part] != part_kind:
                errors.setdefault(f"{name}.{i}", []).append((f"型号不是{rules.KIND_ZH[part_kind]}型号", f"model {part} is not a {part_kind} model"))
    cert = None
    if data["certificate"]:
        cert = uow.session.get(Certificate, data["certificate"])
        if cert is None:
            errors.setdefault("certificate", []).append(("证书未登记", "is not a recorded certificate"))
        elif cert.product_kind != data["kind"]:
            errors.setdefault("certificate", []).append((f"证书不是{rules.KIND_ZH[data['kind']]}证书", f"is a certificate for a {cert.product_kind}, not a {data['kind']}"))
    if errors:
        raise invalid(errors)
    existing = uow.session.get(ProductModel, data["model"])
    if existing is not None:
        if existing.maker_org_id != actor.org_id:
            raise conflict("not_own_model", "该型号属于其他生产企业", "this model belongs to another manufacturer")
        raise conflict("model_exists", "该型号已登记", "this model is already recorded")
    if cert is not None and cert.holder_org_id != actor.org_id:
        raise conflict("certificate_not_held", "该证书不属于本企业", "this certificate is held by another organisation")
    data["maker"] = actor.org_id
    subjects = [f"model:{data['model']}"] + ([f"certificate:{data['certificate']}"] if data["certificate"] else [])
    appended = record(uow, actor, "model", subjects, data)
    model = uow.session.get(ProductModel, data["model"])
    uow.commit()
    return model, appended


# --- reading ----------------------------------------------------------------------------


def find_certificate(uow: UnitOfWork, number: str) -> Certificate:
    """Return a certificate by number (normalised), or refuse (422 invalid, 404 unknown)."""
    cert = uow.session.get(Certificate, ccc_certificate(number, "number"))
    if cert is None:
        raise not_found("certificate_not_found", "证书未登记", "no such certificate")
    return cert


def find_model(uow: UnitOfWork, name: str, field: str = "model") -> ProductModel:
    """Return a model by name (normalised), or refuse (422 invalid, 404 unknown)."""
    model = uow.session.get(ProductModel, rules.model_name(name, field))
    if model is None:
        raise not_found("model_not_found", "型号未登记", "no such model")
    return model


def approvals_of(uow: UnitOfWork, vehicle_model: str) -> list[ModelApproval]:
    """Return the battery and charger models approved for a vehicle model."""
    return list(
        uow.session.execute(
            select(ModelApproval).where(ModelApproval.vehicle_model == vehicle_model).order_by(ModelApproval.part_model)
        ).scalars()
    )


def describe_model(uow: UnitOfWork, model: ProductModel) -> dict:
    """Return a model with its specs parsed, its maker's name and its approved pairings."""
    maker = uow.session.get(Organisation, model.maker_org_id)
    approved = approvals_of(uow, model.model) if model.kind == "vehicle" else []
    return {
        "model": model.model,
        "kind": model.kind,
        "maker_org_id": model.maker_org_id,
        "maker": maker.name if maker else None,
        "certificate": model.certificate,
        "specs": json.loads(model.specs),
        "standard": model.standard,
        "transition_deadline": model.transition_deadline,
        "approved_batteries": [{"model": a.part_model, "approval": a.approval} for a in approved if a.part_kind == "battery"],
        "approved_chargers": [{"model": a.part_model, "approval": a.approval} for a in approved if a.part_kind == "charger"],
        "index": model.registered_index,
    }


# --- projections ------------------------------------------------------------------------


@applies_to("certificate")
def _certificate_recorded(session: Session, index: int, body: dict) -> None:
    data = body["data"]
    session.add(
        Certificate(
            number=data["number"],
            product_kind=data["product_kind"],
            model=data["model"],
            holder_org_id=data["holder"],
            issued_on=data["issued_on"],
            expires_on=data["expires_on"],
            status="valid",
            registered_index=index,
            status_index=index,
        )
    )


@applies_to("model")
def _model_recorded(session: Session, index: int, body: dict) -> None:
    data = body["data"]
    specs = data["specs"]
    session.add(
        ProductModel(
            model=data["model"],
            kind=data["kind"],
            maker_org_id=data["maker"],
            certificate=data.get("certificate"),
            specs=canonical_bytes(specs).decode("utf-8"),
            standard=specs.get("standard") if data["kind"] == "vehicle" else None,
            transition_deadline=specs.get("transition_deadline") if data["kind"] == "vehicle" else None,
            registered_index=index,
        )
    )
    for name, part_kind in (("approved_batteries", "battery"), ("approved_chargers", "charger")):
        for a in data.get(name, []):
            session.add(ModelApproval(vehicle_model=data["model"], part_model=a["model"], part_kind=part_kind, approval=a["approval"]))
