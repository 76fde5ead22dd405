"""bulk_append: batches of ordinary appends, one unit of work and one checkpoint each."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry.ledger import verify_checkpoint
from registry.ledger.tree import verify_inclusion
from registry.store.bulk import bulk_append
from registry.store.log import NewEvent
from registry.store.models import ChainLink, LogEntry, SignedCheckpoint
from registry.store.verify import verify_log

pytestmark = pytest.mark.db

N = 2500
VEHICLES = 40


def events(n, start=0):
    for i in range(start, start + n):
        subjects = [f"vehicle:{i % VEHICLES}"] + ([f"battery:{i % 7}"] if i % 3 == 0 else [])
        yield NewEvent("test", "bench", "bench", subjects, {"n": i})


def verify(registry):
    with registry.reading() as uow:
        return verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id())


def test_bulk_append_gives_dense_indexes_one_checkpoint_per_batch_and_a_valid_log(registry):
    seen = []
    assert bulk_append(registry, events(N), batch=1000, progress=seen.append) == N
    assert seen == [1000, 2000, 2500]
    with registry.reading() as uow:
        s = uow.session
        assert uow.log.size() == N
        assert list(s.execute(select(LogEntry.idx).order_by(LogEntry.idx)).scalars()) == list(range(N))
        sizes = list(s.execute(select(SignedCheckpoint.tree_size).order_by(SignedCheckpoint.tree_size)).scalars())
        assert sizes == [1000, 2000, 2500]
        assert uow.log.chain("vehicle:3") == list(range(3, N, VEHICLES))
        assert uow.log.chain("battery:0") == [i for i in range(N) if i % 3 == 0 and i % 7 == 0]
        assert s.execute(select(func.count()).select_from(ChainLink)).scalar() == N + len(range(0, N, 3))
        # the last checkpoint signs the stored root, and a stored proof reaches it
        cp = verify_checkpoint(uow.log.latest_checkpoint().note, [(registry.origin, registry.keys.current.public_key)])
        assert cp.size == N and cp.root_hash == uow.log.root(N)
        leaf, proof, root = uow.log.inclusion_proof(1234, N)
        verify_inclusion(registry.hasher, 1234, N, leaf, proof, cp.root_hash)
    report = verify(registry)
    assert report.ok, report.findings


def test_bulk_append_continues_a_log_and_chains_across_batches(registry):
    one = lambda n, start: (NewEvent("test", "bench", "bench", ["vehicle:A"], {"n": i}) for i in range(start, start + n))
    assert bulk_append(registry, one(5, 0), batch=2) == 5
    assert bulk_append(registry, one(7, 5), batch=10) == 7
    assert bulk_append(registry, iter(()), batch=10) == 0
    with registry.reading() as uow:
        assert uow.log.size() == 12
        assert uow.log.chain("vehicle:A") == list(range(12))
        for i in range(12):
            body = json.loads(uow.log.entry(i).body)
            assert body["data"] == {"n": i}
            assert body["prev"] == {"vehicle:A": i - 1 if i else None}
        sizes = list(uow.session.execute(select(SignedCheckpoint.tree_size).order_by(SignedCheckpoint.tree_size)).scalars())
        assert sizes == [2, 4, 5, 12]
    assert verify(registry).ok


def test_bulk_append_refuses_an_empty_batch_size(registry):
    with pytest.raises(ValueError):
        bulk_append(registry, events(1), batch=0)
