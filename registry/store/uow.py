"""The unit of work: one transaction, the log inside it, and the registry it belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from registry.store.log import LogStore
from registry.store.models import Item

if TYPE_CHECKING:
    from registry.runtime import Registry


class UnitOfWork:
    """One database transaction; a writing one holds the append lock from its first statement."""

    def __init__(self, registry: "Registry", *, write: bool = False, snapshot: bool = True):
        self.registry = registry
        self.write = write
        #: False: a read whose statements each stand alone (Database.statement_sessions).
        self.snapshot = snapshot or write
        self.session: Session | None = None
        self.log: LogStore | None = None
        #: In a batch, services' commits do nothing; the batch commits once at the end.
        self.batch = False
        #: Called with the session just before the transaction commits (e.g. to
        #: record an Idempotency-Key in the same transaction as the write).
        self.before_commit: list = []
        #: Reference facts (models, certificates, organisations, listings, approvals,
        #: open recalls) read in this unit of work: see registry.services.facts.
        self.facts: dict = {}

    def __enter__(self) -> "UnitOfWork":
        db = self.registry.db
        self.session = (db.write_sessions if self.write else db.read_sessions if self.snapshot else db.statement_sessions)()
        if self.write:
            # The identity map holds objects weakly: an item a batch touched and let go
            # would be read again by the next event naming it. Hold them (bounded).
            self.session.info[HOLD] = {}
        self.log = LogStore(
            self.session, self.registry.hasher, self.registry.origin, lambda: self.registry.keys.current,
            committed=getattr(self.registry, "committed_frontier", None),
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
        """Commit the transaction (in a batch: nothing yet, the batch commits once at its end).

        In a batch the ORM writes its changes out when something reads (autoflush, or an
        explicit flush before a Core read) or when the batch commits, not after every
        event: a flush per event cost a sixth of a batched event. Group commit flushes
        after each piece of work itself, so a refused write is known to be its own."""
        if self.batch:
            return
        self.finish()

    def finish(self) -> None:
        """Sign a checkpoint for what a batch appended, run the hooks and commit for real."""
        if self.batch:
            self.log.seal(self._size_at_start)
        self.log.write_pending()
        for hook in self.before_commit:
            hook(self.session)
        self.before_commit.clear()
        frontier = self.log.tail_frontier()
        self.session.commit()
        if self.log.committed is not None:
            self.log.committed.put(frontier)
        # Past the commit others may write: what was read under the lock is no longer known.
        self.facts.clear()

    def start_batch(self) -> None:
        """Make services' commits flush only and sign one checkpoint at the end."""
        self.batch = True
        self.log.sign_each = False
        self.log.buffered = True
        self._size_at_start = self.log.head()

    def rollback(self) -> None:
        self.session.rollback()
        self.facts.clear()


#: session.info key of the objects a writing unit of work keeps loaded: ``(class, key) -> object``.
HOLD = "yima.hold"
#: session.info flag: the held set was started afresh in this unit of work (a miss no longer proves absence).
HOLD_CLEARED = "yima.hold.cleared"
#: Past this many held objects the set starts afresh (a batch touches a few per event).
HOLD_LIMIT = 50_000


def hold(session: Session, obj, key: str | None = None) -> None:
    """Keep *obj* loaded for the rest of a writing unit of work (no-op elsewhere), under its class
    and *key* (its primary key; an item's subject by default). Every object of a class that
    :func:`load_held` reads must be held when it is added."""
    held = session.info.get(HOLD)
    if held is not None:
        if len(held) >= HOLD_LIMIT:
            held.clear()
            session.info[HOLD_CLEARED] = True
        held[(type(obj), obj.subject if key is None else key)] = obj


def held(session: Session, cls: type, key: str):
    """The object *key* of *cls* if this writing unit of work holds it (loaded, or added and not yet
    flushed), else None. ``session.get`` finds a pending object only by flushing and selecting it:
    a batch that commissions items and then ships them would do that for every one."""
    objects = session.info.get(HOLD)
    obj = objects.get((cls, key)) if objects else None
    if obj is None:
        return None
    state = inspect(obj)
    if state.pending or state.persistent:  # not expunged by a rollback, nor deleted (see unhold)
        return obj
    return None


def load_held(session: Session, cls: type, key: str):
    """The object *key* of *cls* (one whose new objects are all held when added): held, in the
    session's identity map, or selected by primary key **without flushing first**.

    Autoflush cannot change what that select returns: an object with unflushed changes is in the
    identity map (a dirty object is strongly referenced), and ``session.get`` returns it from
    there before any SQL. Only an object added and not yet flushed is found by flushing, and those
    are held. A miss therefore proves absence, unless the session holds nothing (not a writing unit
    of work) or the held set was started afresh: then a miss while the session has new objects
    flushes and looks again. In a batch this saves a flush per event: every event's reads used to
    write out the previous event's changes one statement at a time."""
    obj = held(session, cls, key)
    if obj is not None:
        return obj
    with session.no_autoflush:
        obj = session.get(cls, key)
    if obj is None and session.new and (session.info.get(HOLD) is None or session.info.get(HOLD_CLEARED)):
        obj = session.get(cls, key)
    return obj


def load_item(session: Session, subject: str) -> Item | None:
    """The item *subject* (:func:`load_held`: items are held when commissioned or created by a fold)."""
    return load_held(session, Item, subject)


def unhold(session: Session, subject: str) -> None:
    objects = session.info.get(HOLD)
    if objects:
        objects.pop((Item, subject), None)


@event.listens_for(Item, "load")
def _held_on_load(target: Item, context) -> None:
    hold(context.session, target)
