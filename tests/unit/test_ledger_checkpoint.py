"""Signed checkpoints: the signed-note format of API.md and its verification."""

import base64
import hashlib

import pytest

from registry.ledger import Checkpoint, CheckpointError, SigningKey, parse_checkpoint, verify_checkpoint
from registry.ledger.checkpoint import vkey


def test_a_signed_checkpoint_has_the_documented_shape_and_verifies():
    key = SigningKey.generate("example.org/log")
    cp = Checkpoint("example.org/log", 7, hashlib.sha256(b"x").digest())
    note = key.sign_checkpoint(cp)
    lines = note.split("\n")
    assert lines[0] == "example.org/log" and lines[1] == "7"
    assert base64.b64decode(lines[2]) == cp.root_hash
    assert lines[3] == "" and lines[4].startswith("\u2014 example.org/log ")
    raw = base64.b64decode(lines[4].split(" ")[2])
    assert raw[:4] == hashlib.sha256(b"example.org/log\n\x01" + key.public_key).digest()[:4]
    assert verify_checkpoint(note, [(key.name, key.public_key)]) == cp


def test_a_changed_size_root_or_signature_fails():
    key = SigningKey.generate("o")
    note = key.sign_checkpoint(Checkpoint("o", 7, bytes(32)))
    sig = note.rsplit(" ", 1)[1]
    flipped = note[: -len(sig)] + ("B" if sig[0] != "B" else "C") + sig[1:]
    for bad in (note.replace("\n7\n", "\n8\n"), note.replace("AAAA", "AAAB", 1), flipped):
        with pytest.raises(CheckpointError):
            verify_checkpoint(bad, [(key.name, key.public_key)])


def test_a_checkpoint_by_an_unknown_key_fails():
    note = SigningKey.generate("o").sign_checkpoint(Checkpoint("o", 1, bytes(32)))
    other = SigningKey.generate("o")
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, [(other.name, other.public_key)])


@pytest.mark.parametrize("text", ["", "o\n1\n", "o\n01\nAAAA\n\n", "o\nx\nAAAA\n\n— o AAAA\n", None])
def test_garbage_is_not_a_checkpoint(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_vkey_names_the_key_hash():
    key = SigningKey.generate("o")
    name, h, b64 = vkey("o", key.public_key).split("+", 2)
    assert name == "o" and bytes.fromhex(h) == key.key_hash and base64.b64decode(b64)[1:] == key.public_key
