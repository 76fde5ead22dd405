"""The Merkle maths against the public RFC 6962/9162 vectors and hypothesis."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from registry.ledger import canonical_bytes, CanonicalError
from registry.ledger.hashing import SHA256, SM3
from registry.ledger.tree import (
    Frontier,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    perfect_cover,
    resolve,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "rfc6962_vectors.json").read_text())
H = SHA256
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves_hex"]]
LEAF_HASHES = [H.leaf(x) for x in LEAVES]


def b(x):
    return bytes.fromhex(x)


def all_nodes(leaf_hashes):
    """Every perfect subtree of a list of leaves, as a store would keep them."""
    nodes = {(0, i): h for i, h in enumerate(leaf_hashes)}
    f = Frontier(H)
    for leaf in leaf_hashes:
        for level, i, h in f.append(leaf):
            nodes[(level, i)] = h
    return nodes


def inclusion(nodes, index, size):
    ranges = inclusion_ranges(index, size)
    assert nodes_for(ranges) <= nodes.keys()
    return resolve(ranges, nodes, H)


def consistency(nodes, first, second):
    return resolve(consistency_ranges(first, second), nodes, H)


def root(nodes, size):
    return resolve([(0, size)], nodes, H)[0]


def test_leaf_hashes_match_the_published_vectors():
    assert [h.hex() for h in LEAF_HASHES] == VECTORS["leaf_hashes"]


def test_roots_of_every_published_size_match():
    nodes = all_nodes(LEAF_HASHES)
    for size, want in VECTORS["roots_by_size"].items():
        assert root(nodes, int(size)).hex() == want
        assert root_from_leaves(LEAF_HASHES[: int(size)], H).hex() == want


def test_big_tree_roots_match():
    leaves = [H.leaf(bytes([i])) for i in range(256)]
    nodes = all_nodes(leaves)
    for size, want in VECTORS["big_tree_roots_leaf_i_is_byte_i"].items():
        assert root(nodes, int(size)).hex() == want


@pytest.mark.parametrize("case", VECTORS["published_inclusion_proofs"] + VECTORS["exhaustive_inclusion"])
def test_inclusion_proofs_match_the_vectors(case):
    nodes = all_nodes(LEAF_HASHES)
    proof = inclusion(nodes, case["leaf_index"], case["tree_size"])
    assert [p.hex() for p in proof] == case["proof"]
    verify_inclusion(
        H, case["leaf_index"], case["tree_size"], LEAF_HASHES[case["leaf_index"]], proof,
        root(nodes, case["tree_size"]),
    )


@pytest.mark.parametrize("case", VECTORS["published_consistency_proofs"] + VECTORS["exhaustive_consistency"])
def test_consistency_proofs_match_the_vectors(case):
    nodes = all_nodes(LEAF_HASHES)
    proof = consistency(nodes, case["size1"], case["size2"])
    assert [p.hex() for p in proof] == case["proof"]
    verify_consistency(
        H, case["size1"], case["size2"], root(nodes, case["size1"]), root(nodes, case["size2"]), proof
    )


@pytest.mark.parametrize("case", VECTORS["probe_inclusion"], ids=lambda c: c["desc"])
def test_inclusion_probes_pass_or_fail_as_published(case):
    args = (H, case["leaf_index"], case["tree_size"], b(case["leaf_hash"]),
            [b(p) for p in case["proof"]], b(case["root"]))
    if case["want_error"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", VECTORS["probe_consistency"], ids=lambda c: c["desc"])
def test_consistency_probes_pass_or_fail_as_published(case):
    args = (H, case["size1"], case["size2"], b(case["root1"]), b(case["root2"]),
            [b(p) for p in case["proof"]])
    if case["want_error"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_a_proof_for_an_index_outside_the_tree_is_refused():
    with pytest.raises(ProofError):
        inclusion_ranges(5, 5)
    with pytest.raises(ProofError):
        consistency_ranges(0, 5)
    with pytest.raises(ProofError):
        consistency_ranges(6, 5)


def test_perfect_cover_tiles_the_range():
    assert perfect_cover(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_cover(8, 13) == [(2, 2), (0, 12)]
    assert perfect_cover(0, 0) == []


def test_sm3_trees_differ_from_sha256_and_verify():
    leaves = [SM3.leaf(bytes([i])) for i in range(7)]
    r = root_from_leaves(leaves, SM3)
    assert r != root_from_leaves([H.leaf(bytes([i])) for i in range(7)], H)
    assert SM3.empty().hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"


BIG = [H.leaf(i.to_bytes(2, "big")) for i in range(300)]
BIG_NODES = all_nodes(BIG)
ROOTS = [root_from_leaves(BIG[:n], H) for n in range(301)]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_up_to_300_verifies(size_index):
    size, index = size_index
    proof = inclusion(BIG_NODES, index, size)
    verify_inclusion(H, index, size, BIG[index], proof, ROOTS[size])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.data(),
)
def test_an_altered_leaf_proof_element_or_size_fails_inclusion(size_index, data):
    size, index = size_index
    proof = inclusion(BIG_NODES, index, size)
    what = data.draw(st.sampled_from(["leaf", "proof", "size", "index", "drop", "extra"]))
    leaf, p, n, i = BIG[index], list(proof), size, index
    if what == "leaf":
        leaf = bytes([leaf[0] ^ 1]) + leaf[1:]
    elif what == "proof" and p:
        j = data.draw(st.integers(0, len(p) - 1))
        bit = data.draw(st.integers(0, 255))
        p[j] = bytes([p[j][bit // 8] ^ (1 << (bit % 8)) if k == bit // 8 else c for k, c in enumerate(p[j])])
    elif what == "size":
        # the claimed size comes with that size's genuine root, as a signed checkpoint would
        n = data.draw(st.integers(1, 300).filter(lambda x: x != size))
    elif what == "index":
        i = data.draw(st.integers(0, 600).filter(lambda x: x != index))
    elif what == "drop" and p:
        p.pop(data.draw(st.integers(0, len(p) - 1)))
    else:
        p.append(data.draw(st.binary(min_size=32, max_size=32)))
    if (leaf, p, n, i) == (BIG[index], proof, size, index):
        return  # nothing could be altered (a one-leaf tree has no proof element)
    with pytest.raises(ProofError):
        verify_inclusion(H, i, n, leaf, p, ROOTS[n if n != size else size])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_every_consistency_proof_up_to_300_verifies(sizes):
    first, second = sizes
    proof = consistency(BIG_NODES, first, second)
    verify_consistency(H, first, second, ROOTS[first], ROOTS[second], proof)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 300).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n))), st.data())
def test_an_altered_consistency_proof_root_or_size_fails(sizes, data):
    first, second = sizes
    proof = consistency(BIG_NODES, first, second)
    r1, r2, p, m, n = ROOTS[first], ROOTS[second], list(proof), first, second
    what = data.draw(st.sampled_from(["proof", "r1", "r2", "first", "second", "drop", "extra"]))
    if what == "proof" and p:
        j = data.draw(st.integers(0, len(p) - 1))
        p[j] = bytes([p[j][0] ^ 0x80]) + p[j][1:]
    elif what == "r1":
        r1 = bytes([r1[0] ^ 1]) + r1[1:]
    elif what == "r2":
        r2 = bytes([r2[0] ^ 1]) + r2[1:]
    elif what == "first":
        m = data.draw(st.integers(1, second).filter(lambda x: x != first))
        r1 = ROOTS[m]
    elif what == "second":
        n = data.draw(st.integers(first, 300).filter(lambda x: x != second))
        r2 = ROOTS[n]
    elif what == "drop" and p:
        p.pop(data.draw(st.integers(0, len(p) - 1)))
    else:
        p.append(data.draw(st.binary(min_size=32, max_size=32)))
    with pytest.raises(ProofError):
        verify_consistency(H, m, n, r1, r2, p)


def test_canonical_bytes_sort_keys_and_drop_white_space():
    assert canonical_bytes({"b": 1, "a": "车", "c": [True, None]}) == '{"a":"车","b":1,"c":[true,null]}'.encode()


@pytest.mark.parametrize("bad", [1.5, {"a": 0.1}, {1: "x"}, b"bytes", {"s": {1, 2}}])
def test_canonical_bytes_refuse_floats_and_odd_types(bad):
    with pytest.raises(CanonicalError):
        canonical_bytes(bad)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids), max_leaves=20))
def test_canonical_bytes_are_stable_under_reordering(value):
    once = canonical_bytes(value)
    assert canonical_bytes(json.loads(once)) == once
