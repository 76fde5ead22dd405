"""Tokens, organisations and their users."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.context import current_actor, registry, requires
from registry.services import auth, orgs
from schemas.access import (
    OrganisationCreated,
    OrganisationRequest,
    OrganisationResponse,
    TokenRequest,
    TokenResponse,
    UserRequest,
    UserResponse,
)

blp = Blueprint("access", __name__, url_prefix="/api/v1", description="Tokens, organisations, users")


@blp.route("/ping")
class Ping(MethodView):
    @blp.response(200)
    def get(self):
        """Liveness: `{"ok": true}`, touching neither the database nor a token (also the benchmark's no-op)."""
        return {"ok": True}


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(201, TokenResponse)
    def post(self, body):
        """Exchange a username and password for a bearer token."""
        reg = registry()
        with reg.writing() as uow:
            token, expires = auth.issue_token(uow, body["username"], body["password"], reg.config["TOKEN_TTL_SECONDS"])
        return {"token": token, "expires_at": expires}


@blp.route("/orgs")
class Organisations(MethodView):
    @blp.response(200, OrganisationResponse(many=True))
    def get(self):
        """List organisations (any signed-in user)."""
        current_actor()
        with registry().reading() as uow:
            return orgs.list_organisations(uow)

    @requires("admin")
    @blp.arguments(OrganisationRequest)
    @blp.response(201, OrganisationCreated)
    def post(self, body):
        """Register an organisation (admin): a register_organisation event."""
        actor = current_actor()
        with registry().writing() as uow:
            org, appended = orgs.register_organisation(uow, actor, orgs.RegisterOrganisation(**body))
        return {
            "id": org.id, "name": org.name, "kind": org.kind, "license_no": org.license_no, "region": org.region,
            "registered_index": org.registered_index, "leaf_hash": appended.leaf_hash.hex(), "event_id": appended.event_id,
        }


@blp.route("/orgs/<string:org_id>/users")
class OrganisationUsers(MethodView):
    @requires("admin")
    @blp.arguments(UserRequest)
    @blp.response(201, UserResponse)
    def post(self, body, org_id):
        """Create a user of an organisation (admin)."""
        actor = current_actor()
        with registry().writing() as uow:
            return orgs.add_user(uow, actor, org_id, body["username"], body["password"])
