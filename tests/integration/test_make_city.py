"""scripts/make_city.py: a city written through the services in batches is a log like any other.

A batch defers the ORM's writes to the next read or to its commit (``UnitOfWork.commit``) and
finds the items it commissioned without flushing (``held``): the projections it leaves must
still be the fold of its log, and the log must verify.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.store.models import Item, LogEntry
from registry.runtime import Registry
from registry.store.uow import UnitOfWork
from registry.store.verify import verify_log
from tests.conftest import ENGINE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import make_city  # noqa: E402

pytestmark = pytest.mark.db


def test_a_city_built_in_batches_verifies_and_its_projections_are_the_fold_of_its_log(registry, runner):
    figures = make_city.build(registry, 3_000, batch=700, seed=3, progress=False)

    assert figures["events"] >= 3_000
    kinds = figures["kinds"]
    for kind in ("commission", "ship", "receive", "sell", "register", "swap_battery", "retire", "recycle"):
        assert kinds.get(kind), kind
    with registry.reading() as uow:
        s = uow.session
        assert uow.log.size() == figures["events"]
        logged = dict(s.execute(select(LogEntry.kind, func.count()).group_by(LogEntry.kind)).all())
        assert logged["commission"] == kinds["commission"] == s.scalar(select(func.count()).select_from(Item))
        registered = s.scalar(select(func.count()).select_from(Item).where(Item.state == "registered"))
        assert registered >= figures["private_bikes"] > 0
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output


def test_a_batch_that_fails_half_way_leaves_nothing(registry):
    builder = make_city.Builder(registry, batch=500, progress=False)
    builder.grow_to(1_000)
    with registry.reading() as uow:
        size, items = uow.log.size(), uow.session.scalar(select(func.count()).select_from(Item))

    with pytest.raises(RuntimeError), registry.writing() as uow:
        uow.start_batch()
        builder.city.batch(uow, 300)  # commissions, ships, sells … none of it flushed per event
        raise RuntimeError("the machine stops before the batch commits")

    with registry.reading() as uow:
        assert uow.log.size() == size
        assert uow.session.scalar(select(func.count()).select_from(Item)) == items


def _kinds_agree(registry, figures) -> None:
    """Every step the generator counted is in the log once, and the log has no other steps of those kinds."""
    with registry.reading() as uow:
        logged = dict(uow.session.execute(select(LogEntry.kind, func.count()).group_by(LogEntry.kind)).all())
        assert uow.log.size() == figures["events"]
    assert {kind: logged.get(kind) for kind in figures["kinds"]} == figures["kinds"]


def test_a_resumable_city_stopped_before_a_batch_commits_carries_on_from_the_last_commit(registry, runner, tmp_path, monkeypatch):
    state = tmp_path / make_city.STATE
    builder = make_city.Builder(registry, batch=600, progress=False, state=state)
    builder.grow_to(1_800)
    committed = builder.size

    def stop(self):
        raise KeyboardInterrupt("the session ends before the batch commits")

    with monkeypatch.context() as m:
        m.setattr(UnitOfWork, "finish", stop)
        with pytest.raises(KeyboardInterrupt):
            builder.grow_to(3_000)
    assert state.with_name(state.name + ".new").exists()  # the stopped batch's picture, written before its commit

    resumed = make_city.Builder.resume(registry, state, progress=False)
    assert resumed.size == committed
    resumed.grow_to(3_000)
    figures = resumed.figures()
    assert figures["events"] >= 3_000
    _kinds_agree(registry, figures)
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output


def test_a_resumable_city_stopped_after_a_batch_committed_carries_on_from_that_batch(registry, tmp_path, monkeypatch):
    state = tmp_path / make_city.STATE
    builder = make_city.Builder(registry, batch=600, progress=False, state=state)
    builder.grow_to(1_200)

    def stop(src, dst):
        raise KeyboardInterrupt("the session ends between the commit and the rename")

    with monkeypatch.context() as m:
        m.setattr(make_city.os, "replace", stop)
        with pytest.raises(KeyboardInterrupt):
            builder.grow_to(2_400)
    with registry.reading() as uow:
        committed = uow.log.size()
    assert committed > builder.size  # the batch is in the log; the builder in memory never learnt it

    resumed = make_city.Builder.resume(registry, state, progress=False)
    assert resumed.size == committed
    assert state.exists() and not state.with_name(state.name + ".new").exists()
    resumed.grow_to(2_400)
    _kinds_agree(registry, resumed.figures())


def test_resume_refuses_a_picture_that_does_not_match_the_log(registry, tmp_path):
    state = tmp_path / make_city.STATE
    make_city.Builder(registry, batch=500, progress=False, state=state).grow_to(500)
    make_city.Builder.resume(registry, state, progress=False).grow_to(1_000)
    state.with_name(state.name + ".new").unlink(missing_ok=True)
    stale = tmp_path / "stale"
    stale.write_bytes(state.read_bytes())
    make_city.Builder.resume(registry, state, progress=False).grow_to(1_500)

    with pytest.raises(SystemExit, match="cannot resume"):
        make_city.Builder.resume(registry, stale, progress=False)


def test_a_city_built_from_the_command_line_resumes_from_a_program_that_imports_the_generator(tmp_path):
    import os
    import subprocess

    from registry.config import from_environment
    from registry.runtime import Registry

    script = Path(make_city.__file__)
    env = {**os.environ, "REGISTRY_INSTANCE": str(tmp_path)}
    env.pop("REGISTRY_DATABASE_URL", None)
    done = subprocess.run([sys.executable, str(script), "--events", "1200", "--batch", "600", "--resumable"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = tmp_path / "bench" / "city-1200"
    config = from_environment({"REGISTRY_INSTANCE": str(folder)})
    registry = Registry(config)
    try:
        resumed = make_city.Builder.resume(registry, folder / make_city.STATE, progress=False)
        resumed.grow_to(1_800)
        _kinds_agree(registry, resumed.figures())
    finally:
        registry.db.dispose()


@pytest.mark.skipif(ENGINE != "sqlite", reason="snapshots are copies of the SQLite file")
def test_snapshots_copy_the_city_at_each_size_as_a_log_that_verifies(registry):
    import sqlite3

    builder = make_city.Builder(registry, batch=400, progress=False, snapshots=[800])
    builder.grow_to(1_600)
    copy = Path(registry.db.engine.url.database).with_name("registry-800.db")
    conn = sqlite3.connect(copy)
    try:
        size = conn.execute("SELECT tree_size FROM log_head").fetchone()[0]
        assert size == conn.execute("SELECT count(*) FROM log_entries").fetchone()[0]
    finally:
        conn.close()
    assert 800 <= size < 800 + 400 < builder.size
    snapshot = Registry({**registry.config, "DATABASE_URL": f"sqlite:///{copy}"})
    try:
        with snapshot.reading() as uow:
            report = verify_log(uow.session, snapshot.hasher, snapshot.origin, snapshot.keys.by_id())
        assert report.ok and report.entries == size, report.findings
    finally:
        snapshot.db.dispose()
