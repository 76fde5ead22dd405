"""Group commit (registry.store.group): concurrent single writes of one process share a transaction.

What a caller relies on: its event is committed before it gets an answer; a piece
of work that fails leaves nothing, whatever the others did; the others are not
affected; indexes stay dense and chains stay linked; one checkpoint per group.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from registry.domain.errors import DomainError, conflict
from registry.services.recording import record
from registry.store.models import ChainLink, SignedCheckpoint
from registry.store.verify import verify_log

pytestmark = pytest.mark.db


def note(uow, subject: str, n: int):
    return record(uow, None, "test_note", [subject], {"n": n})


def size_of(registry) -> int:
    with registry.reading() as uow:
        return uow.log.size()


def test_concurrent_writes_share_transactions_and_each_answer_is_committed(registry):
    before = size_of(registry)
    group = registry.group
    results: dict[int, object] = {}
    seen_committed: dict[int, bool] = {}
    gate = threading.Event()

    def work_for(n: int):
        def work(uow):
            if n == 0:
                gate.set()
                time.sleep(0.3)  # the others queue behind the first group meanwhile
            appended = note(uow, f"test:{n % 5}", n)
            if n % 4 == 3:
                raise conflict("test_refused", "拒绝", "refused after writing")
            return appended
        return work

    def caller(n: int):
        if n:
            gate.wait(5)
        try:
            appended = group.run(work_for(n))
        except DomainError as err:
            results[n] = err
            return
        results[n] = appended
        with registry.reading() as uow:  # the answer came after the commit
            seen_committed[n] = uow.log.entry(appended.index) is not None

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    ok = {n: a for n, a in results.items() if not isinstance(a, DomainError)}
    refused = [n for n, a in results.items() if isinstance(a, DomainError)]
    assert sorted(refused) == [n for n in range(24) if n % 4 == 3]
    assert all(seen_committed[n] for n in ok)
    assert sorted(a.index for a in ok.values()) == list(range(before, before + len(ok)))
    assert size_of(registry) == before + len(ok)
    assert max(group.sizes) > 1, group.sizes  # the queued writes went in together
    with registry.reading() as uow:
        # refused work left no entry and no chain link
        notes = [e for e in range(before, before + len(ok)) if uow.log.entry(e).kind == "test_note"]
        assert len(notes) == len(ok)
        for s in range(5):
            seqs = list(uow.session.scalars(select(ChainLink.seq).where(ChainLink.subject == f"test:{s}").order_by(ChainLink.seq)))
            assert seqs == list(range(len(seqs)))
        # one checkpoint per group, the last one covering everything
        signed = uow.session.scalar(select(func.count()).select_from(SignedCheckpoint).where(SignedCheckpoint.tree_size > before))
        assert signed <= len(group.sizes)
        assert uow.log.latest_checkpoint().tree_size == before + len(ok)
        report = verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id())
    assert report.ok, report.findings


def test_a_refused_write_does_not_bend_the_chain_of_the_next(registry):
    """A write that failed after appending to a subject leaves no link: the next one is seq 0."""
    group = registry.group
    done = []

    def failing(uow):
        note(uow, "test:chain", 1)
        raise conflict("test_refused", "拒绝", "refused after writing")

    with pytest.raises(DomainError):
        group.run(failing)
    done.append(group.run(lambda uow: note(uow, "test:chain", 2)))
    assert done[0].body["prev"] == {"test:chain": None}
    with registry.reading() as uow:
        assert uow.log.chain("test:chain") == [done[0].index]


def test_an_unexpected_error_in_one_piece_of_work_reaches_only_its_caller(registry):
    group = registry.group
    before = size_of(registry)

    def broken(uow):
        note(uow, "test:broken", 1)
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        group.run(broken)
    a = group.run(lambda uow: note(uow, "test:fine", 2))
    assert a.index == before
    assert size_of(registry) == before + 1


def test_a_batch_reads_its_own_buffered_appends(registry):
    """In a batch the log's rows are written in one go, yet every read in it sees them."""
    from registry.store.models import LogEntry

    with registry.writing() as uow:
        uow.start_batch()
        a = note(uow, "test:buffered", 1)
        b = note(uow, "test:buffered", 2)
        # ORM reads of log tables, the log store's own reads
        assert uow.session.get(LogEntry, b.index).kind == "test_note"
        assert list(uow.session.scalars(select(ChainLink.idx).where(ChainLink.subject == "test:buffered")
                                        .order_by(ChainLink.seq))) == [a.index, b.index]
        c = note(uow, "test:buffered", 3)
        assert uow.log.chain("test:buffered") == [a.index, b.index, c.index]
        assert uow.log.size() == c.index + 1
        # a savepoint would make the buffer unsafe: refused, nothing half-written
        with pytest.raises(RuntimeError):
            with uow.session.begin_nested():
                note(uow, "test:buffered", 4)
        d = note(uow, "test:buffered", 5)
        assert d.index == c.index + 1 and d.body["prev"] == {"test:buffered": c.index}
        uow.finish()
    with registry.reading() as uow:
        assert uow.log.chain("test:buffered") == [a.index, b.index, c.index, d.index]
        assert uow.log.latest_checkpoint().tree_size == d.index + 1
        assert verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id()).ok
