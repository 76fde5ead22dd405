"""Items, their codes and labels (API.md "Resources")."""

from marshmallow import fields, pre_load, validate

from schemas import StrictSchema

MAX_BATCH = 10000
MAX_LABELS = 1000


#: One item to commission, as OpenAPI describes it. The list holds raw values: the use
#: case checks every field of every item and names each bad one by position in a
#: single 422 ``invalid_items``, which a nested schema would cut short.
COMMISSION_ITEM = {
    "type": "object",
    "required": ["kind", "identifier", "model", "produced_on"],
    "properties": {
        "kind": {"type": "string", "enum": ["vehicle", "battery", "charger"]},
        "identifier": {"type": "string", "example": "117322600000001"},
        "model": {"type": "string", "example": "LY-TDT2024"},
        "produced_on": {"type": "string", "format": "date", "example": "2026-03-01"},
        "batch": {"type": "string", "nullable": True, "example": "2026-03A"},
    },
    "additionalProperties": False,
}


class CommissionRequest(StrictSchema):
    items = fields.List(fields.Raw(metadata=COMMISSION_ITEM), required=True, validate=validate.Length(1, MAX_BATCH))

    @pre_load
    def _accept_a_bare_list(self, data, **kwargs):
        """API.md shows the body as the list itself; {"items": [...]} is accepted too."""
        return {"items": data} if isinstance(data, list) else data


class CommissionedItem(StrictSchema):
    kind = fields.String()
    identifier = fields.String()
    code = fields.String(metadata={"description": "the full QR payload"})
    index = fields.Integer()


class CommissionResponse(StrictSchema):
    items = fields.List(fields.Nested(CommissionedItem))


class Flags(StrictSchema):
    recalled = fields.Boolean()
    stolen = fields.Boolean()
    reused = fields.Boolean()
    legacy = fields.Boolean()
    backfilled = fields.Boolean()


class ItemResponse(StrictSchema):
    subject = fields.String()
    kind = fields.String()
    identifier = fields.String()
    model = fields.String(allow_none=True)
    maker_org_id = fields.String(allow_none=True)
    maker = fields.String(allow_none=True)
    produced_on = fields.String(allow_none=True)
    batch = fields.String(allow_none=True)
    state = fields.String()
    holder_org_id = fields.String(allow_none=True)
    shipped_to_org_id = fields.String(allow_none=True)
    installed_in = fields.String(allow_none=True)
    battery = fields.String(allow_none=True)
    charger = fields.String(allow_none=True)
    plate = fields.String(allow_none=True)
    sold_by_org_id = fields.String(allow_none=True)
    sold_at = fields.String(allow_none=True)
    assessed_on = fields.String(allow_none=True)
    code = fields.String(allow_none=True, metadata={"description": "the full QR payload"})
    flags = fields.Nested(Flags)
    battery_age_days = fields.Integer(allow_none=True)
    commissioned_index = fields.Integer()
    last_index = fields.Integer()


class CodeQuery(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(1, 2048), metadata={"description": "a scanned payload, a bare token or a bare identifier"})


class CodeAnswer(StrictSchema):
    genuine = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "why not genuine: token_malformed, token_not_canonical, signature_invalid, unknown_key, item_not_found, identifier_invalid, …"})
    message = fields.String()
    source = fields.String(metadata={"enum": ["code", "identifier"], "description": "what was checked: a signed code, or a typed identifier"})
    kind = fields.String(allow_none=True)
    identifier = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    maker = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    produced_on = fields.String(allow_none=True)
    flags = fields.Nested(Flags)
    battery_age_days = fields.Integer(allow_none=True)
    certificate = fields.String(allow_none=True)
    standard = fields.String(allow_none=True)
    key_id = fields.String(allow_none=True)


class LabelItem(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["vehicle", "battery", "charger"]))
    identifier = fields.String(required=True, validate=validate.Length(1, 2048), metadata={"description": "bare identifier or scanned payload"})


class Layout(StrictSchema):
    page = fields.String(load_default="A4", validate=validate.OneOf(["A4", "A5", "A3", "Letter"]))
    cols = fields.Integer(load_default=3, validate=validate.Range(1, 10))
    rows = fields.Integer(load_default=8, validate=validate.Range(1, 30))
    label_w_mm = fields.Float(load_default=None, allow_none=True, validate=validate.Range(10, 300))
    label_h_mm = fields.Float(load_default=None, allow_none=True, validate=validate.Range(8, 300))
    margin_mm = fields.Float(load_default=8.0, validate=validate.Range(0, 50))
    gap_mm = fields.Float(load_default=2.0, validate=validate.Range(0, 30))
    #: Thermal rolls (format png or zpl).
    width_mm = fields.Float(load_default=40.0, validate=validate.Range(15, 120))
    height_mm = fields.Float(load_default=30.0, validate=validate.Range(10, 120))
    dpi = fields.Integer(load_default=203, validate=validate.OneOf([203, 300]))


class LabelsRequest(StrictSchema):
    items = fields.List(fields.Nested(LabelItem), required=True, validate=validate.Length(1, MAX_LABELS))
    format = fields.String(load_default="pdf", validate=validate.OneOf(["pdf", "png", "zpl"]), metadata={"description": "pdf: A4 sheets; png: thermal roll pages (one PNG, or a zip of them); zpl: ZPL II"})
    layout = fields.Nested(Layout, load_default=lambda: Layout().load({}))
