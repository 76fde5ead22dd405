"""Items: commissioning, current state, labels."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.context import current_actor, registry, requires
from registry.services import commissioning, items, labelling
from schemas.items import CommissionRequest, CommissionResponse, ItemResponse, LabelsRequest

blp = Blueprint("items", __name__, url_prefix="/api/v1", description="Items, their codes and labels")


@blp.route("/items/batch")
class ItemsBatch(MethodView):
    @requires("manufacturer")
    @blp.arguments(CommissionRequest)
    @blp.response(201, CommissionResponse)
    def post(self, body):
        """Commission many items of the acting manufacturer, all or nothing: one commission event each."""
        actor = current_actor()
        reg = registry()
        with reg.reading() as uow:
            valid = commissioning.prepare(uow, actor, body["items"])
        # Sign before taking the append lock: signing is the slow part and needs no state.
        tokens = commissioning.sign_codes(reg, valid)
        with reg.writing() as uow:
            done = commissioning.commission_items(uow, actor, body["items"], tokens=tokens)
        return {"items": [{"kind": c.kind, "identifier": c.identifier, "code": c.code, "index": c.index} for c in done]}


@blp.route("/items/<string:kind>/<path:identifier>")
class ItemByIdentifier(MethodView):
    @requires()
    @blp.response(200, ItemResponse)
    def get(self, kind, identifier):
        """Return an item's current state, bindings and flags; the identifier may be bare or a scanned payload."""
        with registry().reading() as uow:
            item = items.find_item(uow, identifier, kind, field="identifier")
            return {
                **{c.key: getattr(item, c.key) for c in item.__table__.columns if c.key != "owner"},
                "maker": items.maker_name(uow, item),
                "flags": items.flags(uow, item),
                "battery_age_days": items.age_days(item.produced_on) if item.kind == "battery" else None,
            }


def _label(kind: str, identifier: str, fmt: str) -> Response:
    actor = current_actor()
    with registry().reading() as uow:
        item = items.find_item(uow, identifier, kind, field="identifier")
        label = labelling.label_of(uow, actor, item)
    data, mimetype = labelling.single(label, fmt)
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"})


@blp.route("/items/<string:kind>/<path:identifier>/label.png")
class ItemLabelPng(MethodView):
    @requires("manufacturer", "registration_point")
    @blp.response(200, content_type="image/png")
    def get(self, kind, identifier):
        """Return one label as PNG: the QR code with the identifier and kind in readable text."""
        return _label(kind, identifier, "png")


@blp.route("/items/<string:kind>/<path:identifier>/label.svg")
class ItemLabelSvg(MethodView):
    @requires("manufacturer", "registration_point")
    @blp.response(200, content_type="image/svg+xml")
    def get(self, kind, identifier):
        """Return one label as SVG."""
        return _label(kind, identifier, "svg")


@blp.route("/labels")
class Labels(MethodView):
    @requires("manufacturer", "registration_point")
    @blp.arguments(LabelsRequest)
    @blp.response(200, content_type="application/pdf")
    def post(self, body):
        """Return printable labels: A4 sheets (pdf), thermal roll pages (png) or ZPL II (zpl)."""
        actor = current_actor()
        labelling.check_layout(body["layout"], body["format"])
        with registry().reading() as uow:
            labels = labelling.resolve_labels(uow, actor, body["items"])
        data, mimetype, filename = labelling.render(labels, body["format"], body["layout"])
        return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
