"""The unit of work: one transaction, the log inside it, and the registry it belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from registry.store.log import LogStore

if TYPE_CHECKING:
    from registry.runtime import Registry


class UnitOfWork:
    """One database transaction; a writing one holds the append lock from its first statement."""

    def __init__(self, registry: "Registry", *, write: bool = False):
        self.registry = registry
        self.write = write
        self.session: Session | None = None
        self.log: LogStore | None = None
        #: In a batch, services' commits only flush; the batch commits once at the end.
        self.batch = False
        #: Called with the session just before the transaction commits (e.g. to
        #: record an Idempotency-Key in the same transaction as the write).
        self.before_commit: list = []

    def __enter__(self) -> "UnitOfWork":
        db = self.registry.db
        self.session = (db.write_sessions if self.write else db.read_sessions)()
        self.log = LogStore(
            self.session, self.registry.hasher, self.registry.origin, lambda: self.registry.keys.current
        )
        if self.write:
            # Taking the lock first means every rule a service checks sees the state
            # its event will be appended to: there is no check-then-act race.
            self.log.size(lock=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            # Whatever the service did not commit is undone. Objects it loaded stay
            # readable (detached, not expired) for the view that dumps them.
            self.session.expunge_all()
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        """Commit the transaction (in a batch: flush, and leave the commit to the batch)."""
        if self.batch:
            self.session.flush()
            return
        self.finish()

    def finish(self) -> None:
        """Sign a checkpoint for what a batch appended, run the hooks and commit for real."""
        if self.batch and self.log.size() != self._size_at_start:
            self.log.checkpoint()
        for hook in self.before_commit:
            hook(self.session)
        self.before_commit.clear()
        self.session.commit()

    def start_batch(self) -> None:
        """Make services' commits flush only and sign one checkpoint at the end."""
        self.batch = True
        self.log.sign_each = False
        self._size_at_start = self.log.size()

    def rollback(self) -> None:
        self.session.rollback()
