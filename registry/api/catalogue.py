"""The catalogue: CCC certificates and models."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.context import current_actor, registry, requires
from registry.services import catalogue
from schemas.catalogue import (
    CertificateCreated,
    CertificateRequest,
    CertificateResponse,
    ModelCreated,
    ModelRequest,
    ModelResponse,
)

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1", description="CCC certificates and models")


def _columns(row) -> dict:
    """Return a row's columns by attribute name, for a response schema to dump with the extra fields."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


@blp.route("/certificates")
class Certificates(MethodView):
    @requires("manufacturer", "regulator")
    @blp.arguments(CertificateRequest)
    @blp.response(201, CertificateCreated)
    def post(self, body):
        """Record a CCC certificate (a manufacturer its own, a regulator any): a certificate event."""
        actor = current_actor()
        with registry().writing() as uow:
            cert, appended = catalogue.record_certificate(uow, actor, catalogue.RecordCertificate(**body))
        return {**_columns(cert), "event_id": appended.event_id, "leaf_hash": appended.leaf_hash.hex()}


@blp.route("/certificates/<string:number>")
class CertificateByNumber(MethodView):
    @requires()
    @blp.response(200, CertificateResponse)
    def get(self, number):
        """Return a certificate and its status (any signed-in role)."""
        with registry().reading() as uow:
            return catalogue.find_certificate(uow, number)


@blp.route("/models")
class Models(MethodView):
    @requires("manufacturer")
    @blp.arguments(ModelRequest)
    @blp.response(201, ModelCreated)
    def post(self, body):
        """Record a model of the acting manufacturer with its specs and approved pairings: a model event."""
        actor = current_actor()
        with registry().writing() as uow:
            model, appended = catalogue.record_model(uow, actor, catalogue.RecordModel(**body))
        with registry().reading() as uow:
            described = catalogue.describe_model(uow, catalogue.find_model(uow, model.model))
        return {**described, "event_id": appended.event_id, "leaf_hash": appended.leaf_hash.hex()}


@blp.route("/models/<string:model>")
class ModelByName(MethodView):
    @requires()
    @blp.response(200, ModelResponse)
    def get(self, model):
        """Return a model, its specs and its approved battery and charger models (any signed-in role)."""
        with registry().reading() as uow:
            return catalogue.describe_model(uow, catalogue.find_model(uow, model))
