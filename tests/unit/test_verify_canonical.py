"""verify-log's bulk canonical check: it accepts a chunk of bodies only where the exact check accepts every body.

``_event_prevs`` matches bodies of the writer's shape with a regular expression and parses only
their ``data`` and ``prev``; these properties hold it to the exact definition (the body parsed,
re-encoded with canonical_bytes' settings and compared), on canonical bodies and on bodies
mutated byte by byte.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.ledger import canonical_bytes
from registry.store.verify import _DECODE, _ENCODE, _EVENT, _EVENT_PLAIN, _event_prevs


def exact(body: bytes):
    """The exact pass's verdict on one body: its prev items (sorted), or None if not a canonical event."""
    try:
        parsed = _DECODE(body.decode("utf-8"))
        if _ENCODE(parsed).encode("utf-8") != body:
            return None
        prev = parsed["prev"]
        if not isinstance(prev, dict):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return sorted(prev.items())


def bulk(bodies: list[bytes]):
    """The bulk pass's verdict on a chunk: each body's prev items, or None (its caller also wants keys increasing)."""
    got = _event_prevs(b"\n".join(bodies), len(bodies))
    if got is None:
        return None
    for prev in got:
        keys = [k for k, _ in prev]
        if any(not b > a for a, b in zip(keys, keys[1:])):
            return None
    return [list(p) for p in got]


def holds_to_exact(bodies: list[bytes]) -> None:
    got = bulk(bodies)
    if got is not None:
        assert [exact(b) for b in bodies] == [sorted(p) for p in got]
        assert all(exact(b) is not None for b in bodies)


# --- generated events --------------------------------------------------------------------

texts = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | texts
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                      max_leaves=12)
events = st.fixed_dictionaries({
    "v": st.integers(min_value=0, max_value=3),
    "event_id": st.uuids().map(str) | texts,
    "kind": texts,
    "org": st.none() | texts,
    "user": st.none() | texts,
    "occurred_at": texts,
    "recorded_at": texts,
    "prev": st.dictionaries(texts, st.none() | st.integers(min_value=0, max_value=10**12), max_size=4),
    "data": st.dictionaries(texts, values, max_size=5),
})


def body_of(event) -> bytes:
    return canonical_bytes(event)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=6))
def test_canonical_bodies_of_the_writers_shape_are_accepted_by_the_pattern(evs):
    bodies = [body_of(e) for e in evs]
    got = bulk(bodies)
    assert got == [sorted(e["prev"].items()) for e in evs]
    text = b"\n".join(bodies).decode()
    pattern = _EVENT if "\\" in text else _EVENT_PLAIN
    assert len(pattern.findall(text)) == len(bodies)  # the fast shape, not the whole-body fallback


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(texts, values, max_size=4).map(lambda d: {**d, "prev": {}}), min_size=1, max_size=4))
def test_canonical_bodies_of_another_shape_are_accepted_too(objs):
    bodies = [body_of(o) for o in objs]
    assert bulk(bodies) == [[] for _ in objs]


TOKENS = [b" ", b"\n", b"\\", b'"', b"\\/", b"\\u0041", b"\\u001F", b"\\u001f", b"\\n", b"\\t", b"\x00", b"\x1f", b"\x7f",
          b".0", b"e1", b"-0", b"0", b"01", b"1.5", b"NaN", b"true", b"null", b",", b":", b"{", b"}", b"[", b"]",
          b'"prev":{}', b'"a":1,', b',"a":1', b'},{', b'"}', b"\xc3", b"\xe2\x80\xa8", b"\xed\xa0\x80"]


@st.composite
def mutated(draw):
    """A few canonical bodies, one of them changed: a byte replaced, inserted or deleted, or a token spliced in."""
    bodies = [body_of(e) for e in draw(st.lists(events, min_size=1, max_size=4))]
    k = draw(st.integers(0, len(bodies) - 1))
    body = bodies[k]
    at = draw(st.integers(0, len(body)))
    how = draw(st.sampled_from(["replace", "insert", "delete", "token", "swap"]))
    if how == "replace" and at < len(body):
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
    elif how == "insert":
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at:]
    elif how == "delete" and at < len(body):
        body = body[:at] + body[at + 1:]
    elif how == "token":
        width = draw(st.integers(0, 3))
        body = body[:at] + draw(st.sampled_from(TOKENS)) + body[at + width:]
    elif how == "swap" and len(bodies) > 1:
        bodies[k], bodies[-1] = bodies[-1], bodies[k]
    bodies[k] = body
    return bodies


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_body_is_accepted_only_if_the_exact_check_accepts_it(bodies):
    holds_to_exact(bodies)


@pytest.mark.parametrize("body", [
    # each is valid JSON but not canonical, or canonical but not an event, or an event the pattern must not take apart wrongly
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"b":1,"a":2},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"a":1,"a":2},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"a":-0},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"a":01},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1.0},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"\\u0065","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"\\/","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"\\u001F","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"\x01","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"b":1,"a":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1} ,"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1} ',
    b'{"data":{"a":1},{"b":2,"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"x":1,"event_id":"e"},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"a":1' + b"0" * 30 + b'},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{"a":true},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":1},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":[],"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":"\xed\xa0\x80"},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"data":{"n":"\\ud800"},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}',
    b'{"prev":{}}',
    b'[{"prev":{}}]',
    b'"prev"',
])
def test_hand_made_bodies_agree_with_the_exact_check(body):
    good = body_of({"v": 1, "event_id": "e", "kind": "k", "occurred_at": "t", "org": None, "user": None, "recorded_at": "t",
                    "prev": {"vehicle:1": None}, "data": {"n": 1}})
    for chunk in ([body], [good, body], [body, good, good]):
        holds_to_exact(chunk)
    if exact(body) is None:
        assert bulk([good, body]) is None


def test_two_bodies_cannot_pass_as_one_split_differently():
    # joined, these read as two canonical objects, but neither body is one
    a = b'{"data":{"a":1},{"b":2,"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}'
    b = b'{"data":{"c":3},"event_id":"e","kind":"k","occurred_at":"t","org":null,"prev":{},"recorded_at":"t","user":null,"v":1}'
    assert bulk([a, b]) is None
    assert json.loads(b"[" + b'{"a":1},{"b":2' + b"," + b'"c":3}' + b"]") == [{"a": 1}, {"b": 2, "c": 3}]
