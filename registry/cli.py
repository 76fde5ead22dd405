"""Command line: `flask --app app …` (API.md "Bootstrap")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations to *url*."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _registry():
    return current_app.extensions["registry"]


db_group = AppGroup("db", help="Database migrations.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations (SQLite or PostgreSQL)."""
    reg = _registry()
    upgrade(reg.db.url, revision)
    click.echo(f"database at revision {revision}")


@click.command("create-admin")
@with_appcontext
@click.option("--username", required=True)
@click.option("--password", required=True)
def create_admin(username: str, password: str) -> None:
    """Create an administrator (and the admin organisation, once)."""
    from registry.domain.errors import DomainError
    from registry.services.orgs import create_admin as create

    with _registry().writing() as uow:
        try:
            user = create(uow, username, password)
        except DomainError as err:
            raise click.ClickException(err.message("en")) from None
    click.echo(f"admin {user.username} created")


@click.command("seed-demo")
@with_appcontext
@click.option("--force", is_flag=True, help="Seed even when the database already has entries.")
def seed_demo(force: bool) -> None:
    """Seed a small realistic city when the database is empty."""
    from registry.services.demo import seed

    reg = _registry()
    with reg.reading() as uow:
        size = uow.log.size()
    if size and not force:
        click.echo(f"the log already has {size} entries: not seeding (use --force)")
        return
    seed(reg, echo=click.echo)


@click.command("checkpoint")
@with_appcontext
def checkpoint() -> None:
    """Sign a checkpoint of the current tree and print it."""
    with _registry().writing() as uow:
        row = uow.log.checkpoint()
        uow.commit()
    click.echo(row.note, nl=False)


@click.command("rotate-key")
@with_appcontext
def rotate_key() -> None:
    """Start a new signing key; old public keys stay published."""
    reg = _registry()
    old = reg.keys.current.key_id
    new = reg.keys.rotate()
    with reg.writing() as uow:
        uow.log.checkpoint()
        uow.commit()
    click.echo(f"rotated signing key {old} -> {new.key_id}; a checkpoint was signed with the new key")


@click.command("verify-log")
@with_appcontext
def verify_log() -> None:
    """Recompute every leaf, node, chain link and checkpoint; exit 1 at the first bad index."""
    from registry.store.verify import verify_log as verify

    reg = _registry()
    started = time.perf_counter()
    with reg.reading() as uow:
        report = verify(uow.session, reg.hasher, reg.origin, reg.keys.by_id())
    took = time.perf_counter() - started
    if report.ok:
        rate = report.entries / took if took else 0
        click.echo(f"log verified: {report.entries} entries, every leaf, node, link and checkpoint holds ({rate:,.0f} entries/s)")
        return
    click.echo(f"LOG DOES NOT VERIFY: first bad index {report.first.index}", err=True)
    for f in report.findings:
        click.echo(f"  {f}", err=True)
    sys.exit(1)


@click.command("rebuild-state")
@with_appcontext
@click.option("--check", is_flag=True, help="Only compare; change nothing.")
def rebuild_state(check: bool) -> None:
    """Replay the log into the projections and compare with the live tables."""
    from registry.services.state import rebuild_state as rebuild

    with _registry().writing() as uow:
        diffs = rebuild(uow, write=not check)
    if not diffs:
        click.echo("projections equal the log replayed")
        return
    for d in diffs:
        click.echo(f"{d.table}: {len(d.only_live)} rows only live, {len(d.only_rebuilt)} only rebuilt", err=True)
    if check:
        sys.exit(1)
    click.echo("projections replaced by the replayed state")


def register(app: Flask) -> None:
    """Add the registry's commands to *app*."""
    app.cli.add_command(db_group)
    for command in (create_admin, seed_demo, checkpoint, rotate_key, verify_log, rebuild_state):
        app.cli.add_command(command)
