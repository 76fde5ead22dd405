"""Search by a partial or damaged identifier (烧损标签): look-alike tolerant, ranked candidates.

A fragment read off a burnt label is normalised (spaces, full-width, case) and
folded to its look-alike skeleton (O/0, I/1, S/5, B/8, Z/2 read alike,
separators dropped; ``?`` or ``*`` stand for one unreadable character).  The
database compares skeletons (``items.skeleton``, indexed) with one query:
the fragment anywhere in the skeleton, or, for fragments of six characters or
more, the fragment with any one character unreadable.

Ranking, best first:

1. ``exact`` — the fragment occurs in the identifier as typed;
2. ``lookalike`` — it occurs once look-alikes are folded; fewer look-alike
   substitutions first;
3. ``fuzzy`` — it occurs with one character wrong (or unreadable).

Ties: a match at the start of the identifier, then the kind the fragment
looks like, then identifiers closest in length to the fragment, then the
identifier.  So an 8-character fragment with one look-alike substitution
puts the right battery before every neighbour of its batch, whose serials
differ by a character that is not a look-alike.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select

from registry.domain import identifiers as ids
from registry.domain.errors import invalid
from registry.domain.lookalike import lookalike, skeleton
from registry.store.models import Item, Organisation
from registry.store.uow import UnitOfWork

MIN_FRAGMENT = 4
MAX_FRAGMENT = 40
#: Rows read from the database before ranking (the best LIMIT are returned).
MAX_ROWS = 500
_WILDCARDS = str.maketrans({"?": "_", "*": "_", "\uff1f": "_", "\uff0a": "_"})
_FRAGMENT = re.compile(r"[0-9A-Z_\-]+")
TIERS = ("exact", "lookalike", "fuzzy")


def fragment_of(q: object) -> str:
    """Return the fragment normalised, with ``_`` for each unreadable character; refuse (422) what cannot match."""
    if not isinstance(q, str):
        raise invalid({"q": [("请输入编码片段", "give a fragment of an identifier")]})
    try:
        value = ids.normalise(q.translate(_WILDCARDS), "q")
    except ids.InvalidIdentifier as err:
        raise invalid({"q": [(err.message_zh, err.message_en)]}) from None
    value = value.replace("\u00b7", "").replace(" ", "")
    if not _FRAGMENT.fullmatch(value or "-"):
        raise invalid({"q": [("编码片段只能含字母、数字、“-”和表示无法辨认字符的“?”",
                              "a fragment holds letters, digits, '-' and '?' for an unreadable character")]})
    readable = value.replace("_", "").replace("-", "")
    if len(readable) < MIN_FRAGMENT:
        raise invalid({"q": [(f"至少需要 {MIN_FRAGMENT} 个可辨认字符", f"needs at least {MIN_FRAGMENT} readable characters")]})
    if len(value) > MAX_FRAGMENT:
        raise invalid({"q": [(f"最多 {MAX_FRAGMENT} 个字符", f"at most {MAX_FRAGMENT} characters")]})
    return value


def _patterns(skel: str) -> list[str]:
    patterns = [f"%{skel}%"]
    if len(skel.replace("_", "")) >= 6:
        patterns += [f"%{skel[:i]}_{skel[i + 1:]}%" for i in range(len(skel)) if skel[i] != "_"]
    return patterns


def _best_window(identifier: str, fragment: str) -> tuple[int, int, int, int] | None:
    """Return ``(tier, substitutions, position, -)`` of the best alignment of *fragment* in *identifier*."""
    ident = identifier.replace("-", "")
    frag = fragment.replace("-", "")
    n = len(frag)
    best = None
    for pos in range(0, len(ident) - n + 1):
        window = ident[pos:pos + n]
        look = wrong = 0
        exact = True
        for a, c in zip(window, frag):
            if c == "_":
                wrong += 1
                exact = False
            elif a == c:
                continue
            elif lookalike(a, c):
                look += 1
                exact = False
            else:
                wrong += 1
                exact = False
        if wrong > 1:
            continue
        tier = 0 if exact else (1 if wrong == 0 else 2)
        key = (tier, look + wrong, pos)
        if best is None or key < best:
            best = key
    return best


def search(uow: UnitOfWork, q: object, limit: int = 20) -> dict:
    """Return ranked candidates for a fragment of a frame, battery or charger code."""
    fragment = fragment_of(q)
    skel = skeleton(fragment)  # "_" (unreadable) survives the fold
    # first the matching skeletons, read from the narrow skeleton index alone; then those items by that index
    skeletons = list(uow.session.execute(
        select(Item.skeleton).where(or_(*(Item.skeleton.like(p) for p in _patterns(skel)))).distinct().limit(MAX_ROWS)
    ).scalars())
    rows = uow.session.execute(
        select(Item.subject, Item.kind, Item.identifier, Item.model, Item.maker_org_id, Item.state, Item.produced_on)
        .where(Item.skeleton.in_(skeletons)).limit(MAX_ROWS)
    ).all() if skeletons else []
    guess = ids.guess_kind(fragment.replace("_", "0")) if "_" not in fragment else None
    ranked = []
    for row in rows:
        best = _best_window(row.identifier, fragment)
        if best is None:
            continue
        tier, subs, pos = best
        key = (tier, subs, pos != 0, row.kind != guess, abs(len(row.identifier) - len(fragment)), row.identifier)
        ranked.append((key, row, best))
    ranked.sort(key=lambda t: t[0])
    makers: dict[str, str | None] = {}
    out = []
    for key, row, (tier, subs, pos) in ranked[:limit]:
        if row.maker_org_id and row.maker_org_id not in makers:
            org = uow.session.get(Organisation, row.maker_org_id)
            makers[row.maker_org_id] = org.name if org else None
        out.append({
            "rank": len(out) + 1, "subject": row.subject, "kind": row.kind, "identifier": row.identifier,
            "model": row.model, "maker": makers.get(row.maker_org_id), "state": row.state, "produced_on": row.produced_on,
            "match": TIERS[tier], "substitutions": subs, "position": pos,
        })
    return {"q": q, "fragment": fragment, "skeleton": skel, "candidates": out,
            "truncated": len(skeletons) >= MAX_ROWS or len(rows) >= MAX_ROWS or len(ranked) > limit}

