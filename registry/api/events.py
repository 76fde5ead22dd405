"""Recording events: POST /events (one), /events/batch (all-or-nothing), the sale check, reading one."""

from __future__ import annotations

import base64
import json

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError

from registry.api.context import current_actor, registry, requires
from registry.api.idempotency import grouped, idempotent, writing
from registry.domain.errors import DomainError, invalid, not_found
from registry.domain.roles import RECORDED_BY, require
from registry.services import lifecycle
from schemas.events import SCHEMAS, BatchRecorded, Recorded, SaleCheck, SaleCheckResult

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Record lifecycle events")

MAX_BATCH = 1000
DEDICATED = {"register_organisation": "/api/v1/orgs", "certificate": "/api/v1/certificates",
             "model": "/api/v1/models", "commission": "/api/v1/items/batch"}


def _json_body():
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # arrays nested thousands deep
        body = None
    if body is None and request.get_data():
        raise DomainError("malformed_json", "请求体不是有效的 JSON", "the body is not valid JSON", status=400)
    return body


def _kind_of(body, where: str = "kind", actor=None) -> str:
    if not isinstance(body, dict):
        raise invalid({where.rsplit(".", 1)[0] if "." in where else "_schema": [("应为 JSON 对象", "must be a JSON object")]})
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        if isinstance(kind, str) and kind in DEDICATED:
            if actor is not None:
                require(actor, kind)  # a role that may not record it gets 403, as on its own endpoint
            raise invalid({where: [(f"请使用 {DEDICATED[kind]}", f"record {kind} through {DEDICATED[kind]}")]}, code="use_dedicated_endpoint")
        raise invalid({where: [("未知的事件类型", "unknown event kind")]}, code="unknown_event_kind")
    return kind


def _load(kind: str, body: dict, prefix: str = "") -> dict:
    try:
        return SCHEMAS[kind]().load(body)
    except ValidationError as err:
        raise invalid({f"{prefix}{f}": [(m, m) for m in (msgs if isinstance(msgs, list) else [str(msgs)])]
                       for f, msgs in _flat(err.messages).items()})


def _flat(messages, prefix=""):
    out = {}
    for key, value in (messages.items() if isinstance(messages, dict) else [("_schema", messages)]):
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out[name] = value
    return out


def _recorded(a) -> dict:
    return {"event_id": a.event_id, "index": a.index, "leaf_hash": a.leaf_hash.hex(), "recorded_at": a.recorded_at}


@blp.route("/events")
class Events(MethodView):
    @idempotent
    @blp.response(201, Recorded)
    def post(self):
        """Record one event `{kind, …}` (DOMAIN.md lists the kinds and who may record each)."""
        actor = current_actor()
        body = _json_body()
        kind = _kind_of(body, actor=actor)
        require(actor, kind)  # 403 before anything about the body is judged
        data = _load(kind, body)
        # Concurrent requests of this process share one transaction (group commit);
        # the answer comes once it has committed.
        appended = grouped(lambda uow: lifecycle.record_event(uow, actor, kind, data))
        return _recorded(appended)


@blp.route("/events/batch")
class EventBatch(MethodView):
    @idempotent
    @blp.response(201, BatchRecorded)
    def post(self):
        """Record many events `{events: [...]}` all-or-nothing, under one lock and one checkpoint."""
        actor = current_actor()
        body = _json_body()
        events = body.get("events") if isinstance(body, dict) else body
        if not isinstance(events, list) or not events:
            raise invalid({"events": [("应为非空事件列表", "must be a non-empty list of events")]})
        if len(events) > MAX_BATCH:
            raise invalid({"events": [(f"一批最多 {MAX_BATCH} 个事件", f"at most {MAX_BATCH} events per batch")]})
        # authorisation first: any event of a kind the role may not record is a 403, whatever the rest
        for i, e in enumerate(events):
            kind = e.get("kind") if isinstance(e, dict) else None
            if isinstance(kind, str) and (kind in SCHEMAS or kind in DEDICATED):
                try:
                    require(actor, kind)
                except DomainError as err:
                    err.message_en = f"events[{i}]: {err.message_en}"
                    err.message_zh = f"第 {i} 个事件：{err.message_zh}"
                    raise
        kinds = [_kind_of(e, f"events.{i}.kind") for i, e in enumerate(events)]
        loaded, errors = [], {}
        for i, (kind, e) in enumerate(zip(kinds, events)):
            try:
                loaded.append(_load(kind, e, prefix=f"events.{i}."))
            except DomainError as err:
                errors.update(err.errors)
        if errors:
            raise invalid(errors)
        out = []
        with writing() as uow:
            uow.start_batch()
            for i, (kind, data) in enumerate(zip(kinds, loaded)):
                try:
                    out.append(lifecycle.record_event(uow, actor, kind, data))
                except DomainError as err:
                    err.message_en = f"events[{i}]: {err.message_en}"
                    err.message_zh = f"第 {i} 个事件：{err.message_zh}"
                    raise
            uow.finish()
        return {"events": [_recorded(a) for a in out]}


@blp.route("/checks/sale")
class SaleChecks(MethodView):
    @requires("dealer")
    @blp.arguments(SaleCheck)
    @blp.response(200, SaleCheckResult)
    def post(self, data):
        """Dry-run a sale: the same rules as `sell`, every failed one named; nothing is written."""
        actor = current_actor()
        from registry.api.errors import lang

        with registry().reading() as uow:
            problems = lifecycle.check_sale(uow, actor, data)
        return {"ok": not problems, "problems": [p.as_dict(lang()) for p in problems]}


@blp.route("/events/<string:event_id>")
class Event(MethodView):
    def get(self, event_id):
        """Return an event as recorded, with its inclusion proof against the current tree."""
        current_actor()
        with registry().reading() as uow:
            row = uow.log.entry_by_event_id(event_id)
            if row is None:
                raise not_found("event_not_found", "没有该事件", "no such event")
            size = uow.log.size()
            leaf, proof, root = uow.log.inclusion_proof(row.idx, size)
        return {
            "event_id": event_id,
            "index": row.idx,
            "leaf_hash": leaf.hex(),
            "body": json.loads(bytes(row.body)),
            "body_b64": base64.b64encode(bytes(row.body)).decode(),
            "proof": {"tree_size": size, "root_hash": root.hex(), "hashes": [p.hex() for p in proof]},
        }
