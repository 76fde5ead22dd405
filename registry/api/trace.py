"""Traceback and evidence: /trace, /search, /trace/bundle, /photos, /stats/…, /recalls."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.context import current_actor, registry, requires
from registry.api.errors import lang
from registry.domain.errors import invalid, not_found
from registry.services import across, photos, search, stats, trace
from schemas.trace import (
    BundleQuery,
    ClarityResult,
    IncidentStats,
    IncidentStatsQuery,
    OverdueBatteries,
    OverdueQuery,
    PeriodQuery,
    PhotoStored,
    RecallList,
    RecallsQuery,
    RegionsTraceQuery,
    RegionsTraceResult,
    SearchQuery,
    SearchResult,
    TraceQuery,
    TraceResult,
)

blp = Blueprint("trace", __name__, url_prefix="/api/v1", description="Traceback, search, evidence bundles and statistics")

#: Who reads statistics and recalls.
OVERSIGHT = ("regulator", "investigator")


def _may_reveal(actor, case_number: str | None) -> bool:
    return (actor.org_kind == "investigator" and bool(case_number)) or actor.org_kind == "registration_point"


@blp.route("/trace")
class Trace(MethodView):
    @requires()
    @blp.arguments(TraceQuery, location="query")
    @blp.response(200, TraceResult)
    def get(self, args):
        """Trace any identifier, plate or scanned code to the whole set, its history, parties and flags.

        Investigators and regulators see every event; other roles only their own
        organisation's. Clear personal data only for an investigator giving
        `case_number` (each reveal recorded) and for a registration point on the
        registrations it recorded.

        One answer is bounded whatever the size of the log or of a fleet: the queried
        item's own chain newest first, `limit` events a page (`page.next` → `after`
        for older ones); the vehicles and parts bound to it, each whole when short,
        else its events around its tenure with the queried item; `truncated`,
        `omitted` and each subject's `chain` say what was left out (docs/TRACE.md).
        """
        actor = current_actor()
        reg = registry()
        # a trace that may reveal personal data records each reveal: it runs in a writing unit of work
        with (reg.writing() if _may_reveal(actor, args.get("case_number")) else reg.reading()) as uow:
            return trace.trace(uow, actor, args["q"], args.get("case_number"), lang=lang(), after=args.get("after"),
                               limit=args["limit"])


@blp.route("/trace/regions")
class TraceAcross(MethodView):
    @requires(*OVERSIGHT)
    @blp.arguments(RegionsTraceQuery, location="query")
    @blp.response(200, RegionsTraceResult)
    def get(self, args):
        """Trace an item through every regional log it passed through, each move between logs proven again.

        Where this registry's log does not hold the item, the other regions of its
        directory are asked. Each region's part is its own trace (personal data
        masked: ask the region concerned with a case number); `moves` joins them,
        each proven against the signed checkpoint of the log the item left.
        """
        return across.trace_across(registry(), current_actor(), args["q"], lang=lang(), limit=args["limit"])


@blp.route("/search")
class Search(MethodView):
    @requires("investigator", "regulator")
    @blp.arguments(SearchQuery, location="query")
    @blp.response(200, SearchResult)
    def get(self, args):
        """Ranked candidates for a fragment of a burnt or worn frame, battery or charger code (O/0 I/1 S/5 B/8 Z/2 alike)."""
        with registry().reading() as uow:
            return search.search(uow, args["q"], args["limit"])


@blp.route("/trace/bundle")
class Bundle(MethodView):
    @requires("investigator")
    @blp.arguments(BundleQuery, location="query")
    @blp.response(200, content_type="application/zip")
    def get(self, args):
        """Evidence bundle (zip): bundle.json (bodies, proofs, checkpoint, keys, report data) and report.pdf, verifiable offline
        with scripts/verify_bundle.py."""
        from registry.services import bundle

        actor = current_actor()
        data, filename = bundle.make_bundle(registry(), actor, args["q"], args["case_number"])
        return Response(data, mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@blp.route("/photos")
class Photos(MethodView):
    @requires("investigator")
    @blp.response(201, PhotoStored)
    def post(self):
        """Upload an incident photo (multipart field `file`, or the raw body); name its sha256 in report_incident.photos."""
        if request.files:
            upload = request.files.get("file") or next(iter(request.files.values()))
            data = upload.read()
        else:
            data = request.get_data()
        digest, size, _ = photos.store(registry(), data)
        return {"sha256": digest, "size": size}


@blp.route("/photos/<string:sha256>")
class Photo(MethodView):
    @requires("investigator", "regulator")
    @blp.response(200, content_type="application/octet-stream")
    def get(self, sha256):
        """Return an uploaded photo's bytes."""
        path = photos.path_of(registry(), sha256)
        if path is None:
            raise not_found("photo_not_found", "照片不存在", "no such photo")
        return Response(path.read_bytes(), mimetype="application/octet-stream",
                        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{sha256}"'})


def _period(args):
    start, end = args.get("from"), args.get("to")
    if start and end and start > end:
        raise invalid({"from": [("起始日期晚于截止日期", "from is after to")]})
    return start, end


@blp.route("/stats/clarity")
class Clarity(MethodView):
    @requires(*OVERSIGHT)
    @blp.arguments(PeriodQuery, location="query")
    @blp.response(200, ClarityResult)
    def get(self, args):
        """Clarity rate (查清率): the share of incidents whose trace resolves maker, seller, owner, battery type,
        purchase time and modification history; each incident's six facts."""
        start, end = _period(args)
        with registry().reading() as uow:
            return stats.clarity(uow, start, end)


@blp.route("/stats/incidents")
class Incidents(MethodView):
    @requires(*OVERSIGHT)
    @blp.arguments(IncidentStatsQuery, location="query")
    @blp.response(200, IncidentStats)
    def get(self, args):
        """Incidents (fires by default) by the burnt battery's and the vehicle's maker (brand) and model."""
        start, end = _period(args)
        kind = None if args["incident_type"] == "all" else args["incident_type"]
        with registry().reading() as uow:
            return stats.incident_counts(uow, start, end, kind)


@blp.route("/stats/overdue-batteries")
class Overdue(MethodView):
    @requires(*OVERSIGHT)
    @blp.arguments(OverdueQuery, location="query")
    @blp.response(200, OverdueBatteries)
    def get(self, args):
        """Batteries in service more than 5 years past production without a passed health assessment, oldest first."""
        with registry().reading() as uow:
            return stats.overdue_batteries(uow, limit=args["limit"], after=args.get("after"))


@blp.route("/recalls")
class Recalls(MethodView):
    @requires(*OVERSIGHT)
    @blp.arguments(RecallsQuery, location="query")
    @blp.response(200, RecallList)
    def get(self, args):
        """Every recall, newest first: scope, status and items remedied."""
        with registry().reading() as uow:
            return stats.recalls(uow, args.get("open"))
