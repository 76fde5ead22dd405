"""CodeSigner: the same tokens whether signed in the calling process or in a pool of workers."""

from __future__ import annotations

from registry.labels import verify_token
from registry.ledger import SigningKey
from registry.services.code_signing import CodeSigner


def test_a_pool_signs_the_same_tokens_in_the_same_order_as_the_caller():
    key = SigningKey.generate("test")
    pairs = [("vehicle", f"1173226{i:08d}") for i in range(150)] + [("battery", "CATLF48V2026000001-R")]
    with CodeSigner(key, processes=1) as inline, CodeSigner(key, processes=2) as pool:
        expected = inline.sign(pairs)
        first, second = pool.submit(pairs[:100]), pool.submit(pairs[100:])
        assert first.result() + second.result() == expected
    keys = {key.key_id: key.public_key}
    assert [(d.kind, d.identifier) for d in (verify_token(t, keys) for t in expected)] == pairs


def test_a_small_batch_is_signed_without_starting_a_pool():
    key = SigningKey.generate("test")
    with CodeSigner(key, processes=2) as signer:
        assert len(signer.sign([("charger", "MA2H3K8L1-26-48-000001")])) == 1
        assert signer._pool is None


def test_a_pool_that_fails_falls_back_to_signing_in_the_caller(monkeypatch):
    from registry.services import code_signing

    def die(pairs):
        raise RuntimeError("worker lost")

    key = SigningKey.generate("test")
    pairs = [("vehicle", f"1173226{i:08d}") for i in range(100)]
    with CodeSigner(key, processes=1) as inline:
        expected = inline.sign(pairs)
    monkeypatch.setattr(code_signing, "_sign_in_worker", die)
    with CodeSigner(key, processes=2) as signer:
        assert signer.sign(pairs) == expected
        assert signer._broken and signer.sign(pairs[:70]) == expected[:70]
