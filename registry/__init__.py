"""yima (一码): a traceability registry for e-bikes, batteries and chargers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, send_from_directory

from registry.config import from_environment

__version__ = "0.1.0"


def _secret_key(instance: Path) -> str:
    """Return the instance's session secret, created on first run."""
    path = instance / "secret_key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


def create_app(config: dict | None = None) -> Flask:
    """Create the registry's Flask app from the environment, overridden by *config*."""
    settings = from_environment()
    settings.update(config or {})
    instance = Path(settings["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(settings)
    app.config.setdefault("SECRET_KEY", "")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(instance)
    app.config.update(
        API_TITLE="yima 一码 registry",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/static/",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["PUBLIC_URL"].startswith("https://"),
    )
    app.json.ensure_ascii = False

    from registry.extensions import api
    from registry.runtime import Registry
    from registry.store.db import Database

    # one engine per app: several registries (regions) may be served by one process
    db = Database()
    db.init_app(app)
    app.extensions["registry"] = Registry(app.config, db)

    from registry.api import errors

    errors.register(app)
    api.init_app(app)
    from registry.api import access, log

    api.register_blueprint(access.blp)
    api.register_blueprint(log.blp)
    from registry.api import catalogue as catalogue_api, codes as codes_api, items as items_api

    api.register_blueprint(catalogue_api.blp)
    api.register_blueprint(items_api.blp)
    api.register_blueprint(codes_api.blp)
    from registry.api import events as events_api, persons as persons_api

    api.register_blueprint(events_api.blp)
    api.register_blueprint(persons_api.blp)
    from registry.api import trace as trace_api

    api.register_blueprint(trace_api.blp)

    import swagger_ui_bundle

    @app.get("/api/v1/docs/static/<path:filename>")
    def swagger_static(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    from registry import web

    web.init_app(app)  # the pages: languages, login, CSRF and every role's blueprint

    from registry import cli

    cli.register(app)
    return app
