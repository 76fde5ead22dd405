"""The regulator's desk: a dashboard with charts, recalls and certificates' status."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from registry.api.context import registry
from registry.services import dashboard as board
from registry.services import stats
from registry.web import charts, forms
from registry.web.auth import login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.i18n import lazy_gettext as _l
from registry.web.words import CERTIFICATE_STATUSES, INCIDENT_TYPES, ITEM_KINDS, STATES

bp = web_blueprint("regulator", __name__, url_prefix="/regulator")

DESK = ("regulator",)
CRITERIA = {
    "maker": _l("Maker"), "seller": _l("Seller"), "owner": _l("Owner"), "battery_type": _l("Battery type"),
    "purchase_time": _l("Purchase time"), "modification_history": _l("Modification history"),
}


def _unknown(name):
    return name or _("Unknown")


@bp.get("/")
@login_required(DESK)
def dashboard():
    """Incidents by brand and model, clarity rate, open recalls, overdue batteries, registrations by month."""
    with registry().reading() as uow:
        o = board.overview(uow)
    inc, clar = o["incidents"], o["clarity"]
    n = clar["incidents"]
    figures = {
        "by_brand": charts.bars([(_unknown((r["maker"] or {}).get("name")), r["count"]) for r in inc["by_vehicle_maker"][:8]],
                                _("Incidents by brand")),
        "by_battery_maker": charts.bars([(_unknown((r["maker"] or {}).get("name")), r["count"]) for r in inc["by_battery_maker"][:8]],
                                        _("Incidents by battery maker"), color="#c62828"),
        "by_model": charts.bars([(_unknown(r["model"]), r["count"]) for r in inc["by_battery_model"][:8]],
                                _("Incidents by battery model"), color="#c62828"),
        "clarity": charts.ring(clar["rate"], _("%(clear)s of %(n)s incidents fully traced", clear=clar["clear"], n=n),
                               _("Clarity rate")),
        "criteria": charts.bars([(str(CRITERIA[k]), clar["criteria"][k]) for k in CRITERIA], _("Facts resolved"),
                                total=n or 1, suffix=f" / {n}"),
        "registrations": charts.columns([(r["month"][5:], r["count"]) for r in o["registrations"]],
                                        _("Registrations by month")),
    }
    return render_template("regulator_dashboard.html", o=o, figures=figures, ITEM_KINDS=ITEM_KINDS, STATES=STATES,
                           INCIDENT_TYPES=INCIDENT_TYPES)


@bp.route("/recall", methods=["GET", "POST"])
@login_required(DESK)
def recall():
    """Open a recall by model, batch, production period or certificate; close one."""
    refused = None
    if request.method == "POST":
        if request.form.get("close"):
            appended, refused = forms.attempt("recall_remedy", {"recall": request.form["close"], "remedy": "closed"})
            if refused is None:
                flash(_("Recall closed."), "ok")
                return redirect(url_for(".recall"))
        else:
            body = forms.values("model", "batch", "produced_from", "produced_to", "certificate", "reason")
            appended, refused = forms.attempt("recall", body)
            if refused is None:
                flash(_("Recall opened: every item it covers is flagged from now on."), "ok")
                return redirect(url_for(".recall"))
    with registry().reading() as uow:
        models = board.models(uow)
        recalls = stats.recalls(uow)["recalls"]
    return render_template("regulator_recall.html", refused=refused, form=request.form, models=models, recalls=recalls,
                           ITEM_KINDS=ITEM_KINDS)


@bp.route("/certificate", methods=["GET", "POST"])
@login_required(DESK)
def certificate():
    """Suspend, revoke or restore a CCC certificate; new sales and swaps see it at once."""
    refused = None
    if request.method == "POST":
        body = forms.values("certificate", "status", "reason")
        appended, refused = forms.attempt("certificate_status", body)
        if refused is None:
            flash(_("Certificate %(number)s is now %(status)s.", number=body["certificate"],
                    status=CERTIFICATE_STATUSES[body["status"]]), "ok")
            return redirect(url_for(".certificate"))
    with registry().reading() as uow:
        certs = board.certificates(uow)
    return render_template("regulator_certificate.html", refused=refused, form=request.form, certificates=certs,
                           STATUSES=CERTIFICATE_STATUSES, ITEM_KINDS=ITEM_KINDS,
                           chosen=request.values.get("certificate", ""))
