"""scripts/bench.py copies a city built on SQLite into PostgreSQL to trace the same city on both engines.

The copy must be the same log (it verifies, to the same root) and answer a trace exactly as the
original does; only then are the two engines' trace figures comparable. PostgreSQL lane only.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from registry.cli import upgrade
from registry.config import normalise_database_url
from registry.services.trace import trace
from registry.store.models import Item
from registry.store.verify import verify_log

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import bench  # noqa: E402
import make_city  # noqa: E402

PG_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "")
pytestmark = [pytest.mark.db, pytest.mark.skipif(not PG_URL, reason="the copy goes into the PostgreSQL lane's server")]


def test_a_city_copied_into_postgresql_is_the_same_log_and_traces_the_same(tmp_path):
    folder = tmp_path / "city"
    folder.mkdir()
    upgrade(f"sqlite:///{folder / 'registry.db'}")
    original = bench.prebuilt_registry(folder, folder / "registry.db")  # as make_city opens a city, and bench reopens it
    name = f"yima_copy_{os.getpid()}"
    copy = None
    try:
        builder = make_city.Builder(original, batch=500, progress=False)
        builder.grow_to(1_500)
        actor = builder.city.actors["investigator"][0]
        url = bench.copy_city_to_pg(folder / "registry.db", PG_URL, name)
        copy = bench.prebuilt_registry(folder, folder / "registry.db", url=url)
        assert not copy.db.is_sqlite

        with original.reading() as a, copy.reading() as b:
            ra = verify_log(a.session, original.hasher, original.origin, original.keys.by_id())
            rb = verify_log(b.session, copy.hasher, copy.origin, copy.keys.by_id())
            assert ra.ok and rb.ok, rb.findings
            assert (rb.entries, b.log.latest_checkpoint().root_hash) == (ra.entries, a.log.latest_checkpoint().root_hash)
            subjects = sorted(a.session.scalars(select(Item.subject)))
            assert sorted(b.session.scalars(select(Item.subject))) == subjects
        for subject in random.Random(5).sample(subjects, 12):
            ident = subject.split(":", 1)[1]
            with original.reading() as a, copy.reading() as b:
                assert trace(b, actor, ident) == trace(a, actor, ident), subject
    finally:
        original.db.dispose()
        if copy is not None:
            copy.db.dispose()
        admin = create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
