"""scripts/make_city.py: a city written through the services in batches is a log like any other.

A batch defers the ORM's writes to the next read or to its commit (``UnitOfWork.commit``) and
finds the items it commissioned without flushing (``held_item``): the projections it leaves must
still be the fold of its log, and the log must verify.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.store.models import Item, LogEntry

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
