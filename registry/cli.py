"""Command line: `flask --app app …` (API.md "Bootstrap")."""

from __future__ import annotations

import os
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
@click.option("--jobs", type=click.IntRange(min=1), default=lambda: os.cpu_count() or 1, show_default="the cores",
              help="Processes that check the log's chunks, each on its own database connection.")
def verify_log(jobs: int) -> None:
    """Recompute every leaf, node, chain link and checkpoint; exit 1 at the first bad index."""
    from registry.store.verify import verify_log as verify

    reg = _registry()
    started = time.perf_counter()
    with reg.reading() as uow:
        report = verify(uow.session, reg.hasher, reg.origin, reg.keys.by_id(), workers=jobs)
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


@click.command("import-items")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--username", required=True, help="A user of the manufacturer that commissions the items.")
@click.option("--chunk", default=5000, show_default=True, type=click.IntRange(1, 100000), help="Lines per commit.")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "jsonl"]), default="auto", show_default=True)
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Signing processes (default: up to 2).")
def import_items(file: Path, username: str, chunk: int, fmt: str, processes: int | None) -> None:
    """Commission the items of a CSV (kind,identifier,model,produced_on,batch) or JSON-lines FILE.

    Streams the file, commits every --chunk lines, reports bad lines by number on
    stderr without stopping, and skips items already commissioned (re-run safe).
    Exits 1 when some lines were bad.
    """
    from tqdm import tqdm

    from registry.domain.errors import DomainError
    from registry.services.importing import UnreadableFile, count_lines
    from registry.services.importing import import_items as run

    reg = _registry()
    actor = _actor_of(reg, username)
    total = count_lines(file)
    bar = tqdm(total=total, unit=" lines", file=sys.stderr, dynamic_ncols=True, desc=file.name)

    def on_error(line: int, message: str) -> None:
        tqdm.write(f"{file.name}:{line}: {message}", file=sys.stderr)

    def progress(line: int) -> None:
        bar.update(max(0, line - bar.n))

    try:
        report = run(reg, actor, file, fmt=fmt, chunk=chunk, processes=processes, on_error=on_error, progress=progress)
    except DomainError as err:
        raise click.ClickException(err.message("en")) from None
    except UnreadableFile as err:
        raise click.ClickException(str(err)) from None
    finally:
        bar.close()
    rate = report.commissioned / report.seconds if report.seconds else 0
    indexes = f" (log indexes {report.first_index}-{report.last_index})" if report.commissioned else ""
    click.echo(
        f"{file.name}: {report.lines} lines read, {report.commissioned} commissioned{indexes}, "
        f"{report.skipped} skipped as already commissioned, {report.bad} bad lines; "
        f"{report.seconds:.1f} s ({rate:,.0f} items/s)"
    )
    if report.bad:
        sys.exit(1)


def _actor_of(reg, username: str):
    from sqlalchemy import select

    from registry.services.auth import actor_for_user
    from registry.store.models import User

    with reg.reading() as uow:
        user = uow.session.execute(select(User).where(User.username == username)).scalar()
        if user is None or not user.active:
            raise click.ClickException(f"no active user {username!r}")
        return actor_for_user(uow, user)


@click.command("labels")
@with_appcontext
@click.option("--kind", type=click.Choice(["vehicle", "battery", "charger"]), help="Kind of the items named (guessed when left out).")
@click.option("--identifier", "identifiers", multiple=True, help="An identifier or scanned payload (repeatable).")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="One identifier or payload a line, or kind,identifier lines.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "png", "zpl", "svg"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--page", type=click.Choice(["A4", "A5", "A3", "Letter"]), default="A4", show_default=True)
@click.option("--cols", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("--rows", type=click.IntRange(1, 30), default=8, show_default=True)
@click.option("--label-width", type=click.FloatRange(10, 300), help="Sheet label width, mm (default: fill the page).")
@click.option("--label-height", type=click.FloatRange(8, 300), help="Sheet label height, mm (default: fill the page).")
@click.option("--roll-width", type=click.FloatRange(15, 120), default=40, show_default=True, help="Roll label width, mm (png, zpl).")
@click.option("--roll-height", type=click.FloatRange(10, 120), default=30, show_default=True, help="Roll label height, mm (png, zpl).")
@click.option("--dpi", type=click.Choice(["203", "300"]), default="203", show_default=True, help="Thermal printer resolution.")
def labels(kind, identifiers, from_file, fmt, output, page, cols, rows, label_width, label_height, roll_width, roll_height, dpi) -> None:
    """Print labels: A4 sheets (pdf), thermal roll pages (png; zipped when several), ZPL II or one SVG."""
    from registry.domain.errors import DomainError
    from registry.domain.identifiers import InvalidIdentifier
    from registry.services import labelling

    refs = [{"kind": kind, "identifier": i} for i in identifiers]
    if from_file:
        for line in from_file.read_text(encoding="utf-8-sig").splitlines():
            line = line.strip()
            if not line or line.lower().replace(" ", "") == "kind,identifier":
                continue
            head, sep, tail = line.partition(",")
            refs.append({"kind": head.strip(), "identifier": tail.strip()} if sep and "://" not in head else {"kind": kind, "identifier": line})
    if not refs:
        raise click.UsageError("name items with --identifier or --from-file")
    if fmt == "svg" and len(refs) != 1:
        raise click.UsageError("svg prints exactly one label")
    layout = {
        "page": page, "cols": cols, "rows": rows, "label_w_mm": label_width, "label_h_mm": label_height,
        "width_mm": roll_width, "height_mm": roll_height, "dpi": int(dpi),
    }
    try:
        with _registry().reading() as uow:
            found = labelling.resolve_labels(uow, None, refs)
        if fmt == "svg":
            data, _ = labelling.single(found[0], "svg")
        else:
            data, _, _ = labelling.render(found, fmt, layout)
    except (DomainError, InvalidIdentifier) as err:
        details = getattr(err, "errors", None) or {}
        lines = [f"  {f}: {m[1]}" for f, msgs in details.items() for m in msgs]
        raise click.ClickException("\n".join([err.message("en")] + lines)) from None
    output.write_bytes(data)
    click.echo(f"{len(found)} label(s) written to {output} ({len(data):,} bytes)")


@click.command("verify-code")
@with_appcontext
@click.argument("payload")
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Public keys as served by /api/v1/log/public-keys (default: this instance's published keys).")
def verify_code(payload: str, keys_file: Path | None) -> None:
    """Check a scanned payload or token offline with the published public keys; exit 1 when not genuine."""
    import base64
    import json

    from registry.labels import InvalidCode, verify_code_offline

    if keys_file:
        doc = json.loads(keys_file.read_text())
        if isinstance(doc, dict):  # the API's answer: base64 keys
            keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in doc.get("keys", [])}
        else:  # the instance's public-keys.json: hex keys
            keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in doc}
    else:
        keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in _registry().keys.public_keys()}
    try:
        decoded = verify_code_offline(payload, keys)
    except InvalidCode as err:
        click.echo(f"NOT GENUINE: {err.code}: {err}", err=True)
        sys.exit(1)
    click.echo(f"genuine: {decoded.kind} {decoded.identifier} (signed by key {decoded.key_id})")


def register(app: Flask) -> None:
    """Add the registry's commands to *app*."""
    app.cli.add_command(db_group)
    for command in (create_admin, seed_demo, checkpoint, rotate_key, verify_log, rebuild_state, import_items, labels, verify_code):
        app.cli.add_command(command)
