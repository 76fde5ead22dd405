"""Event bodies for POST /events: one small schema per kind (API.md "Event bodies")."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from schemas import StrictSchema

ITEM = validate.Length(1, 300)
TEXT = validate.Length(0, 500)


def Item(**kw):
    """An item named by its bare identifier or the full scanned payload of its code."""
    return fields.String(validate=ITEM, **kw)


class Person(fields.Dict):
    """A person's details; validated by the vault (personal data never reaches the log)."""


#: How far ahead of the registry's clock a step may say it happened (clocks drift).
CLOCK_SKEW = timedelta(minutes=15)


class OccurredAt(fields.AwareDateTime):
    """RFC 3339 with an offset, not in the future; stored in UTC."""

    def __init__(self, **kw):
        super().__init__(format="iso", **kw)

    def _deserialize(self, value, attr, data, **kw):
        moment = super()._deserialize(value, attr, data, **kw)
        try:
            moment = moment.astimezone(timezone.utc)
        except (OverflowError, ValueError):  # year 1 or 9999 with an offset that leaves the calendar
            raise ValidationError("not a valid time") from None
        if moment > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValidationError("must not be in the future")
        return moment


def _unstorable(value) -> bool:
    """Whether *value* holds text no database stores: a lone surrogate (not UTF-8) or NUL (PostgreSQL)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v or any("\ud800" <= ch <= "\udfff" for ch in v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


class EventBase(StrictSchema):
    kind = fields.String(required=True)
    occurred_at = OccurredAt()
    note = fields.String(validate=TEXT)

    @pre_load
    def _storable_text(self, data, **kw):
        if _unstorable(data):
            raise ValidationError("text must be valid Unicode without NUL characters", "_schema")
        return data


def _one_item(data, keys=("vehicle", "battery", "charger")):
    if not any(data.get(k) for k in keys):
        raise ValidationError("name at least one item: " + ", ".join(keys), "_schema")


class ItemsEvent(EventBase):
    vehicle = Item()
    battery = Item()
    charger = Item()

    @validates_schema
    def _names_an_item(self, data, **kw):
        _one_item(data)


class Ship(ItemsEvent):
    to = fields.String(required=True, validate=validate.Length(1, 32))


class Receive(ItemsEvent):
    inspection = fields.String(load_default="passed", validate=validate.OneOf(["passed", "failed"]))


class Sell(EventBase):
    vehicle = Item(required=True)
    battery = Item()
    charger = Item()
    buyer = Person()
    buyer_org = fields.String(validate=validate.Length(1, 32))

    @validates_schema
    def _one_buyer(self, data, **kw):
        if ("buyer" in data) == ("buyer_org" in data):
            raise ValidationError("give either buyer (a person) or buyer_org (a swap operator)", "buyer")


class SaleCheck(EventBase):
    kind = fields.String(validate=validate.Equal("sell"))
    vehicle = Item(required=True)
    battery = Item()
    charger = Item()
    buyer_org = fields.String(validate=validate.Length(1, 32))
    buyer = Person()


class Register(EventBase):
    vehicle = Item(required=True)
    battery = Item()
    charger = Item()
    plate = fields.String(required=True, validate=validate.Length(1, 32))
    owner = Person(required=True)


class Transfer(EventBase):
    vehicle = Item(required=True)
    new_owner = Person(required=True)


#: A log's origin line (API.md "Checkpoints"): host and path, no scheme, no spaces.
ORIGIN = validate.Regexp(r"^[A-Za-z0-9.:\-]+(/[A-Za-z0-9._~\-]+)*$", error="not a log origin (host/path)")


class Deregister(EventBase):
    vehicle = Item(required=True)
    reason = fields.String(load_default="other", validate=validate.OneOf(["scrapped", "moved_away", "lost", "other"]))
    #: Moving to another region (转出): the origin of the log the vehicle goes to.
    to_origin = fields.String(validate=[validate.Length(1, 200), ORIGIN])

    @validates_schema
    def _moves_away(self, data, **kw):
        if "to_origin" in data and data.get("reason") != "moved_away":
            raise ValidationError("a vehicle deregistered to another region has moved away (reason moved_away)", "reason")


class Index(fields.Integer):
    """A log index: a JSON integer (not a boolean, a float or a string of digits)."""

    def __init__(self, **kw):
        super().__init__(strict=True, validate=validate.Range(0, 2**62), **kw)

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            raise ValidationError("not a log index (an integer)")
        return super()._deserialize(value, attr, data, **kw)


class TransferIn(EventBase):
    """A vehicle arriving from another region (转入登记), proven by that region's log."""

    vehicle = Item(required=True)
    battery = Item()
    charger = Item()
    from_origin = fields.String(required=True, validate=[validate.Length(1, 200), ORIGIN])
    #: The other log's deregistration; without it, the vehicle's latest entry in that log.
    from_index = Index()
    plate = fields.String(required=True, validate=validate.Length(1, 32))
    owner = Person(required=True)


class Backfill(EventBase):
    vehicle = fields.String(required=True, validate=ITEM)
    battery = fields.String(validate=ITEM)
    charger = fields.String(validate=ITEM)
    vehicle_model = fields.String(validate=validate.Length(1, 64))
    battery_model = fields.String(validate=validate.Length(1, 64))
    charger_model = fields.String(validate=validate.Length(1, 64))
    plate = fields.String(required=True, validate=validate.Length(1, 32))
    owner = Person(required=True)


class Repair(EventBase):
    vehicle = Item(required=True)
    work = fields.String(required=True, validate=validate.Length(1, 500))


class SwapBattery(EventBase):
    vehicle = Item(required=True)
    old_battery = Item()
    new_battery = Item(required=True)


class ReplaceCharger(EventBase):
    vehicle = Item(required=True)
    old_charger = Item()
    new_charger = Item(required=True)


class ReportModification(EventBase):
    vehicle = Item(required=True)
    modification = fields.String(
        required=True,
        validate=validate.OneOf(["speed_limiter_removed", "battery_enlarged", "motor_replaced", "frame_altered", "lighting_altered", "other"]),
    )


class AssessBattery(EventBase):
    battery = Item(required=True)
    result = fields.String(required=True, validate=validate.OneOf(["passed", "failed"]))
    #: State of health, percent of rated capacity.
    capacity_pct = fields.Integer(validate=validate.Range(0, 150))


class RecallOpen(EventBase):
    model = fields.String(validate=validate.Length(1, 64))
    batch = fields.String(validate=validate.Length(1, 64))
    produced_from = fields.Date()
    produced_to = fields.Date()
    certificate = fields.String(validate=validate.Length(1, 32))
    reason = fields.String(required=True, validate=validate.Length(1, 500))

    @validates_schema
    def _has_scope(self, data, **kw):
        if not any(data.get(k) for k in ("model", "batch", "produced_from", "produced_to", "certificate")):
            raise ValidationError("a recall names a model, batch, production dates or a certificate", "_schema")
        if data.get("produced_from") and data.get("produced_to") and data["produced_from"] > data["produced_to"]:
            raise ValidationError("produced_from is after produced_to", "produced_from")


class RecallRemedy(EventBase):
    recall = fields.String(required=True, validate=validate.Length(1, 36))
    vehicle = Item()
    battery = Item()
    charger = Item()
    remedy = fields.String(load_default="repaired", validate=validate.OneOf(["repaired", "replaced", "refunded", "closed"]))


class CertificateStatus(EventBase):
    certificate = fields.String(required=True, validate=validate.Length(1, 32))
    status = fields.String(required=True, validate=validate.OneOf(["valid", "suspended", "revoked"]))
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class ListChange(EventBase):
    list = fields.String(required=True, validate=validate.OneOf(["positive", "blacklist"]))
    organisation = fields.String(required=True, validate=validate.Length(1, 32))
    action = fields.String(required=True, validate=validate.OneOf(["add", "remove"]))
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class StolenReport(ItemsEvent):
    case_number = fields.String(validate=validate.Length(1, 100))


class Retire(ItemsEvent):
    reason = fields.String(load_default="end_of_life", validate=validate.OneOf(["end_of_life", "damaged", "failed_assessment", "recalled", "other"]))


class Recycle(ItemsEvent):
    method = fields.String(load_default="disassembly", validate=validate.OneOf(["disassembly", "material_recovery", "repurposing", "destruction"]))


class Scrap(EventBase):
    vehicle = Item(required=True)


class Casualties(StrictSchema):
    dead = fields.Integer(load_default=0, validate=validate.Range(0, 10000))
    injured = fields.Integer(load_default=0, validate=validate.Range(0, 10000))


class ReportIncident(EventBase):
    vehicle = Item()
    battery = Item()
    charger = Item()
    incident_type = fields.String(required=True, validate=validate.OneOf(["fire", "explosion", "accident"]))
    occurred_at = OccurredAt(required=True)
    region = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))
    address = fields.String(required=True, validate=validate.Length(1, 200))
    state = fields.String(required=True, validate=validate.OneOf(["charging", "parked", "riding", "unknown"]))
    casualties = fields.Nested(Casualties, load_default=lambda: {"dead": 0, "injured": 0})
    case_number = fields.String(required=True, validate=validate.Length(1, 100))
    scene_identifiers = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list, validate=validate.Length(0, 50))
    photos = fields.List(fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$")), load_default=list, validate=validate.Length(0, 50))


class ProductionDate(fields.Date):
    """A production date, as commissioning accepts it: from 2000 to tomorrow (UTC); loaded as ISO text."""

    def _deserialize(self, value, attr, data, **kw):
        day = super()._deserialize(value, attr, data, **kw)
        if not date(2000, 1, 1) <= day <= datetime.now(timezone.utc).date() + timedelta(days=1):
            raise ValidationError("must be between 2000-01-01 and today")
        return day.isoformat()


class Replacement(StrictSchema):
    """The fields an ``incorrect_data`` correction may replace, each validated as when first recorded.

    Each name belongs to one event kind (the service checks it is the corrected event's):
    commission ``produced_on``, ``batch``; receive ``inspection``; repair ``work``;
    report_modification ``modification``; assess_battery ``capacity_pct``; report_incident
    ``address``, ``state``, ``casualties``, ``scene_identifiers``, ``region``; retire
    ``reason``; recycle ``method``.
    """

    produced_on = ProductionDate()
    batch = fields.String(validate=validate.Length(1, 64))
    inspection = fields.String(validate=validate.OneOf(["passed", "failed"]))
    work = fields.String(validate=validate.Length(1, 500))
    modification = fields.String(validate=ReportModification._declared_fields["modification"].validators)
    capacity_pct = fields.Integer(strict=True, validate=validate.Range(0, 150))
    address = fields.String(validate=validate.Length(1, 200))
    state = fields.String(validate=ReportIncident._declared_fields["state"].validators)
    casualties = fields.Nested(Casualties)
    scene_identifiers = fields.List(fields.String(validate=validate.Length(1, 64)), validate=validate.Length(0, 50))
    region = fields.String(validate=ReportIncident._declared_fields["region"].validators)
    reason = fields.String(validate=Retire._declared_fields["reason"].validators)
    method = fields.String(validate=Recycle._declared_fields["method"].validators)


class Correction(EventBase):
    corrects = fields.String(required=True, validate=validate.Length(1, 36))
    reason = fields.String(required=True, validate=validate.OneOf(["did_not_occur", "incorrect_data"]))
    fields_ = fields.Nested(Replacement, data_key="fields", attribute="fields")


SCHEMAS: dict[str, type[EventBase]] = {
    "ship": Ship,
    "receive": Receive,
    "sell": Sell,
    "register": Register,
    "transfer": Transfer,
    "deregister": Deregister,
    "backfill": Backfill,
    "transfer_in": TransferIn,
    "repair": Repair,
    "swap_battery": SwapBattery,
    "replace_charger": ReplaceCharger,
    "report_modification": ReportModification,
    "assess_battery": AssessBattery,
    "recall": RecallOpen,
    "recall_remedy": RecallRemedy,
    "certificate_status": CertificateStatus,
    "list_change": ListChange,
    "report_stolen": StolenReport,
    "report_recovered": StolenReport,
    "report_incident": ReportIncident,
    "retire": Retire,
    "recycle": Recycle,
    "scrap": Scrap,
    "correction": Correction,
}


class Recorded(StrictSchema):
    event_id = fields.String()
    index = fields.Integer()
    leaf_hash = fields.String()
    recorded_at = fields.String()


class BatchRecorded(StrictSchema):
    events = fields.List(fields.Nested(Recorded))


class Problem(StrictSchema):
    code = fields.String()
    subject = fields.String()
    message = fields.String()


class SaleCheckResult(StrictSchema):
    ok = fields.Boolean()
    problems = fields.List(fields.Nested(Problem))
