"""The registry's home page, each organisation's home, and a code check for anyone logged in."""

from __future__ import annotations

from flask import render_template

from registry.api.context import registry
from registry.services import activity
from registry.web.auth import current_user, login_required, web_blueprint
from registry.web.navigation import tasks_for
from registry.web.words import EVENTS, ITEM_KINDS, ORG_KINDS, STATES

bp = web_blueprint("pages", __name__)
bp.static_folder = "static"
bp.static_url_path = "/assets"

#: The events each kind's home lists as "done today".
TODAY = ("receive", "ship", "sell", "register", "transfer", "deregister", "backfill", "repair", "swap_battery",
         "replace_charger", "report_modification", "assess_battery", "recall", "recall_remedy", "certificate_status",
         "list_change", "report_stolen", "report_recovered", "report_incident", "retire", "recycle", "scrap")


@bp.get("/")
def index():
    """Say what this registry is and link to its API and public log."""
    reg = registry()
    with reg.reading() as uow:
        size = uow.log.size()
    return render_template("index.html", size=size, origin=reg.origin, web_user=current_user())


@bp.get("/home")
@login_required()
def home():
    """Show what the logged-in organisation's kind can do, its stock and what it did today."""
    user = current_user()
    with registry().reading() as uow:
        held = activity.holdings(uow, user.actor)
        today = activity.recorded_today(uow, user.actor, TODAY, limit=20)
    return render_template("home.html", tasks=tasks_for(user.org_kind), held=held, today=today,
                           kind_name=ORG_KINDS.get(user.org_kind, user.org_kind), EVENTS=EVENTS,
                           ITEM_KINDS=ITEM_KINDS, STATES=STATES)


@bp.get("/scan")
@login_required()
def scan():
    """Check any code: the item card appears as soon as it is scanned."""
    return render_template("scan.html")
