"""Traceback, search, evidence bundles, photos and statistics (API.md "Resources": /trace, /search, /stats, /recalls)."""

from marshmallow import fields, validate

from schemas import StrictSchema

Q = fields.String(required=True, validate=validate.Length(1, 1024),
                  metadata={"description": "a frame, battery or charger code, a plate, a code token or the full scanned payload"})
CASE = validate.Length(1, 100)


class TraceQuery(StrictSchema):
    q = Q
    case_number = fields.String(validate=CASE, metadata={"description": "investigators: the case number (clear personal data, each reveal recorded)"})
    after = fields.String(validate=validate.Length(1, 18), metadata={
        "description": "the `page.next` cursor of the previous answer: the queried item's older events"})
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 200), metadata={
        "description": "events of the queried item's own chain per page (newest first)"})


class BundleQuery(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(1, 1024))
    case_number = fields.String(required=True, validate=CASE)


class SearchQuery(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(1, 64),
                      metadata={"description": "a fragment of a frame, battery or charger code; ? for an unreadable character"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class PeriodQuery(StrictSchema):
    from_ = fields.Date(data_key="from", attribute="from", metadata={"description": "first day (China Standard Time), inclusive"})
    to = fields.Date(metadata={"description": "last day (China Standard Time), inclusive"})


class IncidentStatsQuery(PeriodQuery):
    incident_type = fields.String(load_default="fire", validate=validate.OneOf(["fire", "explosion", "accident", "all"]))


class OverdueQuery(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    after = fields.String(validate=validate.Length(1, 200), metadata={"description": "the `next` cursor of the previous page"})


class RecallsQuery(StrictSchema):
    open = fields.Boolean(metadata={"description": "true: open recalls only; false: closed only"})


class Flag(StrictSchema):
    code = fields.String(metadata={"description": "stable flag code, e.g. battery_past_service_age"})
    subject = fields.String(allow_none=True)
    index = fields.Integer(allow_none=True, metadata={"description": "log index of the event the flag rests on"})
    message = fields.String()




class TraceResult(StrictSchema):
    query = fields.Dict()
    view = fields.String(metadata={"description": "full (investigator, regulator) or own_records"})
    personal_data = fields.String(metadata={"description": "clear or masked"})
    case_number = fields.String(allow_none=True)
    vehicle = fields.String(allow_none=True, metadata={"description": "the vehicle subject the set centres on"})
    set = fields.Dict(metadata={"description": "{vehicles, batteries, chargers}: every vehicle, battery and charger of the set"})
    truncated = fields.Boolean(metadata={"description": "true when the answer holds less than everything: "
                                                         "see page, omitted and each subject's chain"})
    page = fields.Dict(metadata={"description": "the queried item's own chain as held: {subject, order (newest_first), limit, "
                                                "complete, window, total, shown, from_index, to_index, next (cursor to older events, "
                                                "or null)}"})
    omitted = fields.List(fields.String(), metadata={"description": "related vehicles and parts found but left out by the "
                                                                     "bounds (trace each one, or page on)"})
    subjects = fields.Dict(metadata={"description": "subject -> maker, model, certificate and status, state, installations, "
                                                    "flags, chain {complete, window (whole, page, tenure), total, shown, "
                                                    "from_index, to_index}"})
    sales = fields.List(fields.Dict())
    registrations = fields.List(fields.Dict())
    owners = fields.List(fields.Dict())
    incidents = fields.List(fields.Dict())
    recalls = fields.List(fields.Dict())
    timeline = fields.List(fields.Dict(), metadata={
        "description": "every event of the set held (see page and chain) in time order: index, leaf_hash, event_id, kind, "
                       "occurred_at, recorded_at, org, user, …"})
    parties = fields.List(fields.Dict())
    flags = fields.List(fields.Nested(Flag))
    organisations = fields.Dict(metadata={"description": "every organisation named, with the index of its register_organisation event"})
    models = fields.Dict()
    certificates = fields.Dict()
    tree_size = fields.Integer()


class Candidate(StrictSchema):
    rank = fields.Integer()
    subject = fields.String()
    kind = fields.String()
    identifier = fields.String()
    model = fields.String(allow_none=True)
    maker = fields.String(allow_none=True)
    state = fields.String()
    produced_on = fields.String(allow_none=True)
    match = fields.String(metadata={"description": "exact, lookalike (O/0 I/1 S/5 B/8 Z/2) or fuzzy (one character wrong)"})
    substitutions = fields.Integer()
    position = fields.Integer()


class SearchResult(StrictSchema):
    q = fields.String()
    fragment = fields.String()
    skeleton = fields.String()
    candidates = fields.List(fields.Nested(Candidate))
    truncated = fields.Boolean()


class PhotoStored(StrictSchema):
    sha256 = fields.String()
    size = fields.Integer()


class ClarityResult(StrictSchema):
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    incidents = fields.Integer()
    clear = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "clear / incidents (null without incidents)"})
    criteria = fields.Dict(metadata={"description": "criterion -> incidents resolving it"})
    cases = fields.List(fields.Dict())


class IncidentStats(StrictSchema):
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    incident_type = fields.String()
    total = fields.Integer()
    escalated = fields.Integer()
    dead = fields.Integer()
    injured = fields.Integer()
    by_battery_maker = fields.List(fields.Dict())
    by_battery_model = fields.List(fields.Dict())
    by_vehicle_maker = fields.List(fields.Dict())
    by_vehicle_model = fields.List(fields.Dict())


class RecallList(StrictSchema):
    recalls = fields.List(fields.Dict())


class OverdueBatteries(StrictSchema):
    as_of = fields.String()
    batteries = fields.List(fields.Dict())
    next = fields.String(allow_none=True)


class RegionsTraceQuery(StrictSchema):
    q = Q
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 200), metadata={
        "description": "events of the queried item's own chain per page, in each region"})


class RegionTrace(StrictSchema):
    origin = fields.String(metadata={"description": "the regional log's origin"})
    trace = fields.Nested(TraceResult, metadata={"description": "the item's trace in that log (personal data masked)"})


class RegionsTraceResult(StrictSchema):
    q = fields.String()
    subject = fields.String(metadata={"description": "the item traced, kind:identifier"})
    regions = fields.List(fields.Nested(RegionTrace), metadata={"description": "every regional log the item passed through, oldest first"})
    unreachable = fields.List(fields.String(), metadata={"description": "regions whose logs could not be read now (the answer holds the rest)"})
    remote = fields.List(fields.String(), metadata={"description": "regions the item passed through that are reached only through "
                                                                  "their public log API: its moves are proven, its trace there is theirs to give"})
    moves = fields.List(fields.Dict(), metadata={
        "description": "each move between logs: {vehicle, from {origin, index}, to {origin, index or null while in transit}, "
                       "proven, leaf_hash, checkpoint {tree_size, root_hash} of the log it left, why (when not proven)}"})
