"""Look-alike folding for damaged labels: O/0, I/1, S/5, B/8, Z/2 read as the same character.

A burnt or worn label is read with mistakes that are mostly confusions of
shape.  Folding both the stored identifier and the fragment read at the scene
onto one *skeleton* (letters to the digit they resemble, separators dropped)
turns each such confusion into an exact match.  Pure: the store keeps the
skeleton of every item in an indexed column, search compares skeletons.
"""

from __future__ import annotations

#: Each look-alike letter and the digit it folds to.
LOOKALIKES: dict[str, str] = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2"}
_FOLD = str.maketrans({**LOOKALIKES, "-": None, "\u00b7": None, " ": None})


def skeleton(value: str | None) -> str | None:
    """Return the look-alike skeleton of a normalised identifier (``None`` stays ``None``).

    >>> skeleton("TSTB48V2026000123")
    'T5T848V2026000123'
    >>> skeleton("MA2H3K8L1-26-48-000001")
    'MA2H3K8L12648000001'
    """
    if value is None:
        return None
    return value.upper().translate(_FOLD)


def lookalike(a: str, b: str) -> bool:
    """Whether two characters fold to the same skeleton character."""
    return a.upper().translate(_FOLD) == b.upper().translate(_FOLD)


def sql_skeleton(column: str) -> str:
    """Return the fold as nested SQL ``REPLACE`` calls over *column* (the migration fills existing rows with it)."""
    expr = f"REPLACE(REPLACE(REPLACE(UPPER({column}), '-', ''), '\u00b7', ''), ' ', '')"
    for letter, digit in LOOKALIKES.items():
        expr = f"REPLACE({expr}, '{letter}', '{digit}')"
    return expr
