"""The stored log on SQLite and PostgreSQL: dense indexes, chains, proofs, triggers, tampering."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from registry.cli import alembic_config
from registry.config import normalise_database_url
from registry.ledger import canonical_bytes, verify_checkpoint
from registry.ledger.tree import Frontier, verify_consistency, verify_inclusion
from registry.store.log import NewEvent
from registry.store.verify import verify_log

pytestmark = pytest.mark.db


def append(registry, n, subjects=("vehicle:117322500000001",), commit_each=True):
    """Append n small events, one commit each (as services do)."""
    out = []
    for i in range(n):
        with registry.writing() as uow:
            out += uow.log.append([NewEvent("test", "org1", "user1", list(subjects), {"n": i})])
            uow.commit()
    return out


def verify(registry):
    with registry.reading() as uow:
        return verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id())


def raw_engine(registry):
    return create_engine(normalise_database_url(registry.db.url))


def drop_triggers(registry):
    from alembic import command

    registry.db.dispose()
    command.downgrade(alembic_config(registry.db.url), "0001")


def test_indexes_are_dense_and_chains_name_the_previous_event(registry):
    a = append(registry, 3, subjects=("vehicle:A", "battery:B"))
    b = append(registry, 1, subjects=("battery:B",))
    assert [x.index for x in a + b] == [0, 1, 2, 3]
    assert a[0].body["prev"] == {"vehicle:A": None, "battery:B": None}
    assert a[2].body["prev"] == {"vehicle:A": 1, "battery:B": 1}
    assert b[0].body["prev"] == {"battery:B": 2}
    with registry.reading() as uow:
        assert uow.log.chain("battery:B") == [0, 1, 2, 3]
        assert uow.log.chain("vehicle:A") == [0, 1, 2]


def test_a_rolled_back_append_issues_no_index(registry):
    append(registry, 2)
    with registry.writing() as uow:
        uow.log.append([NewEvent("test", None, None, [], {"n": "lost"})])
        uow.rollback()
    assert append(registry, 1)[0].index == 2


def test_appends_in_one_batch_reuse_the_tail_and_stay_exact(registry):
    """Many appends in one transaction (frontier and chain heads carried over) equal one-by-one appends."""
    append(registry, 3, subjects=("vehicle:A",))
    with registry.writing() as uow:
        uow.start_batch()
        got = []
        for i in range(40):
            subjects = ["vehicle:A"] + (["battery:B"] if i % 3 == 0 else []) + [f"charger:{i % 5}"]
            got += uow.log.append([NewEvent("test", "o", "u", subjects, {"i": i})])
            uow.commit()  # a flush in a batch
        uow.finish()
    assert [a.index for a in got] == list(range(3, 43))
    assert got[0].body["prev"] == {"vehicle:A": 2, "battery:B": None, "charger:0": None}
    assert got[3].body["prev"] == {"vehicle:A": 5, "battery:B": 3, "charger:3": None}
    assert got[5].body["prev"] == {"vehicle:A": 7, "charger:0": 3}
    with registry.reading() as uow:
        assert uow.log.chain("battery:B") == list(range(3, 43, 3))
        assert uow.log.root(43) == uow.log.latest_checkpoint().root_hash
    assert verify(registry).ok


def test_a_failed_append_in_a_batch_leaves_the_next_one_exact(registry):
    append(registry, 2, subjects=("vehicle:A",))
    with registry.writing() as uow:
        uow.start_batch()
        uow.log.append([NewEvent("test", "o", "u", ["vehicle:A"], {"i": 0})])
        with pytest.raises(ValueError):  # the second event has no canonical form: nothing of this call is written
            uow.log.append([NewEvent("test", "o", "u", ["vehicle:A", "battery:B"], {"i": 1}),
                            NewEvent("test", "o", "u", ["vehicle:A"], {"speed": 2.5})])
        [a] = uow.log.append([NewEvent("test", "o", "u", ["vehicle:A", "battery:B"], {"i": 2})])
        uow.finish()
    assert a.index == 3 and a.body["prev"] == {"vehicle:A": 2, "battery:B": None}
    assert verify(registry).ok


def test_an_append_after_a_savepoint_rollback_rereads_the_tail(registry):
    append(registry, 2, subjects=("vehicle:A",))
    with registry.writing() as uow:
        uow.log.append([NewEvent("test", "o", "u", ["vehicle:A"], {"i": 0})])
        savepoint = uow.session.begin_nested()
        uow.log.append([NewEvent("test", "o", "u", ["vehicle:A"], {"i": "undone"})])
        savepoint.rollback()
        [a] = uow.log.append([NewEvent("test", "o", "u", ["vehicle:A"], {"i": 1})])
        uow.commit()
    assert a.index == 3 and a.body["prev"] == {"vehicle:A": 2}
    assert verify(registry).ok


def test_stored_proofs_verify_against_every_signed_checkpoint(registry):
    appended = append(registry, 21, subjects=("vehicle:X",))
    with registry.reading() as uow:
        latest = uow.log.latest_checkpoint()
        cp = verify_checkpoint(latest.note, [(registry.origin, registry.keys.current.public_key)])
        assert cp.size == 21
        for a in appended:
            leaf, proof, root = uow.log.inclusion_proof(a.index, 21)
            assert leaf == registry.hasher.leaf(a.body_bytes) == a.leaf_hash
            verify_inclusion(registry.hasher, a.index, 21, leaf, proof, cp.root_hash)
        for first in range(1, 22):
            proof, r1, r2 = uow.log.consistency_proof(first, 21)
            assert r2 == cp.root_hash
            verify_consistency(registry.hasher, first, 21, r1, r2, proof)
    assert Frontier.at  # the stored frontier is what proofs use
    assert verify(registry).ok


def test_bodies_are_canonical_and_hold_no_floats(registry):
    [a] = append(registry, 1)
    assert canonical_bytes(json.loads(a.body_bytes)) == a.body_bytes
    with pytest.raises(ValueError):
        with registry.writing() as uow:
            uow.log.append([NewEvent("test", None, None, [], {"speed": 25.5})])


@pytest.mark.parametrize("table", ["log_entries", "log_nodes", "chain_links", "checkpoints"])
def test_the_database_refuses_update_and_delete_on_log_tables(registry, table):
    append(registry, 4, subjects=("vehicle:T",))
    engine = raw_engine(registry)
    column = {"log_entries": "kind", "log_nodes": "level", "chain_links": "subject", "checkpoints": "note"}[table]
    value = "'x'" if column != "level" else "9"
    for stmt in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as c:
                c.execute(text(stmt))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as c:
                c.execute(text(f"TRUNCATE {table} CASCADE"))
    engine.dispose()
    assert verify(registry).ok


# --- tampering, with the triggers dropped: verify-log must find it and say where ------


def _body(engine, idx):
    with engine.connect() as c:
        return bytes(c.execute(text("SELECT body FROM log_entries WHERE idx = :i"), {"i": idx}).scalar())


def _recompute_nodes(engine, registry):
    """What a careful forger does: rebuild every stored node from the (altered) leaves."""
    with engine.begin() as c:
        leaves = [bytes(h) for (h,) in c.execute(text("SELECT leaf_hash FROM log_entries ORDER BY idx"))]
        c.execute(text("DELETE FROM log_nodes"))
        f = Frontier(registry.hasher)
        rows = []
        for leaf in leaves:
            rows += [{"l": level, "i": i, "h": h} for level, i, h in f.append(leaf)]
        if rows:
            c.execute(text("INSERT INTO log_nodes (level, idx, hash) VALUES (:l, :i, :h)"), rows)


def _forge(body: bytes) -> bytes:
    event = json.loads(body)
    event["data"]["n"] = 999
    return canonical_bytes(event)


@pytest.fixture
def tampered(registry):
    append(registry, 12, subjects=("vehicle:V",))
    drop_triggers(registry)
    engine = raw_engine(registry)
    yield engine
    engine.dispose()


def first_bad(registry):
    report = verify(registry)
    assert not report.ok
    return report.first.index


def test_an_altered_body_is_found_at_its_index(registry, tampered):
    with tampered.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b WHERE idx = 5"), {"b": _forge(_body(tampered, 5))})
    assert first_bad(registry) == 5


def test_an_altered_body_with_its_leaf_and_nodes_recomputed_is_caught_by_the_checkpoint(registry, tampered):
    forged = _forge(_body(tampered, 7))
    with tampered.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = 7"),
                  {"b": forged, "h": registry.hasher.leaf(forged)})
    _recompute_nodes(tampered, registry)
    report = verify(registry)
    assert report.first.index == 7
    assert "checkpoint" in report.first.what


def test_a_deleted_entry_is_found(registry, tampered):
    with tampered.begin() as c:
        c.execute(text("DELETE FROM log_entries WHERE idx = 4"))
    assert first_bad(registry) == 4


def test_reordered_entries_are_found(registry, tampered):
    b3, b8 = _body(tampered, 3), _body(tampered, 8)
    with tampered.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = 3"), {"b": b8, "h": registry.hasher.leaf(b8)})
        c.execute(text("UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = 8"), {"b": b3, "h": registry.hasher.leaf(b3)})
    _recompute_nodes(tampered, registry)
    assert first_bad(registry) == 3


def test_an_inserted_entry_is_found(registry, tampered):
    forged = _forge(_body(tampered, 2))
    with tampered.begin() as c:
        # make room at index 2 by shifting the rest up, then slip the forged event in
        for idx in range(11, 1, -1):
            c.execute(text("UPDATE log_entries SET idx = :n WHERE idx = :o"), {"n": idx + 1, "o": idx})
        c.execute(
            text("INSERT INTO log_entries (idx, leaf_hash, body, event_id, kind, recorded_at) "
                 "SELECT 2, :h, :b, 'forged-event', kind, recorded_at FROM log_entries WHERE idx = 3"),
            {"h": registry.hasher.leaf(forged), "b": forged},
        )
        c.execute(text("UPDATE log_head SET tree_size = 13"))
    _recompute_nodes(tampered, registry)
    assert first_bad(registry) == 2


def test_an_entry_appended_behind_the_logs_back_is_found(registry, tampered):
    forged = _forge(_body(tampered, 11))
    with tampered.begin() as c:
        c.execute(
            text("INSERT INTO log_entries (idx, leaf_hash, body, event_id, kind, recorded_at) "
                 "SELECT 12, :h, :b, 'forged-tail', kind, recorded_at FROM log_entries WHERE idx = 11"),
            {"h": registry.hasher.leaf(forged), "b": forged},
        )
    _recompute_nodes(tampered, registry)
    assert first_bad(registry) == 11 or first_bad(registry) == 12


def test_a_truncated_log_is_found(registry, tampered):
    with tampered.begin() as c:
        c.execute(text("DELETE FROM chain_links WHERE idx >= 9"))
        c.execute(text("DELETE FROM log_entries WHERE idx >= 9"))
        c.execute(text("UPDATE log_head SET tree_size = 9"))
    _recompute_nodes(tampered, registry)
    report = verify(registry)
    assert report.first.index == 9 and "truncated" in report.first.what


def test_verify_log_command_exits_1_and_names_the_index(registry, tampered, runner):
    with tampered.begin() as c:
        c.execute(text("UPDATE log_entries SET body = :b WHERE idx = 6"), {"b": _forge(_body(tampered, 6))})
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 1
    assert "first bad index 6" in result.output


def test_verify_log_command_passes_on_an_intact_log(registry, runner):
    append(registry, 5)
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output


# --- concurrency -----------------------------------------------------------------------


@pytest.mark.slow
def test_eight_concurrent_writers_end_with_dense_indexes_and_valid_chains(registry):
    errors = []

    def writer(k):
        try:
            for i in range(500):
                with registry.writing() as uow:
                    uow.log.append([NewEvent("test", f"org{k}", "u", ["vehicle:shared", f"writer:{k}"], {"k": k, "i": i})])
                    uow.commit()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with registry.reading() as uow:
        assert uow.log.size() == 4000
        assert uow.log.chain("vehicle:shared") == list(range(4000))
        for k in range(8):
            assert len(uow.log.chain(f"writer:{k}")) == 500
    report = verify(registry)
    assert report.ok, report.findings
