"""Stock at any counter: receive what was shipped to you, ship what you hold (one scan, one event)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from registry.api.context import registry
from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.services import activity, items, orgs
from registry.web import forms
from registry.web.auth import current_actor, login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.words import EVENTS, INSPECTION, ITEM_KINDS, ORG_KINDS

bp = web_blueprint("stock", __name__, url_prefix="/stock")

RECEIVERS = ("dealer", "repair_shop", "swap_operator", "recycler")
SHIPPERS = ("manufacturer", "dealer", "repair_shop", "swap_operator", "recycler")


def item_kind(value: str) -> str:
    """Return the kind of the item a scan names (refusing unknown or forged codes)."""
    with registry().reading() as uow:
        return items.find_item(uow, value, field="item").kind


def scan_and_record(event_kind: str, value: str, fields: dict):
    """Record *event_kind* for the one item *value* names; return (kind, identifier, refusal)."""
    try:
        kind = item_kind(value)
    except (DomainError, InvalidIdentifier) as err:
        return None, None, forms.refusal(err)
    appended, refused = forms.attempt(event_kind, {kind: value, **fields})
    return kind, appended and forms.named(appended, kind), refused


def today(kinds: tuple[str, ...]) -> list[dict]:
    with registry().reading() as uow:
        return activity.recorded_today(uow, current_actor(), kinds)


@bp.route("/receive", methods=["GET", "POST"])
@login_required(RECEIVERS)
def receive():
    """Receive stock by scanning each item (进货检查验收): each scan records one receive event."""
    refused = None
    inspection = request.values.get("inspection", "passed")
    if request.method == "POST":
        value = (request.form.get("item") or "").strip()
        kind, identifier, refused = scan_and_record("receive", value, {"inspection": inspection})
        if refused is None:
            flash(_("Received: %(kind)s %(item)s", kind=ITEM_KINDS[kind], item=identifier), "ok")
            return redirect(url_for(".receive", inspection=inspection))
    return render_template("stock_receive.html", refused=refused, inspection=inspection, INSPECTION=INSPECTION,
                           today=today(("receive",)), EVENTS=EVENTS, ITEM_KINDS=ITEM_KINDS,
                           value=request.form.get("item", "") if refused else "")


@bp.route("/ship", methods=["GET", "POST"])
@login_required(SHIPPERS)
def ship():
    """Ship items you hold to another organisation, one scan each."""
    actor = current_actor()
    refused = None
    to = request.values.get("to", "")
    if request.method == "POST":
        value = (request.form.get("item") or "").strip()
        kind, identifier, refused = scan_and_record("ship", value, {"to": to})
        if refused is None:
            flash(_("Shipped: %(kind)s %(item)s", kind=ITEM_KINDS[kind], item=identifier), "ok")
            return redirect(url_for(".ship", to=to))
    with registry().reading() as uow:
        others = [o for o in orgs.list_organisations(uow) if o.id != actor.org_id and o.kind != "admin"]
    groups: dict[str, list] = {}
    for o in others:
        groups.setdefault(o.kind, []).append(o)
    return render_template("stock_ship.html", refused=refused, to=to, groups=groups, ORG_KINDS=ORG_KINDS,
                           today=today(("ship",)), EVENTS=EVENTS, ITEM_KINDS=ITEM_KINDS,
                           value=request.form.get("item", "") if refused else "")
