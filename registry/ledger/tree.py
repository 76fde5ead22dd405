"""RFC 9162 Merkle tree maths over stored perfect subtrees: roots, proofs, verification.

A *node key* ``(level, i)`` names the perfect subtree of ``2**level`` leaves
starting at leaf ``i * 2**level``; level 0 keys are the leaf hashes. Every
hash the RFC defines over a range ``[start, end)`` is computed from the few
perfect subtrees that tile it, so a store that keeps those (written once, when
they complete) answers any root or proof in O(log n) reads and no
recomputation from leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from registry.ledger.hashing import Hasher

Range = tuple[int, int]
NodeKey = tuple[int, int]


class ProofError(ValueError):
    """A proof or a request for one that does not hold."""


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than *n* (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_cover(start: int, end: int) -> list[NodeKey]:
    """Return the perfect subtrees that tile ``[start, end)``, left to right."""
    keys: list[NodeKey] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        if start:
            size = min(size, start & -start)
        level = size.bit_length() - 1
        keys.append((level, start >> level))
        start += size
    return keys


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes], hasher: Hasher) -> bytes:
    """Return MTH of the leaves ``[start, end)`` from the perfect subtrees that tile it."""
    n = end - start
    if n <= 0:
        return hasher.empty()
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return nodes[(level, start >> level)]
    k = _largest_power_of_two_below(n)
    return hasher.node(
        range_hash(start, start + k, nodes, hasher), range_hash(start + k, end, nodes, hasher)
    )


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Return the ranges whose hashes form PATH(index, D[0:size]), leaf first."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """Return the ranges whose hashes form PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1)."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    ranges: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    ranges.reverse()
    return ranges


def nodes_for(ranges: Iterable[Range]) -> set[NodeKey]:
    """Return every stored node the hashes of *ranges* need."""
    keys: set[NodeKey] = set()
    for start, end in ranges:
        keys.update(perfect_cover(start, end))
    return keys


def resolve(ranges: Sequence[Range], nodes: Mapping[NodeKey, bytes], hasher: Hasher) -> list[bytes]:
    """Return the hash of each range."""
    return [range_hash(s, e, nodes, hasher) for s, e in ranges]


def root_from_leaves(leaf_hashes: Sequence[bytes], hasher: Hasher) -> bytes:
    """Return MTH over *leaf_hashes* (RFC 9162 §2.1.1), iteratively."""
    frontier = Frontier(hasher)
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def _check_lengths(hasher: Hasher, hashes: Iterable[bytes]) -> None:
    size = hasher.size
    for h in hashes:
        if not isinstance(h, (bytes, bytearray)) or len(h) != size:
            raise ProofError(f"a hash must be {size} bytes")


def verify_inclusion(
    hasher: Hasher, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); raise ProofError if it fails."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    _check_lengths(hasher, [leaf_hash, root, *proof])
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path")
        if fn & 1 or fn == sn:
            r = hasher.node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hasher.node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path")
    if r != root:
        raise ProofError("inclusion proof does not reach the root")


def verify_consistency(
    hasher: Hasher,
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raise ProofError if it fails."""
    if first <= 0 or first > second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if first_root != second_root:
            raise ProofError("equal sizes but different roots")
        return
    _check_lengths(hasher, [first_root, second_root, *proof])
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path")
        if fn & 1 or fn == sn:
            fr = hasher.node(c, fr)
            sr = hasher.node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hasher.node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path")
    if fr != first_root:
        raise ProofError("consistency proof does not reach the first root")
    if sr != second_root:
        raise ProofError("consistency proof does not reach the second root")


@dataclass
class Frontier:
    """The right edge of a growing tree: the perfect subtrees of its size's binary form.

    Appending a leaf returns the perfect subtrees it completes, so a store can
    write each node once, when it is born.
    """

    hasher: Hasher
    size: int = 0
    #: (level, hash) of each perfect subtree on the right edge, largest first.
    stack: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def at(cls, hasher: Hasher, size: int, nodes: Mapping[NodeKey, bytes]) -> "Frontier":
        """Rebuild the frontier of a tree of *size* leaves from its stored perfect cover."""
        stack = [(level, nodes[(level, i)]) for level, i in perfect_cover(0, size)]
        return cls(hasher, size, stack)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return ``(level, i, hash)`` of every node of level >= 1 it completes."""
        born: list[tuple[int, int, bytes]] = []
        index = self.size
        level, h = 0, leaf_hash
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            h = self.hasher.node(left, h)
            level += 1
            born.append((level, index >> level, h))
        self.stack.append((level, h))
        self.size += 1
        return born

    def root(self) -> bytes:
        """Return the root hash of the tree so far."""
        if not self.stack:
            return self.hasher.empty()
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = self.hasher.node(left, h)
        return h
