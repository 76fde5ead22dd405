"""Tokens, organisations and users."""

from marshmallow import fields, validate

from registry.domain.roles import ORG_KINDS
from schemas import StrictSchema


class TokenRequest(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 256), load_only=True)


class TokenResponse(StrictSchema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class OrganisationRequest(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(ORG_KINDS)))
    license_no = fields.String(required=True, validate=validate.Length(1, 64))
    #: Administrative division code (GB/T 2260), six digits.
    region = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="region must be a 6-digit division code"))


class OrganisationResponse(StrictSchema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    license_no = fields.String()
    region = fields.String()
    index = fields.Integer(attribute="registered_index")


class OrganisationCreated(OrganisationResponse):
    leaf_hash = fields.String()
    event_id = fields.String()


class UserRequest(StrictSchema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", error="3-64 letters, digits or _.@-"))
    password = fields.String(required=True, validate=validate.Length(8, 256), load_only=True)


class UserResponse(StrictSchema):
    id = fields.String()
    username = fields.String()
    org_id = fields.String()
