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
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
