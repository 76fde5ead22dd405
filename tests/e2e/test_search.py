"""Search by a fragment of a burnt label: look-alike tolerant (O/0 I/1 S/5 B/8 Z/2), ranked."""

from __future__ import annotations

import pytest

from registry.domain.lookalike import skeleton
from tests.conftest import auth

pytestmark = pytest.mark.db

SWAP = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}


def search(client, token, q, **params):
    r = client.get("/api/v1/search", query_string={"q": q, **params}, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def batch(make_catalogue, make_org):
    cat = make_catalogue()
    return cat, cat.commission("battery", n=30, batch="B-2026-03"), make_org("investigator")


def one_lookalike(fragment: str, at: int) -> str:
    """Replace the character at or after *at* that has a look-alike."""
    for i in range(at, len(fragment)):
        if fragment[i] in SWAP:
            return fragment[:i] + SWAP[fragment[i]] + fragment[i + 1:]
    raise AssertionError(f"no look-alike in {fragment}")


def test_an_8_character_fragment_with_one_lookalike_substitution_finds_the_right_battery_first(client, batch):
    cat, items, (_, token) = batch
    for target in (items[0], items[13], items[29]):
        ident = target["identifier"]
        fragment = one_lookalike(ident[-8:], 2)
        assert fragment != ident[-8:] and len(fragment) == 8
        answer = search(client, token, fragment.lower())
        first = answer["candidates"][0]
        assert first["identifier"] == ident, answer["candidates"][:3]
        assert first["match"] == "lookalike" and first["substitutions"] == 1 and first["kind"] == "battery"
        # neighbours of the same batch differ by a character that is no look-alike: they rank after it
        assert all(c["match"] == "fuzzy" for c in answer["candidates"][1:])


def test_an_unreadable_character_and_a_frame_code_fragment_are_found(client, batch, make_catalogue):
    cat, items, (_, token) = batch
    ident = items[7]["identifier"]
    frag = ident[-9:-5] + "?" + ident[-4:]
    assert ident in [c["identifier"] for c in search(client, token, frag)["candidates"][:3]]
    v = cat.commission("vehicle")[0]["identifier"]
    burnt = v[3:6] + "I" + v[7:11].replace("0", "O", 1)  # 1 read as I and 0 as O
    answer = search(client, token, burnt)
    assert answer["candidates"][0]["identifier"] == v and answer["candidates"][0]["kind"] == "vehicle"


def test_an_exact_fragment_ranks_above_lookalikes(client, batch):
    _, items, (_, token) = batch
    ident = items[3]["identifier"]
    answer = search(client, token, ident[-8:])
    assert answer["candidates"][0] == {**answer["candidates"][0], "identifier": ident, "match": "exact", "substitutions": 0}


def test_search_is_for_investigators_and_regulators_and_refuses_useless_fragments(client, batch, make_org):
    _, items, (_, token) = batch
    dealer = make_org("dealer")[1]
    assert client.get("/api/v1/search", query_string={"q": "48V2026"}, headers=auth(dealer)).status_code == 403
    assert search(client, make_org("regulator")[1], items[0]["identifier"][-8:])["candidates"]
    for bad in ("", "AB", "??????", "浙B", "x" * 65, "%_%"):
        r = client.get("/api/v1/search", query_string={"q": bad}, headers=auth(token))
        assert r.status_code == 422 and r.mimetype == "application/problem+json", (bad, r.get_json())


def test_the_skeleton_column_holds_the_folded_identifier(batch, registry):
    from sqlalchemy import select

    from registry.store.models import Item

    with registry.reading() as uow:
        rows = uow.session.execute(select(Item.identifier, Item.skeleton)).all()
    assert rows and all(s == skeleton(i) for i, s in rows)
