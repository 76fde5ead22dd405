"""The public log: entries, proofs and keys (API.md "Log")."""

from marshmallow import fields, validate

from schemas import StrictSchema


class PublicKey(StrictSchema):
    key_id = fields.String()
    algorithm = fields.String()
    public_key = fields.String(metadata={"description": "base64 raw Ed25519 public key"})
    name = fields.String()
    vkey = fields.String(metadata={"description": "C2SP note verifier key"})


class PublicKeys(StrictSchema):
    keys = fields.List(fields.Nested(PublicKey))
    origin = fields.String()
    hash = fields.String()


class Entry(StrictSchema):
    index = fields.Integer()
    leaf_hash = fields.String()
    body = fields.String(metadata={"description": "the exact canonical bytes, base64"})


class InclusionQuery(StrictSchema):
    index = fields.Integer(required=True, validate=validate.Range(min=0))
    tree_size = fields.Integer(validate=validate.Range(min=1))


class InclusionProof(StrictSchema):
    index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    proof = fields.List(fields.String())
    root_hash = fields.String()


class ConsistencyQuery(StrictSchema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(validate=validate.Range(min=1))


class ConsistencyProof(StrictSchema):
    first = fields.Integer()
    second = fields.Integer()
    proof = fields.List(fields.String())
    first_root = fields.String()
    second_root = fields.String()
