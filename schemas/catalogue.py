"""The catalogue: CCC certificates and models (API.md "Resources")."""

from marshmallow import fields, validate

from schemas import StrictSchema

KINDS = ("vehicle", "battery", "charger")


class CertificateRequest(StrictSchema):
    number = fields.String(required=True, metadata={"description": "16 digits: year, body, category (e-bikes 1119), serial", "example": "2026011119000101"})
    product_kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    model = fields.String(required=True, metadata={"example": "LY-TDT2024"})
    #: A manufacturer may leave it out (itself); a regulator names the manufacturer.
    holder = fields.String(load_default=None, allow_none=True, metadata={"description": "organisation id of the holder (default: the acting manufacturer)"})
    issued_on = fields.String(required=True, metadata={"format": "date", "example": "2026-01-15"})
    expires_on = fields.String(required=True, metadata={"format": "date", "example": "2031-01-14"})


class CertificateResponse(StrictSchema):
    number = fields.String()
    product_kind = fields.String()
    model = fields.String()
    holder = fields.String(attribute="holder_org_id")
    issued_on = fields.String()
    expires_on = fields.String()
    status = fields.String(metadata={"enum": ["valid", "suspended", "revoked"]})
    index = fields.Integer(attribute="registered_index")
    status_index = fields.Integer()


class CertificateCreated(CertificateResponse):
    event_id = fields.String()
    leaf_hash = fields.String()


class Approval(StrictSchema):
    model = fields.String()
    approval = fields.String(metadata={"enum": ["standard", "mutual"], "description": "standard 标配, mutual 互认"})


_APPROVED = {
    "description": 'model names ("standard" 标配) or {"model", "approval": "standard" | "mutual" (互认)}',
    "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"model": {"type": "string"}, "approval": {"type": "string", "enum": ["standard", "mutual"]}}}]},
}
_SPECS = {
    "description": (
        "battery: chemistry (lithium_ion | lead_acid | sodium_ion | other), voltage_v (integer), "
        "capacity_ah (decimal), energy_wh (integer); charger: output_v, output_a (decimals); "
        "vehicle: standard (GB17761-2024 | GB17761-2018 | non_standard), transition_deadline "
        "(non_standard only), max_speed_kmh (integer), mass_kg (decimal). Decimals are stored as "
        'strings with at most 2 places ("20.8").'
    ),
    "example": {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960},
}


class ModelRequest(StrictSchema):
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    model = fields.String(required=True, metadata={"example": "XH-48V20"})
    specs = fields.Dict(keys=fields.String(), required=True, metadata=_SPECS)
    certificate = fields.String(load_default=None, allow_none=True)
    approved_batteries = fields.List(fields.Raw(), load_default=list, metadata=_APPROVED)
    approved_chargers = fields.List(fields.Raw(), load_default=list, metadata=_APPROVED)


class ModelResponse(StrictSchema):
    model = fields.String()
    kind = fields.String()
    maker_org_id = fields.String()
    maker = fields.String(allow_none=True)
    certificate = fields.String(allow_none=True)
    specs = fields.Dict()
    standard = fields.String(allow_none=True)
    transition_deadline = fields.String(allow_none=True)
    approved_batteries = fields.List(fields.Nested(Approval))
    approved_chargers = fields.List(fields.Nested(Approval))
    index = fields.Integer()


class ModelCreated(ModelResponse):
    event_id = fields.String()
    leaf_hash = fields.String()


class ModelQuery(StrictSchema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    maker = fields.String()
