"""Personal data: PIPL erasure of a person from the owner vault."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from registry.api.context import current_actor, requires
from registry.api.idempotency import idempotent, writing
from registry.services import vault
from schemas import StrictSchema

blp = Blueprint("persons", __name__, url_prefix="/api/v1", description="Personal data (PIPL)")


class ErasureRequest(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 100))


@blp.route("/persons/<string:pseudonym>")
class Persons(MethodView):
    @idempotent
    @requires("admin")
    @blp.arguments(ErasureRequest, location="json")
    @blp.response(204)
    def delete(self, body, pseudonym):
        """Erase a person from the vault; the log keeps only the pseudonym, so every proof stays valid."""
        actor = current_actor()
        with writing() as uow:
            vault.erase_person(uow, actor, pseudonym, body["reason"])
        return None
