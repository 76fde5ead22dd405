"""Server-rendered pages, Chinese first: login, a home per organisation kind, the counters' and the public pages."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, send_from_directory

#: The project's top-level folder: package.json and the node_modules it installs live there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
#: The QR decoder for browsers without BarcodeDetector (installed by npm from package.json).
JSQR = PROJECT_ROOT / "node_modules" / "jsqr" / "dist"


def init_app(app: Flask) -> None:
    """Install languages, sessions and CSRF, and register every page blueprint."""
    from registry.web import (
        auth,
        codes,
        dealer,
        i18n,
        investigator,
        pages,
        recycler,
        registration,
        regulator,
        stock,
        workshop,
    )

    from registry.web import words

    i18n.init_app(app)
    auth.init_app(app)
    # the names of the domain's codes, in every template
    app.jinja_env.globals.update(EVENTS=words.EVENTS, ITEM_KINDS=words.ITEM_KINDS, SHORT_KINDS=words.SHORT_KINDS,
                                 STATES=words.STATES, ORG_KINDS=words.ORG_KINDS)
    for module in (pages, auth, codes, stock, dealer, registration, workshop, recycler, investigator, regulator):
        app.register_blueprint(module.bp)

    @app.get("/vendor/jsQR.js")
    def jsqr():
        """Serve the QR decoder that package.json declares (npm installs it; nothing third-party is committed)."""
        if not (JSQR / "jsQR.js").is_file():
            abort(404)
        return send_from_directory(JSQR, "jsQR.js", mimetype="text/javascript", max_age=86400)
