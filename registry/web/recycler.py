"""The recycler's yard: take in, retire and recycle by scanning, with the running list of today's intake."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from registry.web import forms
from registry.web.auth import login_required, web_blueprint
from registry.web.i18n import gettext as _
from registry.web.i18n import lazy_gettext as _l
from registry.web.stock import scan_and_record, today
from registry.web.words import EVENTS, ITEM_KINDS, RECYCLE_METHODS, RETIRE_REASONS

bp = web_blueprint("recycler", __name__, url_prefix="/recycler")

ACTIONS = {"receive": _l("Take in (receive)"), "retire": _l("Retire"), "recycle": _l("Recycle"), "scrap": _l("Scrap a vehicle")}


@bp.route("/", methods=["GET", "POST"])
@login_required(("recycler",))
def intake():
    """Each scan records the chosen step for that item: receive, retire, recycle or scrap."""
    action = request.values.get("action", "receive")
    if action not in ACTIONS:
        action = "receive"
    reason = request.values.get("reason", "end_of_life")
    method = request.values.get("method", "disassembly")
    refused = None
    if request.method == "POST":
        value = (request.form.get("item") or "").strip()
        if action == "scrap":
            appended, refused = forms.attempt("scrap", {"vehicle": value})
            kind, identifier = "vehicle", appended and forms.named(appended, "vehicle")
        else:
            fields = {"receive": {"inspection": "passed"}, "retire": {"reason": reason}, "recycle": {"method": method}}[action]
            kind, identifier, refused = scan_and_record(action, value, fields)
        if refused is None:
            flash(_("%(step)s: %(kind)s %(item)s", step=EVENTS[action], kind=ITEM_KINDS[kind], item=identifier), "ok")
            return redirect(url_for(".intake", action=action, reason=reason, method=method))
    return render_template("recycler.html", action=action, reason=reason, method=method, refused=refused,
                           ACTIONS=ACTIONS, RETIRE_REASONS=RETIRE_REASONS, RECYCLE_METHODS=RECYCLE_METHODS,
                           today=today(("receive", "retire", "recycle", "scrap")), EVENTS=EVENTS, ITEM_KINDS=ITEM_KINDS,
                           value=request.form.get("item", "") if refused else "")
