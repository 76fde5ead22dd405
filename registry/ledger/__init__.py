"""Pure transparency-log maths: canonical bytes, RFC 9162 hashing, proofs and signed checkpoints."""

from registry.ledger.canonical import canonical_bytes, CanonicalError
from registry.ledger.hashing import Hasher, hasher_for
from registry.ledger.tree import (
    ProofError,
    inclusion_ranges,
    consistency_ranges,
    root_from_leaves,
    verify_inclusion,
    verify_consistency,
    Frontier,
)
from registry.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    SigningKey,
    key_hash,
    parse_checkpoint,
    verify_checkpoint,
)

__all__ = [
    "canonical_bytes",
    "CanonicalError",
    "Hasher",
    "hasher_for",
    "ProofError",
    "inclusion_ranges",
    "consistency_ranges",
    "root_from_leaves",
    "verify_inclusion",
    "verify_consistency",
    "Frontier",
    "Checkpoint",
    "CheckpointError",
    "SigningKey",
    "key_hash",
    "parse_checkpoint",
    "verify_checkpoint",
]
