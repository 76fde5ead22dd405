"""Grow a log fast: append many events in batches, one unit of work and one checkpoint each.

For benchmarks and the city generator. Every batch goes through the ordinary
``LogStore.append`` (same lock, same bodies, same stored nodes and chains), so a
bulk-grown log is indistinguishable from one grown by services, except that
checkpoints are signed once per batch rather than once per event.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Callable, Iterable

from registry.store.log import NewEvent

if TYPE_CHECKING:
    from registry.runtime import Registry


def bulk_append(
    registry: "Registry",
    make_events: Iterable[NewEvent],
    batch: int = 10000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append every event of *make_events* in batches of *batch*; return how many were appended.

    Each batch is one write unit of work: it takes the append lock once, writes
    its entries, nodes and chain links, signs one checkpoint and commits. A
    failing batch rolls back alone; the batches before it stay committed.
    *progress*, if given, is called with the running total after each commit.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    events = iter(make_events)
    total = 0
    while True:
        chunk = list(islice(events, batch))
        if not chunk:
            return total
        with registry.writing() as uow:
            uow.log.append(chunk)
            uow.commit()
        total += len(chunk)
        if progress is not None:
            progress(total)
