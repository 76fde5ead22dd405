"""Public pages: the home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from registry.api.context import registry

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@bp.get("/")
def index():
    """Say what this registry is and link to its API and public log."""
    reg = registry()
    with reg.reading() as uow:
        size = uow.log.size()
    return render_template("index.html", size=size, origin=reg.origin)
