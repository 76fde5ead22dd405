"""Public code checks: GET /codes/{token}, GET /codes?q=, the /c/ page and `flask verify-code`, online and offline."""

from __future__ import annotations

import string

import pytest

from registry.labels import InvalidCode, verify_code_offline
from tests.conftest import auth

pytestmark = pytest.mark.db

B36 = string.digits + string.ascii_uppercase
PUBLIC_FIELDS = {
    "genuine", "reason", "message", "source", "kind", "identifier", "model", "maker", "state", "produced_on",
    "flags", "battery_age_days", "certificate", "standard", "key_id",
}


def altered(token: str, position: int) -> str:
    """Return the token with the character at *position* changed to another of 0-9A-Z."""
    old = token[position]
    new = B36[(B36.index(old) + 7) % 36]
    return token[:position] + new + token[position + 1 :]


@pytest.fixture
def coded(make_catalogue):
    cat = make_catalogue()
    (vehicle,) = cat.commission("vehicle")
    (battery,) = cat.commission("battery", produced_on="2020-01-01")
    return cat, vehicle, battery


def test_a_genuine_code_answers_what_the_public_may_know_without_login(client, coded):
    cat, vehicle, battery = coded
    token = battery["code"].rsplit("/", 1)[1]
    r = client.get(f"/api/v1/codes/{token}")
    assert r.status_code == 200
    a = r.get_json()
    assert a["genuine"] is True and a["source"] == "code"
    assert (a["kind"], a["identifier"], a["model"], a["maker"], a["state"]) == ("battery", battery["identifier"], cat.battery_model, cat.org["name"], "commissioned")
    assert a["flags"] == {"recalled": False, "stolen": False, "reused": False, "legacy": False, "backfilled": False}
    assert a["battery_age_days"] > 5 * 365
    assert set(a) <= PUBLIC_FIELDS
    assert client.get("/api/v1/codes", query_string={"q": battery["code"]}).get_json() == a


def test_a_payload_printed_in_upper_case_and_a_bare_token_resolve_alike(client, coded):
    _, vehicle, _ = coded
    token = vehicle["code"].rsplit("/", 1)[1]
    for q in (vehicle["code"].upper(), token, token.lower(), " " + vehicle["code"] + " "):
        a = client.get("/api/v1/codes", query_string={"q": q}).get_json()
        assert a["genuine"] is True and a["identifier"] == vehicle["identifier"], q


def test_typing_the_bare_identifier_leads_to_the_same_item(client, coded):
    _, vehicle, _ = coded
    a = client.get("/api/v1/codes", query_string={"q": vehicle["identifier"]}).get_json()
    assert a["genuine"] is True and a["source"] == "identifier" and a["identifier"] == vehicle["identifier"]
    a = client.get("/api/v1/codes", query_string={"q": "117322699999998"}).get_json()
    assert a == {"genuine": False, "reason": "item_not_found", "message": a["message"], "source": "identifier"}


def test_changing_any_one_character_of_a_token_makes_it_not_genuine_online(client, coded):
    _, vehicle, battery = coded
    for item in (vehicle, battery):
        token = item["code"].rsplit("/", 1)[1]
        for i in range(len(token)):
            a = client.get(f"/api/v1/codes/{altered(token, i)}").get_json()
            assert a["genuine"] is False and a["reason"] in {"token_malformed", "token_unsupported_version", "token_not_canonical", "unknown_key", "signature_invalid"}, (i, a)
            assert set(a) <= PUBLIC_FIELDS and "identifier" not in a


def test_changing_any_one_character_of_a_token_makes_it_not_genuine_offline(registry, coded):
    _, vehicle, _ = coded
    keys = registry.keys.by_id()
    assert verify_code_offline(vehicle["code"], keys).identifier == vehicle["identifier"]
    token = vehicle["code"].rsplit("/", 1)[1]
    for i in range(len(token)):
        with pytest.raises(InvalidCode):
            verify_code_offline(vehicle["code"].rsplit("/", 1)[0] + "/" + altered(token, i), keys)


def test_verify_code_exits_1_on_every_altered_character(runner, coded):
    _, vehicle, _ = coded
    ok = runner.invoke(args=["verify-code", vehicle["code"]])
    assert ok.exit_code == 0 and vehicle["identifier"] in ok.output
    token = vehicle["code"].rsplit("/", 1)[1]
    for i in range(len(token)):
        result = runner.invoke(args=["verify-code", altered(token, i)])
        assert result.exit_code == 1 and "NOT GENUINE" in result.output, i


def test_verify_code_works_from_the_published_keys_file_alone(runner, client, coded, tmp_path):
    _, vehicle, _ = coded
    keys = tmp_path / "keys.json"
    keys.write_text(client.get("/api/v1/log/public-keys").get_data(as_text=True))
    assert runner.invoke(args=["verify-code", "--keys", str(keys), vehicle["code"]]).exit_code == 0
    other = tmp_path / "other.json"
    other.write_text('{"keys": []}')
    result = runner.invoke(args=["verify-code", "--keys", str(other), vehicle["code"]])
    assert result.exit_code == 1 and "unknown_key" in result.output


@pytest.mark.parametrize("junk", ["", "x", "1", "1" + "Z" * 300, "Ä" * 40, "%00", "1" * 5000, "../../etc/passwd", "http://evil.test/c/1ABC"])
def test_junk_is_never_a_crash_and_never_genuine(client, coded, junk):
    r = client.get("/api/v1/codes", query_string={"q": junk})
    assert r.status_code in (200, 422), junk
    if r.status_code == 200:
        assert r.get_json()["genuine"] is False
    r = client.get(f"/api/v1/codes/{junk}")
    assert r.status_code in (200, 404) and r.status_code != 500
    if r.status_code == 200:
        assert r.get_json()["genuine"] is False


def test_a_token_signed_by_an_unpublished_key_is_not_genuine(client, coded):
    from registry.labels import make_token
    from registry.ledger import SigningKey

    rogue = SigningKey.generate("rogue")
    _, vehicle, _ = coded
    token = make_token("vehicle", vehicle["identifier"], rogue.key_hash, rogue.sign)
    a = client.get(f"/api/v1/codes/{token}").get_json()
    assert a["genuine"] is False and a["reason"] == "unknown_key"


def test_a_genuinely_signed_code_of_an_item_never_commissioned_is_not_genuine(client, registry, coded):
    from registry.labels import make_token

    key = registry.keys.current
    token = make_token("vehicle", "117322699999997", key.key_hash, key.sign)
    a = client.get(f"/api/v1/codes/{token}").get_json()
    assert a["genuine"] is False and a["reason"] == "item_not_found"


def test_the_code_page_shows_genuine_items_in_chinese_at_c_and_C(client, coded):
    cat, _, battery = coded
    token = battery["code"].rsplit("/", 1)[1]
    for path in (f"/c/{token}", f"/C/{token}", f"/c/{token.lower()}"):
        r = client.get(path)
        assert r.status_code == 200 and r.mimetype == "text/html"
        page = r.get_data(as_text=True)
        assert "真码" in page and battery["identifier"] in page and "蓄电池" in page and cat.org["name"] in page
        assert "超过5年" in page  # produced 2020: an assessment is due


def test_the_code_page_says_forged_for_an_altered_token(client, coded):
    _, vehicle, _ = coded
    token = vehicle["code"].rsplit("/", 1)[1]
    page = client.get(f"/c/{altered(token, 40)}").get_data(as_text=True)
    assert "伪造或无效" in page and vehicle["identifier"] not in page


def test_open_recalls_and_theft_show_as_flags_and_warnings(client, registry, coded):
    from sqlalchemy import update

    from registry.store.models import Item, Recall, RecallRemedy

    cat, vehicle, battery = coded
    with registry.writing() as uow:
        uow.session.add(Recall(id="r1", model=cat.battery_model, produced_from="2019-01-01", produced_to="2020-12-31", reason="发热", org_id=cat.org["id"], opened_index=0))
        uow.session.add(Recall(id="r2", model=cat.vehicle_model, batch="OTHER", reason="x", org_id=cat.org["id"], opened_index=0))
        uow.session.execute(update(Item).where(Item.subject == f"vehicle:{vehicle['identifier']}").values(stolen=True))
        uow.commit()
    token = battery["code"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/codes/{token}").get_json()["flags"]["recalled"] is True
    assert "召回" in client.get(f"/c/{token}").get_data(as_text=True)
    v = client.get("/api/v1/codes", query_string={"q": vehicle["code"]}).get_json()
    assert v["flags"]["stolen"] is True and v["flags"]["recalled"] is False  # r2 is for another batch
    assert "被盗" in client.get(f"/c/{vehicle['code'].rsplit('/', 1)[1]}").get_data(as_text=True)
    with registry.writing() as uow:
        uow.session.add(RecallRemedy(recall_id="r1", subject=f"battery:{battery['identifier']}", remedied_index=0))
        uow.commit()
    assert client.get(f"/api/v1/codes/{token}").get_json()["flags"]["recalled"] is False
