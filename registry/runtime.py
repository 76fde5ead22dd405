"""The registry's runtime: database, keys, hash and origin, usable with or without Flask."""

from __future__ import annotations

from pathlib import Path

from registry.config import from_environment, log_origin
from registry.keys import KeyRing
from registry.ledger.hashing import hasher_for
from registry.store.db import Database
from registry.store.group import GroupCommit
from registry.store.log import CommittedFrontier
from registry.store.uow import UnitOfWork


class Registry:
    """Everything a service needs besides its command: built once per app or script."""

    def __init__(self, config: dict, db: Database | None = None):
        self.config = config
        self.instance_path = Path(config["INSTANCE_PATH"])
        self.instance_path.mkdir(parents=True, exist_ok=True)
        self.public_url = config["PUBLIC_URL"].rstrip("/")
        self.hasher = hasher_for(config["HASH"])
        self.origin = log_origin(self.public_url, config.get("LOG_ORIGIN", ""), config["HASH"])
        self.keys = KeyRing(config["SIGNING_KEY"], self.origin)
        self._vault = None
        #: Concurrent single writes of this process share transactions (registry.store.group).
        self.group = GroupCommit(self)
        #: The frontier of the last tree this process committed (registry.store.log).
        self.committed_frontier = CommittedFrontier()
        #: The other regions' logs (registry.regions), when the configuration names a directory.
        self.peers = None
        if config.get("REGIONS"):
            from registry.regions import Directory, Peers

            self.peers = Peers(Directory.load(config["REGIONS"]), self.origin)
        self.db = db or Database(config["DATABASE_URL"])
        if self.db.engine is None:
            self.db.configure(config["DATABASE_URL"])

    @classmethod
    def from_environment(cls, **overrides) -> "Registry":
        config = from_environment()
        config.update(overrides)
        return cls(config)

    @property
    def vault(self):
        """Return the owner vault (keys created in the instance folder on first use)."""
        if self._vault is None:
            from registry.services.vault import Vault

            self._vault = Vault(self.instance_path)
        return self._vault

    def reading(self, snapshot: bool = True) -> UnitOfWork:
        """Return a read-only unit of work.

        ``snapshot=False``: its statements need not see one snapshot, because what the later
        ones read was fixed by what the earlier ones found (a proof for a tree size the head
        row covers reads nodes that never change). On PostgreSQL it then runs without a
        transaction: two round trips fewer.
        """
        return UnitOfWork(self, write=False, snapshot=snapshot)

    def writing(self) -> UnitOfWork:
        """Return a unit of work that holds the append lock."""
        return UnitOfWork(self, write=True)
