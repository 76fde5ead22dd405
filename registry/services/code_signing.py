"""Signing item codes in bulk, on every core: the worker side imports nothing but the token codec."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Sequence

from cryptography.hazmat.primitives import serialization

from registry.labels.codes import make_token

log = logging.getLogger(__name__)

_worker_key = None
_worker_key_hash = b""


def _init_worker(private_raw: bytes, key_hash: bytes) -> None:
    global _worker_key, _worker_key_hash
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _worker_key = Ed25519PrivateKey.from_private_bytes(private_raw)
    _worker_key_hash = key_hash


def _sign_in_worker(pairs: list[tuple[str, str]]) -> list[str]:
    return [make_token(kind, identifier, _worker_key_hash, _worker_key.sign) for kind, identifier in pairs]


class CodeSigner:
    """Signs code tokens with the registry's current key, across *processes* worker processes.

    Signing (Ed25519 plus the token's base-36 packing, ~35 µs an item) is pure CPU:
    a pool on both cores signs one chunk while the caller writes the previous one.
    With processes=1 it signs in the calling process.
    """

    def __init__(self, key, processes: int | None = None):
        self.key = key
        self.processes = max(1, processes if processes is not None else min(2, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            raw = self.key.private_key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            # forkserver: never fork a process that may hold threads and open connections.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_init_worker, initargs=(raw, self.key.key_hash))
        return self._pool

    def sign(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """Return the tokens of (kind, identifier) pairs, in order."""
        return self.submit(pairs).result()

    def _sign_here(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        return [make_token(k, i, self.key.key_hash, self.key.sign) for k, i in pairs]

    def submit(self, pairs: Sequence[tuple[str, str]]) -> "Future[list[str]]":
        """Start signing (kind, identifier) pairs; the future's result is their tokens, in order.

        Should the pool fail (a worker killed, a pool that cannot start), the
        pairs are signed in this process instead: Ed25519 signatures are
        deterministic, so the tokens are the same either way.
        """
        pairs = list(pairs)
        if self.processes == 1 or len(pairs) < 64 or self._broken:
            done: Future = Future()
            done.set_result(self._sign_here(pairs))
            return done
        try:
            pool = self._ensure_pool()
            size = -(-len(pairs) // self.processes)
            parts = [pool.submit(_sign_in_worker, pairs[i : i + size]) for i in range(0, len(pairs), size)]
        except Exception:  # noqa: BLE001 - any pool failure: sign here
            log.warning("signing pool unavailable; signing in the calling process", exc_info=True)
            self._broken = True
            return self.submit(pairs)
        joined: Future = Future()
        lock = threading.Lock()
        remaining = [len(parts)]

        def collect(_):
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            try:
                tokens = [t for p in parts for t in p.result()]
            except Exception:  # noqa: BLE001 - a worker failed: sign here
                log.warning("signing pool failed; signing in the calling process", exc_info=True)
                self._broken = True
                tokens = self._sign_here(pairs)
            joined.set_result(tokens)

        for p in parts:
            p.add_done_callback(collect)
        return joined

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "CodeSigner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
