"""Fixtures: a fresh migrated database per test (SQLite, or PostgreSQL in its lane), app, client, factories."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from registry import create_app
from registry.cli import upgrade
from registry.config import normalise_database_url

#: Set by .ci/run's PostgreSQL lane: a server URL whose user may create databases.
PG_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "")
ENGINE = "postgresql" if PG_URL else "sqlite"
_counter = itertools.count()


def pytest_report_header(config):
    return f"registry database engine: {ENGINE}" + (f" ({PG_URL})" if PG_URL else "")


def _pg_admin():
    return create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")


def _pg_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(normalise_database_url(PG_URL)).set(database=dbname).render_as_string(hide_password=False)


def unavailable(reason: str) -> None:
    """A tool or font a test needs is missing: skip here, fail under CI=true (CI installs it)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required on CI)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(request, monkeypatch):
    """Users made by tests get one-round PBKDF2 password hashes.

    The product hashes with werkzeug's scrypt (≈ 0.15 s a hash, and again at every
    sign-in: slow on purpose), which made the suite spend most of its time making
    organisations' users and their tokens. Checking verifies whatever method a hash
    names, so sign-in stays the real code path. A test marked ``real_passwords``
    keeps scrypt (tests/e2e/test_access.py checks the product's hashes)."""
    if request.node.get_closest_marker("real_passwords"):
        return
    from werkzeug import security

    monkeypatch.setattr("registry.services.orgs.generate_password_hash",
                        lambda password: security.generate_password_hash(password, "pbkdf2:sha256:1"))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate one template database per session; each test gets a copy."""
    if PG_URL:
        name = f"yima_tpl_{os.getpid()}"
        admin = _pg_admin()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(_pg_url(name))
        yield name
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


def _fresh_database(template_db, path: Path):
    """Yield the URL of a fresh copy of the migrated template (a database on PostgreSQL, *path* on SQLite)."""
    if PG_URL:
        name = f"yima_t_{os.getpid()}_{next(_counter)}"
        admin = _pg_admin()
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}" STRATEGY FILE_COPY'))
        yield _pg_url(name)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def db_url(template_db, tmp_path):
    """Return the URL of a fresh, migrated, empty database of the lane's engine."""
    yield from _fresh_database(template_db, tmp_path / "registry.db")


def _app_config(db_url: str, instance: Path, public_url: str = "http://registry.test") -> dict:
    return {
        "DATABASE_URL": db_url,
        "INSTANCE_PATH": str(instance),
        "SIGNING_KEY": str(instance / "keys" / "signing.pem"),
        "PUBLIC_URL": public_url,
        "LOG_ORIGIN": "",
        "TESTING": True,
        "SECRET_KEY": "test-secret",
    }


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app(_app_config(db_url, tmp_path / "instance"))
    yield app
    app.extensions["registry"].db.dispose()


@pytest.fixture
def other_region_app(app, template_db, tmp_path):
    """A second regional registry (its own database, origin and key), linked with ``app`` as peers.

    Both see each other through a directory (registry.regions), as two regions of
    one deployment do: ``http://registry.test`` and ``http://elsewhere.test``."""
    from registry.regions import connect

    for url in _fresh_database(template_db, tmp_path / "elsewhere.db"):
        other = create_app(_app_config(url, tmp_path / "elsewhere", "http://elsewhere.test"))
        connect({"here": app.extensions["registry"], "elsewhere": other.extensions["registry"]})
        yield other
        other.extensions["registry"].db.dispose()


@pytest.fixture
def registry(app):
    return app.extensions["registry"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


PASSWORD = "correct-horse-battery"


def first_admin_token(client, registry) -> str:
    """Create the first admin of *registry* and return a bearer token for it."""
    from registry.services.orgs import create_admin

    with registry.writing() as uow:
        create_admin(uow, "root", PASSWORD)
    r = client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["token"]


@pytest.fixture
def admin_token(client, registry):
    """Create the first admin and return a bearer token for it."""
    return first_admin_token(client, registry)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_org(client, admin_token):
    """Return a factory: make_org(kind) -> (org json, bearer token of a user of it)."""
    return org_maker(client, admin_token)


def org_maker(client, admin_token):
    """make_org's factory for any registry's client."""

    def make(kind: str, name: str | None = None, region: str = "330206"):
        r = client.post(
            "/api/v1/orgs",
            json={"name": name or f"{kind} {uuid.uuid4().hex[:6]}", "kind": kind, "license_no": f"L-{uuid.uuid4().hex[:8]}", "region": region},
            headers=auth(admin_token),
        )
        assert r.status_code == 201, r.get_json()
        org = r.get_json()
        username = f"u{uuid.uuid4().hex[:10]}"
        r = client.post(f"/api/v1/orgs/{org['id']}/users", json={"username": username, "password": PASSWORD}, headers=auth(admin_token))
        assert r.status_code == 201, r.get_json()
        r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
        return org, r.get_json()["token"]

    return make


_serial = itertools.count(1)


def next_serial() -> int:
    """Return a number no other call in this test session returns (unique identifiers)."""
    return next(_serial)


@pytest.fixture
def make_catalogue(client, make_org):
    """Return a factory: make_catalogue() -> a manufacturer with certified battery, charger and vehicle models.

    The namespace it returns holds the org, its token, the model names, and
    ``commission(kind, n=1, **fields)`` which commissions n new items through
    ``POST /items/batch`` and returns the answer's items (each with its code).
    """
    return catalogue_maker(client, make_org)


def catalogue_maker(client, make_org):
    """make_catalogue's factory for any registry's client."""
    from types import SimpleNamespace

    def make():
        org, token = make_org("manufacturer")
        tag = f"{next_serial():05d}"
        ns = SimpleNamespace(org=org, token=token, vehicle_model=f"VM-{tag}", battery_model=f"BM-{tag}", charger_model=f"CM-{tag}",
                             larger_battery_model=f"BL-{tag}", certificate=f"2026011119{int(tag):06d}")
        ns.battery_certificate, ns.larger_certificate, ns.charger_certificate = (
            f"2026011120{int(tag):06d}", f"2026011122{int(tag):06d}", f"2026011121{int(tag):06d}")
        for number, kind, model in ((ns.certificate, "vehicle", ns.vehicle_model), (ns.battery_certificate, "battery", ns.battery_model),
                                    (ns.larger_certificate, "battery", ns.larger_battery_model),
                                    (ns.charger_certificate, "charger", ns.charger_model)):
            r = client.post("/api/v1/certificates", json={"number": number, "product_kind": kind, "model": model,
                                                          "issued_on": "2026-01-01", "expires_on": "2031-01-01"}, headers=auth(token))
            assert r.status_code == 201, r.get_json()
        for body in (
            {"kind": "battery", "model": ns.battery_model, "certificate": ns.battery_certificate,
             "specs": {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}},
            {"kind": "battery", "model": ns.larger_battery_model, "certificate": ns.larger_certificate,
             "specs": {"chemistry": "lithium_ion", "voltage_v": 60, "capacity_ah": 32, "energy_wh": 1920}},
            {"kind": "charger", "model": ns.charger_model, "certificate": ns.charger_certificate, "specs": {"output_v": "54.6", "output_a": 3}},
            {"kind": "vehicle", "model": ns.vehicle_model, "certificate": ns.certificate,
             "specs": {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55},
             "approved_batteries": [ns.battery_model], "approved_chargers": [ns.charger_model]},
        ):
            r = client.post("/api/v1/models", json=body, headers=auth(token))
            assert r.status_code == 201, r.get_json()
        models = {"vehicle": ns.vehicle_model, "battery": ns.battery_model, "charger": ns.charger_model,
                  "larger_battery": ns.larger_battery_model}

        def identifier(kind: str) -> str:
            n = next_serial()
            return {"vehicle": f"1173226{n:08d}", "battery": f"TSTB48V2026{n:06d}", "charger": f"MA2H3K8L1-26-48-{n:06d}"}[kind]

        def commission(kind: str, n: int = 1, **fields):
            model = fields.pop("model", models[kind])
            items = [{"kind": kind, "identifier": identifier(kind), "model": model, "produced_on": "2026-03-01", **fields} for _ in range(n)]
            r = client.post("/api/v1/items/batch", json={"items": items}, headers=auth(token))
            assert r.status_code == 201, r.get_json()
            return r.get_json()["items"]

        ns.identifier = identifier
        ns.commission = commission
        return ns

    return make
