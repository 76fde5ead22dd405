"""The instance's signing keys: created on first run, rotated, old public keys kept."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from registry.ledger import SigningKey


class KeyRing:
    """The current Ed25519 signing key and every public key ever used, kept in the instance folder.

    The private key lives at ``path``; ``keys.json`` beside it lists every key's
    public half, so signatures made before a rotation stay verifiable.
    """

    def __init__(self, path: str | Path, name: str):
        self.path = Path(path)
        self.name = name
        self.index_path = self.path.parent / "public-keys.json"
        self._lock = threading.Lock()
        self._current: SigningKey | None = None

    @property
    def current(self) -> SigningKey:
        """Return the signing key, creating it on first use."""
        if self._current is None:
            with self._lock:
                if self._current is None:
                    if not self.path.exists():
                        try:
                            SigningKey.generate(self.name).save(self.path)
                        except FileExistsError:  # another process created it first
                            pass
                    key = SigningKey.load(self.path, self.name)
                    self._remember(key)
                    self._current = key
        return self._current

    def _read_index(self) -> list[dict]:
        if self.index_path.exists():
            return json.loads(self.index_path.read_text())
        return []

    def _remember(self, key: SigningKey) -> None:
        keys = self._read_index()
        if any(k["key_id"] == key.key_id and k["name"] == key.name for k in keys):
            return
        keys.append(
            {
                "key_id": key.key_id,
                "name": key.name,
                "algorithm": "ed25519",
                "public_key": key.public_key.hex(),
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        )
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(keys, indent=1))
        tmp.replace(self.index_path)

    def public_keys(self) -> list[dict]:
        """Return every public key, current last: ``{key_id, name, algorithm, public_key (hex)}``."""
        self.current
        return self._read_index()

    def by_id(self) -> dict[str, bytes]:
        """Return ``key_id -> raw public key`` for every key ever used."""
        return {k["key_id"]: bytes.fromhex(k["public_key"]) for k in self.public_keys()}

    def rotate(self) -> SigningKey:
        """Retire the current key (its public half stays listed) and start a new one."""
        with self._lock:
            old = self.current
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            self.path.replace(self.path.with_name(f"{self.path.stem}.{old.key_id}.{stamp}.retired"))
            new = SigningKey.generate(self.name)
            new.save(self.path)
            self._remember(new)
            self._current = new
            return new
