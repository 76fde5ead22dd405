"""The registration point's desk (登记上牌点): register a set with its owner and plate, transfer, deregister, move between regions."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from registry.api.context import registry
from registry.services import dashboard as board
from registry.services import items, labelling
from registry.web import forms
from registry.web.auth import current_actor, login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.words import DEREGISTER_REASONS, ID_TYPES

bp = web_blueprint("registration", __name__, url_prefix="/registration")

DESK = ("registration_point",)


@bp.route("/register", methods=["GET", "POST"])
@login_required(DESK)
def register():
    """Register a sold vehicle with its bound battery and charger, the owner and a plate (码牌合一)."""
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", "battery", "charger", "plate")
        owner = forms.person("owner")
        if owner is not None:
            body["owner"] = owner
        appended, refused = forms.attempt("register", body)
        if refused is None:
            flash(_("Registered: vehicle %(vehicle)s with plate %(plate)s", vehicle=forms.named(appended, "vehicle"),
                    plate=appended.body["data"]["plate"]), "ok")
            return redirect(url_for(".register", done=forms.named(appended, "vehicle")))
    return render_template("registration_register.html", refused=refused, form=request.form, ID_TYPES=ID_TYPES,
                           done=request.args.get("done"))


@bp.route("/transfer", methods=["GET", "POST"])
@login_required(DESK)
def transfer():
    """Transfer a registered vehicle (with its battery and charger) to a new owner."""
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle")
        owner = forms.person("new_owner")
        if owner is not None:
            body["new_owner"] = owner
        appended, refused = forms.attempt("transfer", body)
        if refused is None:
            flash(_("Transferred: vehicle %(vehicle)s has a new owner", vehicle=forms.named(appended, "vehicle")), "ok")
            return redirect(url_for(".transfer"))
    return render_template("registration_transfer.html", refused=refused, form=request.form, ID_TYPES=ID_TYPES)


@bp.route("/deregister", methods=["GET", "POST"])
@login_required(DESK)
def deregister():
    """Deregister a vehicle; its plate is freed."""
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", "reason", "to_origin")
        appended, refused = forms.attempt("deregister", body)
        if refused is None:
            if body.get("to_origin"):
                flash(_("Deregistered: vehicle %(vehicle)s leaves for %(region)s (entry %(index)s)",
                        vehicle=forms.named(appended, "vehicle"), region=body["to_origin"], index=appended.index), "ok")
            else:
                flash(_("Deregistered: vehicle %(vehicle)s", vehicle=forms.named(appended, "vehicle")), "ok")
            return redirect(url_for(".deregister"))
    return render_template("registration_deregister.html", refused=refused, form=request.form, REASONS=DEREGISTER_REASONS,
                           REGIONS=_other_regions())


def _other_regions() -> dict[str, str]:
    """The other regions' log origins this registry knows (registry.regions), origin -> name."""
    peers = registry().peers
    if peers is None:
        return {}
    return {r.origin: f"{r.name} · {r.origin}" for r in peers.directory.regions if r.origin != peers.own_origin}


@bp.route("/transfer-in", methods=["GET", "POST"])
@login_required(DESK)
def transfer_in():
    """Register a vehicle arriving from another region (转入登记): proven by that region's log, then registered here."""
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", "battery", "charger", "from_origin", "plate")
        index = (request.form.get("from_index") or "").strip()
        if index:
            body["from_index"] = int(index) if index.isdigit() and len(index) < 19 else index
        owner = forms.person("owner")
        if owner is not None:
            body["owner"] = owner
        appended, refused = forms.attempt("transfer_in", body)
        if refused is None:
            flash(_("Registered on arrival from %(region)s: vehicle %(vehicle)s with plate %(plate)s",
                    region=body["from_origin"], vehicle=forms.named(appended, "vehicle"),
                    plate=appended.body["data"]["plate"]), "ok")
            return redirect(url_for(".register", done=forms.named(appended, "vehicle")))
    return render_template("registration_transfer_in.html", refused=refused, form=request.form, ID_TYPES=ID_TYPES,
                           REGIONS=_other_regions())


@bp.route("/backfill", methods=["GET", "POST"])
@login_required(DESK)
def backfill():
    """Code a vehicle already on the road (补码) with its battery and charger, owner and plate."""
    refused, done = None, []
    if request.method == "POST":
        body = forms.values("vehicle", "battery", "charger", "vehicle_model", "battery_model", "charger_model", "plate")
        owner = forms.person("owner")
        if owner is not None:
            body["owner"] = owner
        appended, refused = forms.attempt("backfill", body)
        if refused is None:
            flash(_("Coded and registered: vehicle %(vehicle)s with plate %(plate)s", vehicle=forms.named(appended, "vehicle"),
                    plate=appended.body["data"]["plate"]), "ok")
            labels = [(k, forms.named(appended, k)) for k in ("vehicle", "battery", "charger") if forms.named(appended, k)]
            return redirect(url_for(".backfill", **{f"done_{k}": v for k, v in labels}))
    done = [(k, request.args[f"done_{k}"]) for k in ("vehicle", "battery", "charger") if request.args.get(f"done_{k}")]
    with registry().reading() as uow:
        models = board.models(uow)
    return render_template("registration_backfill.html", refused=refused, form=request.form, ID_TYPES=ID_TYPES,
                           models=models, done=done)


@bp.get("/plate-label")
@login_required(DESK)
def plate_label():
    """Return the label a registration point prints as PNG: a vehicle's plate (码牌合一) or a backfilled part's code."""
    kind = request.args.get("kind", "vehicle")
    if kind not in ("vehicle", "battery", "charger"):
        kind = "vehicle"
    with registry().reading() as uow:
        item = items.find_item(uow, request.args.get(kind) or request.args.get("item", ""), kind, field=kind)
        label = labelling.label_of(uow, current_actor(), item)
    data, mimetype = labelling.single(label, "png")
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"})
