"""verify_log's bulk pass on SQLite and PostgreSQL: it passes intact logs by itself, and whatever it
does not pass is located by the exact pass at the index the change concerns.

Chunks are made small here (monkeypatched CHUNK) so that a dozen entries span several of them.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from registry.cli import alembic_config
from registry.config import normalise_database_url
from registry.ledger import canonical_bytes
from registry.ledger.tree import Frontier
from registry.store import verify as verify_module
from registry.store.bulk import bulk_append
from registry.store.log import NewEvent
from registry.store.verify import verify_log

pytestmark = pytest.mark.db

SUBJECTS = [["vehicle:A"], ["vehicle:A", "battery:B"], [], ["battery:B", "charger:C\u00e9"], ["vehicle:A", "vehicle:\u4e00"]]
DATA = [{"n": 1}, {"note": 'quote " backslash \\ newline \n tab \t nul \x00 \u2028 \u7535\u52a8\u8f66'},
        {"parts": [{"sku": "P-1", "qty": 2}, {"sku": "P-2", "qty": -1}], "z": None, "a": True}, {}, {"deep": {"deeper": [[], {}, ""]}}]


def keys(registry):
    return [(registry.origin, pub) for pub in registry.keys.by_id().values()]


WORKERS = {"n": 1}


@pytest.fixture(autouse=True, params=[1, 2], ids=["here", "2 workers"])
def workers(request, monkeypatch):
    """Every test twice: the bulk pass's chunks checked in this process, and by two worker
    processes reading on their own connections."""
    monkeypatch.setitem(WORKERS, "n", request.param)
    return request.param


def verify(registry):
    with registry.reading() as uow:
        return verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id(), workers=WORKERS["n"])


def bulk_verdict(registry):
    with registry.reading() as uow:
        return verify_module._bulk(uow.session, registry.hasher, keys(registry), None, WORKERS["n"])


def append_each(registry, n, start=0):
    """n events, one commit (and one signed checkpoint) each."""
    for i in range(start, start + n):
        with registry.writing() as uow:
            uow.log.append([NewEvent("test", "org1" if i % 2 else None, "user1", SUBJECTS[i % len(SUBJECTS)],
                                     {**DATA[i % len(DATA)], "i": i})])
            uow.commit()


@pytest.fixture(params=[1, 2, 4, 8, 1 << 14])
def chunk(request, monkeypatch):
    monkeypatch.setattr(verify_module, "CHUNK", request.param)
    return request.param


def test_an_intact_log_passes_the_bulk_pass_alone(registry, chunk):
    assert bulk_verdict(registry).ok  # the empty log
    append_each(registry, 13)
    bulk_append(registry, (NewEvent("test", "o", "u", SUBJECTS[i % 5], {"b": i}) for i in range(11)), batch=4)
    append_each(registry, 2, start=100)
    report = bulk_verdict(registry)
    assert report is not None and report.ok and report.entries == 26
    assert verify(registry).ok


def test_progress_adds_up_to_the_entries_once(registry, chunk, monkeypatch):
    append_each(registry, 9)
    seen = []
    with registry.reading() as uow:
        verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id(), progress=seen.append)
    assert sum(seen) == 9


# --- tampering -------------------------------------------------------------------------------


def raw_engine(registry):
    return create_engine(normalise_database_url(registry.db.url))


def drop_triggers(registry):
    from alembic import command

    registry.db.dispose()
    command.downgrade(alembic_config(registry.db.url), "0001")


def recompute_nodes(c, registry):
    leaves = [bytes(h) for (h,) in c.execute(text("SELECT leaf_hash FROM log_entries ORDER BY idx"))]
    c.execute(text("DELETE FROM log_nodes"))
    f = Frontier(registry.hasher)
    rows = []
    for leaf in leaves:
        rows += [{"l": level, "i": i, "h": h} for level, i, h in f.append(leaf)]
    if rows:
        c.execute(text("INSERT INTO log_nodes (level, idx, hash) VALUES (:l, :i, :h)"), rows)


@pytest.fixture
def log12(registry, monkeypatch):
    """Twelve events, a checkpoint after each, triggers dropped; CHUNK 4."""
    monkeypatch.setattr(verify_module, "CHUNK", 4)
    append_each(registry, 12)
    drop_triggers(registry)
    engine = raw_engine(registry)
    with engine.connect() as c:
        bodies = [bytes(b) for (b,) in c.execute(text("SELECT body FROM log_entries ORDER BY idx"))]
    yield engine, bodies
    engine.dispose()


def first_bad(registry) -> int:
    assert bulk_verdict(registry) is None
    report = verify(registry)
    assert not report.ok
    return report.first.index


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_byte_alteration_of_any_body_is_located_at_its_index(registry, log12, data):
    engine, bodies = log12
    idx = data.draw(st.integers(0, len(bodies) - 1), label="index")
    body = bodies[idx]
    at = data.draw(st.integers(0, len(body) - 1), label="offset")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[at]), label="byte")
    rehash = data.draw(st.booleans(), label="leaf and nodes recomputed")
    forged = body[:at] + bytes([byte]) + body[at + 1:]
    try:
        with engine.begin() as c:
            if rehash:
                c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                          {"b": forged, "h": registry.hasher.leaf(forged), "i": idx})
                recompute_nodes(c, registry)
            else:
                c.execute(text("UPDATE log_entries SET body = :b WHERE idx = :i"), {"b": forged, "i": idx})
        assert first_bad(registry) == idx
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                      {"b": body, "h": registry.hasher.leaf(body), "i": idx})
            if rehash:
                recompute_nodes(c, registry)
    assert bulk_verdict(registry).ok


def _node(c, level, idx):
    return bytes(c.execute(text("SELECT hash FROM log_nodes WHERE level = :l AND idx = :i"), {"l": level, "i": idx}).scalar())


TAMPERING = {
    # name: (SQL statements, index the first finding names)
    "a stored node changed": (["UPDATE log_nodes SET hash = :zero WHERE level = 1 AND idx = 3"], 7),
    "a stored node deleted": (["DELETE FROM log_nodes WHERE level = 2 AND idx = 1"], 7),
    "a stray node beyond the log": (["INSERT INTO log_nodes (level, idx, hash) VALUES (1, 6, :zero)"], 12),
    "a chain link deleted": (["DELETE FROM chain_links WHERE idx = 6 AND subject = 'vehicle:A'"], 6),
    "a chain link renumbered": (["UPDATE chain_links SET seq = seq + 100 WHERE idx = 8 AND subject = 'battery:B'"], 8),
    "a chain link moved to another event": (["UPDATE chain_links SET idx = 9 WHERE idx = 5 AND subject = 'vehicle:A'"], 5),
    # vehicle:A's links 2 and 3 (indexes 4 and 5) swapped: same rows per index, but link 3 lies
    # before link 2 and index 4's body names index 1, not 5
    "two links of a chain swapped": (["UPDATE chain_links SET idx = CASE idx WHEN 4 THEN 5 ELSE 4 END "
                                      "WHERE subject = 'vehicle:A' AND seq IN (2, 3)"], 4),
    "a chain link beyond the log": (["INSERT INTO chain_links (subject, seq, idx) VALUES ('vehicle:Z', 0, 40)"], 40),
    "a checkpoint's root changed": (["UPDATE checkpoints SET root_hash = :zero WHERE tree_size = 4"], 3),
    "the log head moved back": (["UPDATE log_head SET tree_size = 11"], 11),
    "the last checkpoint deleted": (["DELETE FROM checkpoints WHERE tree_size = 12"], 11),
}


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_with_the_other_tables_is_located(registry, log12, name):
    engine, _ = log12
    statements, where = TAMPERING[name]
    with engine.begin() as c:
        for sql in statements:
            c.execute(text(sql), {"zero": bytes(32)})
    assert first_bad(registry) == where


def test_a_body_made_non_canonical_but_signed_is_found_at_its_index(registry, log12):
    """A body with its leaf, nodes and every later checkpoint re-signed: only the canonical check can tell."""
    engine, bodies = log12
    event = json.loads(bodies[4])
    forged = json.dumps(event, sort_keys=True, separators=(", ", ":"), ensure_ascii=False).encode()  # a space after commas
    assert forged != canonical_bytes(event)
    with engine.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = 4"), {"b": forged, "h": registry.hasher.leaf(forged)})
        recompute_nodes(c, registry)
        c.execute(text("DELETE FROM checkpoints"))
    with registry.writing() as uow:
        uow.log.checkpoint()  # the registry's own key signs the forged tree
        uow.commit()
    report = verify(registry)
    assert bulk_verdict(registry) is None
    assert report.first.index == 4 and "canonical" in report.first.what


def resign(registry, engine, idx, forged):
    """Store *forged* at *idx* with its leaf, the nodes and a fresh checkpoint all made to match."""
    with engine.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                  {"b": forged, "h": registry.hasher.leaf(forged), "i": idx})
        recompute_nodes(c, registry)
        c.execute(text("DELETE FROM checkpoints"))
    with registry.writing() as uow:
        uow.log.checkpoint()
        uow.commit()


def test_a_chain_pointer_written_as_true_is_not_taken_for_index_1(registry, log12):
    """vehicle:A's event at 4 names index 1; ``true`` is canonical JSON and equals 1 in Python."""
    engine, bodies = log12
    assert b'"vehicle:A":1' in bodies[4]
    forged = bodies[4].replace(b'"vehicle:A":1', b'"vehicle:A":true')
    assert canonical_bytes(json.loads(forged)) == forged
    resign(registry, engine, 4, forged)
    report = verify(registry)
    assert bulk_verdict(registry) is None
    assert report.first.index == 4 and "vehicle:A broken" in report.first.what and "true" in report.first.what


def test_a_chain_rewritten_out_of_order_is_found(registry, log12):
    """vehicle:A's events at 4 and 5 swapped on its chain, bodies and links agreeing: link 2 at
    index 5 names index 1, link 3 at index 4 names index 5 (a later event), link 4 at 6 names 4."""
    engine, bodies = log12
    with engine.begin() as c:
        c.execute(text("UPDATE chain_links SET idx = CASE idx WHEN 4 THEN 5 ELSE 4 END WHERE subject = 'vehicle:A' AND seq IN (2, 3)"))
        for idx, was, now in ((5, b'"vehicle:A":4', b'"vehicle:A":1'), (6, b'"vehicle:A":5', b'"vehicle:A":4')):
            assert was in bodies[idx]
            forged = bodies[idx].replace(was, now)
            c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                      {"b": forged, "h": registry.hasher.leaf(forged), "i": idx})
    resign(registry, engine, 4, bodies[4].replace(b'"vehicle:A":1', b'"vehicle:A":5'))
    assert bulk_verdict(registry) is None
    report = verify(registry)
    assert report.first.index == 4 and "vehicle:A broken" in report.first.what


def test_an_sm3_log_passes_the_bulk_pass_and_an_altered_body_is_located(db_url, tmp_path, monkeypatch):
    from registry import create_app

    monkeypatch.setattr(verify_module, "CHUNK", 2)
    app = create_app({"DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "i"), "SIGNING_KEY": str(tmp_path / "i/k.pem"),
                      "PUBLIC_URL": "http://sm3.test", "LOG_ORIGIN": "", "HASH": "sm3", "SECRET_KEY": "x"})
    reg = app.extensions["registry"]
    assert reg.hasher.name == "sm3"
    append_each(reg, 8)
    report = bulk_verdict(reg)
    assert report is not None and report.ok and report.entries == 8
    drop_triggers(reg)
    engine = raw_engine(reg)
    with engine.begin() as c:
        body = bytes(c.execute(text("SELECT body FROM log_entries WHERE idx = 6")).scalar())
        c.execute(text("UPDATE log_entries SET body = :b WHERE idx = 6"), {"b": body.replace(b'"i":6', b'"i":7')})
    engine.dispose()
    assert first_bad(reg) == 6
    reg.db.dispose()
