"""The repair shop's and the swap operator's bench: swap a battery or a charger by scanning, record repairs."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from registry.web import forms
from registry.web.auth import current_user, login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.words import ITEM_KINDS

bp = web_blueprint("workshop", __name__, url_prefix="/workshop")

BENCH = ("repair_shop", "swap_operator")
EVENT = {"battery": "swap_battery", "charger": "replace_charger"}


@bp.route("/swap", methods=["GET", "POST"])
@login_required(BENCH)
def swap():
    """Swap a vehicle's battery (or replace its charger): scan the vehicle, the old part and the new one."""
    part = request.values.get("part", "battery")
    if part not in EVENT:
        part = "battery"
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", f"old_{part}", f"new_{part}")
        appended, refused = forms.attempt(EVENT[part], body)
        if refused is None:
            flash(_("Recorded: %(part)s %(new)s is now in vehicle %(vehicle)s", part=ITEM_KINDS[part],
                    new=appended.body["data"][f"new_{part}"].partition(":")[2], vehicle=forms.named(appended, "vehicle")), "ok")
            return redirect(url_for(".swap", part=part))
    return render_template("workshop_swap.html", part=part, refused=refused, form=request.form,
                           swap_operator=current_user().org_kind == "swap_operator")


@bp.route("/repair", methods=["GET", "POST"])
@login_required(BENCH)
def repair():
    """Record the work done on a vehicle in service."""
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", "work")
        appended, refused = forms.attempt("repair", body)
        if refused is None:
            flash(_("Repair recorded for vehicle %(vehicle)s", vehicle=forms.named(appended, "vehicle")), "ok")
            return redirect(url_for(".repair"))
    return render_template("workshop_repair.html", refused=refused, form=request.form)
