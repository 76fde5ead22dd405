"""Signed checkpoints in the C2SP signed-note format, with Ed25519."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ED25519 = 0x01
DASH = "\u2014"  # C2SP signed-note signature lines start with an em dash


class CheckpointError(ValueError):
    """A checkpoint that cannot be parsed or whose signature does not hold."""


def key_hash(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key hash: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    """Return the C2SP verifier key string ``name+hash+base64(0x01||key)``."""
    return "+".join(
        [name, key_hash(name, public_key).hex(), base64.b64encode(bytes([ED25519]) + public_key).decode()]
    )


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the origin, the tree size and the root hash."""

    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        """Return the signed text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"


@dataclass
class SigningKey:
    """An Ed25519 key with the name it signs under."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    @property
    def key_id(self) -> str:
        """Return the key id: the key hash in lower-case hex."""
        return self.key_hash.hex()

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte signature of *message*."""
        return self.private_key.sign(message)

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        """Return the checkpoint as a signed note."""
        body = checkpoint.body()
        sig = self.private_key.sign(body.encode("utf-8"))
        line = base64.b64encode(self.key_hash + sig).decode()
        return f"{body}\n{DASH} {self.name} {line}\n"

    @classmethod
    def generate(cls, name: str) -> "SigningKey":
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path, name: str) -> "SigningKey":
        """Load a PEM (PKCS#8) Ed25519 private key."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path} is not an Ed25519 private key")
        return cls(name, key)

    def save(self, path: Path) -> None:
        """Write the private key as PEM, readable by its owner only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


def parse_checkpoint(text: str) -> tuple[Checkpoint, list[NoteSignature]]:
    """Split a signed note into its checkpoint and its signature lines (unverified)."""
    if not isinstance(text, str) or "\n\n" not in text:
        raise CheckpointError("not a signed note: no blank line before the signatures")
    body, _, sigs = text.partition("\n\n")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint needs origin, size and root lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin:
        raise CheckpointError("empty origin")
    if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise CheckpointError("tree size is not a canonical decimal")
    try:
        root = base64.b64decode(root_s, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("root hash is not 32 bytes")
    signatures: list[NoteSignature] = []
    if not sigs.endswith("\n"):
        raise CheckpointError("signature block must end with a newline")
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointError(f"malformed signature line: {line!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CheckpointError("signature is not base64") from exc
        if len(raw) < 5:
            raise CheckpointError("signature too short")
        signatures.append(NoteSignature(parts[1], raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_s), root), signatures


def verify_checkpoint(text: str, keys: Iterable[tuple[str, bytes]]) -> Checkpoint:
    """Return the checkpoint if one of *keys* ``(name, public key)`` signed it; raise otherwise."""
    checkpoint, signatures = parse_checkpoint(text)
    body = text.partition("\n\n")[0] + "\n"
    known = {(name, key_hash(name, pub)): pub for name, pub in keys}
    for sig in signatures:
        pub = known.get((sig.name, sig.key_hash))
        if pub is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig.signature, body.encode("utf-8"))
        except InvalidSignature as exc:
            raise CheckpointError(f"signature by {sig.name} does not verify") from exc
        return checkpoint
    raise CheckpointError("no signature by a known key")
