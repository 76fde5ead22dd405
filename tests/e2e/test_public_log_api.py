"""The public log API, checked by an independent RFC 9162 implementation that trusts nothing of ours."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import ENGINE, auth

pytestmark = pytest.mark.db


# --- an independent verifier: RFC 9162 §2.1 written from the text, nothing imported ---

def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf(d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def verify_note(note: str, keys: list[dict]) -> tuple[str, int, bytes]:
    body, sigs = note.split("\n\n", 1)
    origin, size, root = body.split("\n")
    for line in sigs.strip("\n").split("\n"):
        dash, name, sig = line.split(" ")
        assert dash == "\u2014"
        raw = base64.b64decode(sig)
        for k in keys:
            pub = base64.b64decode(k["public_key"])
            if k["name"] == name and hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4] == raw[:4]:
                Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], (body + "\n").encode())
                return origin, int(size), base64.b64decode(root)
    raise AssertionError("no verifiable signature")


@pytest.fixture
def populated(client, make_org):
    for kind in ("manufacturer", "dealer", "registration_point", "repair_shop", "recycler"):
        make_org(kind)
    return client


def test_an_independent_verifier_recomputes_the_root_and_checks_every_proof(populated):
    client = populated
    note = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    keys = client.get("/api/v1/log/public-keys").get_json()["keys"]
    origin, size, root = verify_note(note, keys)
    assert origin == "registry.test/log"
    assert size >= 6
    bodies = []
    for i in range(size):
        e = client.get(f"/api/v1/log/entries/{i}").get_json()
        body = base64.b64decode(e["body"])
        assert leaf(body).hex() == e["leaf_hash"]
        bodies.append(body)
    assert mth(bodies) == root
    for i in range(size):
        p = client.get(f"/api/v1/log/proofs/inclusion?index={i}&tree_size={size}").get_json()
        assert p["proof"] == [h.hex() for h in path(i, bodies)]
        assert p["root_hash"] == root.hex()
    for m in range(1, size + 1):
        p = client.get(f"/api/v1/log/proofs/consistency?first={m}&second={size}").get_json()
        assert p["proof"] == [h.hex() for h in subproof(m, bodies, True)]
        assert p["first_root"] == mth(bodies[:m]).hex() and p["second_root"] == root.hex()


def test_the_served_checkpoint_covers_every_committed_entry(client, make_org):
    make_org("dealer")
    before = int(client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])
    make_org("dealer")
    after = int(client.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])
    assert after == before + 1


def test_an_empty_log_serves_a_signed_checkpoint_of_size_zero(client):
    note = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    keys = client.get("/api/v1/log/public-keys").get_json()["keys"]
    _, size, root = verify_note(note, keys)
    assert size == 0 and root == hashlib.sha256(b"").digest()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/log/entries/999",
        "/api/v1/log/proofs/inclusion?index=99",
        "/api/v1/log/proofs/inclusion?index=0&tree_size=999",
        "/api/v1/log/proofs/inclusion?index=-1",
        "/api/v1/log/proofs/inclusion?index=abc",
        "/api/v1/log/proofs/inclusion",
        "/api/v1/log/proofs/consistency?first=0&second=1",
        "/api/v1/log/proofs/consistency?first=3&second=2",
        "/api/v1/log/proofs/consistency?first=1&second=999",
        "/api/v1/log/proofs/consistency?first=x",
    ],
)
def test_asks_out_of_range_are_4xx_problems(populated, url):
    r = populated.get(url)
    assert 400 <= r.status_code < 500
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["code"]


@pytest.mark.parametrize("url, says", [
    ("/api/v1/log/proofs/inclusion?index=1&tree_size=999", "tree_size 999 is beyond the log"),
    ("/api/v1/log/proofs/inclusion?index=1000&tree_size=999", "tree_size 999 is beyond the log"),  # both: the tree first
    ("/api/v1/log/proofs/inclusion?index=6&tree_size=6", "index 6 is not below tree_size 6"),
    ("/api/v1/log/proofs/consistency?first=1&second=999", "second 999 is beyond the log"),
    ("/api/v1/log/proofs/consistency?first=1000&second=999", "second 999 is beyond the log"),
    ("/api/v1/log/proofs/consistency?first=6&second=5", "first must not exceed second"),
])
def test_a_proof_out_of_range_says_which_bound(populated, url, says):
    r = populated.get(url, headers={"Accept-Language": "en"})
    assert r.status_code == 400 and r.get_json()["code"] == "out_of_range"
    assert says in r.get_data(as_text=True)


def test_a_proof_for_a_given_tree_size_is_one_statement_outside_any_transaction(populated, registry):
    """The head is read with the nodes; on PostgreSQL no BEGIN or ROLLBACK round trips."""
    from sqlalchemy import event

    seen = []

    def statement(conn, cursor, sql, params, context, many):
        dbapi = conn.connection.driver_connection
        seen.append((sql.split()[0].upper(), getattr(dbapi, "autocommit", None)))

    size = int(populated.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])
    event.listen(registry.db.statement_engine, "before_cursor_execute", statement)
    try:
        for url in (f"/api/v1/log/proofs/inclusion?index=2&tree_size={size}",
                    f"/api/v1/log/proofs/consistency?first=2&second={size}"):
            seen.clear()
            assert populated.get(url).status_code == 200
            selects = [s for s in seen if s[0] == "SELECT"]
            assert len(selects) == 1, seen
            if registry.db.engine.dialect.name == "postgresql":
                assert seen == [("SELECT", True)]  # autocommit: nothing but the statement
    finally:
        event.remove(registry.db.statement_engine, "before_cursor_execute", statement)


def test_a_connection_of_an_autocommit_read_never_goes_to_a_writer(populated, registry):
    """Single-statement reads have a pool of their own on PostgreSQL: no writer is handed a
    connection left in autocommit (a write failing half-way would leave its first statements
    committed), and every writer's statements are inside a transaction."""
    from sqlalchemy import text as sql_text

    with registry.reading(snapshot=False) as uow:
        uow.log.size()
        reader = uow.session.connection().connection.driver_connection
    with registry.writing() as uow:
        writer = uow.session.connection().connection.driver_connection
        if registry.db.engine.dialect.name == "postgresql":
            assert registry.db.statement_engine is not registry.db.engine
            assert writer is not reader and reader.autocommit is True and writer.autocommit is False
            assert uow.session.execute(sql_text("SELECT now() = statement_timestamp()")).scalar() is False  # inside a transaction


@pytest.mark.skipif(ENGINE != "postgresql", reason="a server whose connections can be dropped under the pool")
def test_a_proof_is_answered_after_the_server_dropped_the_pools_connections(populated, registry):
    """The statement pool does not pre-ping: a connection the server dropped fails its statement,
    and the read runs once more on a fresh connection: the client sees a proof, not a 500."""
    from sqlalchemy import text as sql_text

    size = int(populated.get("/api/v1/log/checkpoint").get_data(as_text=True).split("\n")[1])
    urls = [f"/api/v1/log/proofs/inclusion?index=1&tree_size={size}", f"/api/v1/log/proofs/consistency?first=1&second={size}",
            "/api/v1/log/entries/1", "/api/v1/log/proofs/inclusion?index=1"]
    for url in urls:
        assert populated.get(url).status_code == 200  # the pool now holds a connection
        with registry.db.engine.connect() as conn:
            dropped = conn.execute(sql_text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        assert dropped >= 1
        r = populated.get(url)
        assert r.status_code == 200, (url, r.get_json())


def test_log_bodies_name_the_acting_organisation_and_user(client, admin_token, make_org):
    org, _ = make_org("dealer")
    e = client.get(f"/api/v1/log/entries/{org['index']}").get_json()
    import json

    body = json.loads(base64.b64decode(e["body"]))
    assert body["kind"] == "register_organisation"
    assert body["data"]["kind"] == "dealer" and body["data"]["region"] == "330206"
    assert body["org"] and body["user"]


def test_the_api_docs_and_openapi_are_served_locally(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and "/api/v1/log/checkpoint" in spec.get_json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.get_data(as_text=True)
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    with client.get("/api/v1/docs/static/swagger-ui-bundle.js") as js:
        assert js.status_code == 200 and js.get_data()


def test_the_home_page_is_chinese_and_links_the_log_and_docs(client):
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'lang="zh-CN"' in html
    assert "/api/v1/docs" in html and "/api/v1/log/checkpoint" in html
