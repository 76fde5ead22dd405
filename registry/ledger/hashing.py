"""RFC 9162 §2.1 hashing with SHA-256 or SM3 (GB/T 32905)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

ALGORITHMS = ("sha256", "sm3")


@dataclass(frozen=True)
class Hasher:
    """Leaf and node hashing of one algorithm."""

    name: str
    _new: Callable[[], "hashlib._Hash"]

    def leaf(self, data: bytes) -> bytes:
        """Hash a leaf: H(0x00 || data)."""
        h = self._new()
        h.update(b"\x00")
        h.update(data)
        return h.digest()

    def node(self, left: bytes, right: bytes) -> bytes:
        """Hash an interior node: H(0x01 || left || right)."""
        h = self._new()
        h.update(b"\x01")
        h.update(left)
        h.update(right)
        return h.digest()

    def empty(self) -> bytes:
        """Return the root of the empty tree: H()."""
        return self._new().digest()

    @property
    def size(self) -> int:
        return self._new().digest_size


def _sm3():
    return hashlib.new("sm3")


SHA256 = Hasher("sha256", hashlib.sha256)
SM3 = Hasher("sm3", _sm3)


def hasher_for(name: str) -> Hasher:
    """Return the hasher called *name* (``sha256`` or ``sm3``)."""
    if name == "sha256":
        return SHA256
    if name == "sm3":
        try:
            hashlib.new("sm3")
        except ValueError as exc:  # OpenSSL built without SM3
            raise ValueError("this Python's OpenSSL has no SM3") from exc
        return SM3
    raise ValueError(f"unknown hash algorithm {name!r}; use one of {ALGORITHMS}")


def hasher_for_origin(origin: str) -> Hasher:
    """Return the hasher an origin line announces (``…/sm3`` means SM3)."""
    return SM3 if origin.endswith("/sm3") else SHA256
