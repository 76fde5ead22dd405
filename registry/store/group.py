"""Group commit: the single writes of concurrent requests in one process share a transaction.

Every write holds the append lock from its first statement to its commit, so
writes are serial and each pays a commit (an fsync) and a checkpoint signature
of its own. Under load that bounds the rate at one write per commit. Here the
requests of one process (gunicorn's threads) queue their work; one of them, the
leader, takes the lock once, runs the pieces of work one after the other, signs
one checkpoint and commits once. Should one fail (a refused event), the
transaction is undone and the group runs again without it, each piece in a
savepoint of its own: a failed piece leaves nothing, the others are not affected,
and savepoints cost nothing while nothing fails. Only then does any of them answer: an acknowledged
event is durable. The other processes' leaders wait for the lock meanwhile, and
their queues grow, so batches grow with the load and stay at one when idle.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

from registry.store.uow import UnitOfWork

if TYPE_CHECKING:
    from registry.runtime import Registry

T = TypeVar("T")

#: The most pieces of work one transaction takes (the first request waits for all of them).
MAX_GROUP = 64


class _Job(Generic[T]):
    __slots__ = ("work", "value", "error", "done", "lead")

    def __init__(self, work: Callable[[UnitOfWork], T]):
        self.work = work
        self.value: T | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """Run ``work(uow)`` for concurrent callers in shared writing units of work."""

    def __init__(self, registry: "Registry", max_group: int = MAX_GROUP):
        self.registry = registry
        self.max_group = max_group
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._leading = False
        #: Sizes of the groups committed (for tests and the benchmark), most recent last.
        self.sizes: list[int] = []

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run *work* in a savepoint of a writing unit of work; return its value once committed.

        *work* must not commit; it sees the state every earlier piece of its group
        left. Its exception is raised here, after its savepoint rolled back.
        """
        job: _Job[T] = _Job(work)
        with self._cond:
            self._queue.append(job)
            while self._leading and not job.done and not job.lead:
                self._cond.wait()
            if job.done:
                return job.outcome()
            self._leading = True
        try:
            while not job.done:
                with self._cond:
                    group = self._queue[: self.max_group]
                    del self._queue[: self.max_group]
                self._commit(group)
        finally:
            with self._cond:
                if self._queue:
                    self._queue[0].lead = True
                else:
                    self._leading = False
                self._cond.notify_all()
        return job.outcome()

    def _commit(self, group: list[_Job]) -> None:
        try:
            # Optimistic first: no savepoints (two round trips an event). A failure
            # undoes the whole transaction; the group then runs again without the
            # failed work, each piece in a savepoint, so a group runs at most twice.
            if not self._attempt(group, savepoints=False):
                self._attempt([job for job in group if job.error is None], savepoints=True)
            self.sizes.append(len(group))
            del self.sizes[:-1000]
        except BaseException as exc:
            # Nothing of the group was committed: every piece of work fails with it.
            for job in group:
                if job.error is None:
                    job.value, job.error = None, exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for job in group:
                job.done = True

    def _attempt(self, jobs: list[_Job], *, savepoints: bool) -> bool:
        """Run *jobs* in one writing unit of work and commit; False (nothing committed) if one
        failed without a savepoint to roll back to."""
        with self.registry.writing() as uow:
            uow.start_batch()
            uow.log.buffered = not savepoints  # a buffered log does not append in savepoints
            for job in jobs:
                savepoint = uow.session.begin_nested() if savepoints else None
                try:
                    job.value = job.work(uow)
                    uow.session.flush()
                except Exception as exc:
                    job.value, job.error = None, exc
                    if savepoint is None:
                        return False  # leaving the unit of work rolls it all back
                    savepoint.rollback()
                    uow.facts.clear()
                else:
                    if savepoint is not None:
                        savepoint.commit()
            if not jobs:
                return True
            uow.finish()
        return True
