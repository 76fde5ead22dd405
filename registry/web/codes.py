"""The public code page a scanned label opens: /c/<token> (and /C/<token> for upper-cased payloads)."""

from __future__ import annotations

from flask import render_template

from registry.api.context import registry
from registry.services import codes
from registry.web.auth import web_blueprint
from registry.web.i18n import page_lang
from registry.web.words import ITEM_KINDS, STANDARDS, STATES

bp = web_blueprint("code_pages", __name__)

#: A battery this old needs a passed health assessment to stay in service (DOMAIN.md).
SERVICE_AGE_YEARS = 5


@bp.get("/c/<string:token>")
@bp.get("/C/<string:token>")
def code_page(token):
    """Show whether a scanned code is genuine and what its item is; never personal data."""
    with registry().reading() as uow:
        answer = codes.check(uow, token, page_lang(), token_only=True)
    age = answer.get("battery_age_days")
    age_years = None if age is None else age / 365.25
    return render_template(
        "code.html",
        a=answer,
        kind_name=ITEM_KINDS.get(answer.get("kind"), answer.get("kind")),
        state_name=STATES.get(answer.get("state"), answer.get("state")),
        standard_name=STANDARDS.get(answer.get("standard")),
        age_years=age_years,
        past_service_age=answer.get("kind") == "battery" and age_years is not None and age_years >= SERVICE_AGE_YEARS,
    ), 200, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
