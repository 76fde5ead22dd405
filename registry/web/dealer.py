"""The dealer's sale counter: scan the set, see the sale check (扫码核验), record the sale with its buyer."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from registry.api.context import registry
from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.services import lifecycle, orgs
from registry.web import forms
from registry.web.auth import current_actor, login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.words import ID_TYPES
from schemas.events import SaleCheck

bp = web_blueprint("dealer", __name__, url_prefix="/dealer")

SET = ("vehicle", "battery", "charger")


def _sale_body() -> dict:
    body = forms.values(*SET)
    if request.form.get("buyer_type") == "swap_operator":
        body.update(forms.values("buyer_org"))
    else:
        buyer = forms.person("buyer")
        if buyer is not None:
            body["buyer"] = buyer
    return body


def check(body: dict):
    """Dry-run the sale with the same rules as recording it; return (passed, refusal)."""
    try:
        data = forms.load("sell", {k: v for k, v in body.items() if k in (*SET, "buyer_org")}, schema=SaleCheck)
        with registry().reading() as uow:
            problems = lifecycle.check_sale(uow, current_actor(), data)
    except (DomainError, InvalidIdentifier) as err:
        return False, forms.refusal(err, _("The sale check failed"))
    if problems:
        err = DomainError("sale_refused", "", "", problems=problems)
        return False, forms.refusal(err, _("The sale check failed: this set may not be sold"))
    return True, None


@bp.route("/sale", methods=["GET", "POST"])
@login_required(("dealer",))
def sale():
    """Scan vehicle, battery and charger; check; record the sale to a person or a swap operator."""
    passed, refused = False, None
    if request.method == "POST":
        body = _sale_body()
        if request.form.get("action") == "sell":
            appended, refused = forms.attempt("sell", body)
            if refused is None:
                flash(_("Sold: vehicle %(vehicle)s (log entry %(index)s)", vehicle=forms.named(appended, "vehicle"), index=appended.index), "ok")
                return redirect(url_for(".sale"))
            refused.title = _("Not sold: nothing was written")
        else:
            passed, refused = check(body)
    with registry().reading() as uow:
        operators = [o for o in orgs.list_organisations(uow) if o.kind == "swap_operator"]
    return render_template("dealer_sale.html", passed=passed, refused=refused, form=request.form,
                           operators=operators, ID_TYPES=ID_TYPES)
