"""The registration point's desk (登记上牌点): register a set with its owner and plate, transfer, deregister."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from registry.api.context import registry
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
        body = forms.values("vehicle", "reason")
        appended, refused = forms.attempt("deregister", body)
        if refused is None:
            flash(_("Deregistered: vehicle %(vehicle)s", vehicle=forms.named(appended, "vehicle")), "ok")
            return redirect(url_for(".deregister"))
    return render_template("registration_deregister.html", refused=refused, form=request.form, REASONS=DEREGISTER_REASONS)


@bp.get("/plate-label")
@login_required(DESK)
def plate_label():
    """Return the plate label of a registered vehicle (码牌合一) as PNG, to print."""
    with registry().reading() as uow:
        item = items.find_item(uow, request.args.get("vehicle", ""), "vehicle", field="vehicle")
        label = labelling.label_of(uow, current_actor(), item)
    data, mimetype = labelling.single(label, "png")
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"})
