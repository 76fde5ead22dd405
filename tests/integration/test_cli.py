"""The bootstrap commands: seed-demo, checkpoint, rotate-key, rebuild-state, verify-log."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from registry.ledger import verify_checkpoint
from registry.store.models import Organisation

pytestmark = pytest.mark.db


def test_seed_demo_makes_a_city_that_verifies_and_refuses_to_seed_twice(runner, registry):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with registry.reading() as uow:
        assert uow.log.size() >= 50
    assert "not seeding" in runner.invoke(args=["seed-demo"]).output
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0


def test_verify_log_checks_in_as_many_processes_as_asked(runner, registry, monkeypatch):
    from registry.store import verify as verify_module

    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    monkeypatch.setattr(verify_module, "CHUNK", 8)  # the demo city spans several chunks
    pools = []
    real = verify_module.ProcessPoolExecutor
    monkeypatch.setattr(verify_module, "ProcessPoolExecutor", lambda **kw: pools.append(kw["max_workers"]) or real(**kw))
    for jobs, started in (("2", [2]), ("1", [2])):
        result = runner.invoke(args=["verify-log", "--jobs", jobs])
        assert result.exit_code == 0 and "log verified" in result.output, result.output
        assert pools == started
    refused = runner.invoke(args=["verify-log", "--jobs", "0"])
    assert refused.exit_code == 2 and "--jobs" in refused.output


def test_rebuild_state_finds_and_repairs_a_drifted_projection(runner, registry, make_org):
    org, _ = make_org("dealer")
    with registry.writing() as uow:
        uow.session.execute(update(Organisation).where(Organisation.id == org["id"]).values(name="篡改"))
        uow.commit()
    check = runner.invoke(args=["rebuild-state", "--check"])
    assert check.exit_code == 1 and "organisations" in check.output
    assert runner.invoke(args=["rebuild-state"]).exit_code == 0
    with registry.reading() as uow:
        assert uow.session.get(Organisation, org["id"]).name == org["name"]
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0


def test_rotating_the_key_keeps_old_checkpoints_verifiable(runner, registry, client, make_org):
    make_org("dealer")
    old_note = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    old_id = registry.keys.current.key_id
    result = runner.invoke(args=["rotate-key"])
    assert result.exit_code == 0, result.output
    keys = client.get("/api/v1/log/public-keys").get_json()["keys"]
    assert {old_id, registry.keys.current.key_id} <= {k["key_id"] for k in keys}
    import base64

    pubs = [(k["name"], base64.b64decode(k["public_key"])) for k in keys]
    verify_checkpoint(old_note, pubs)
    new_note = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    assert new_note != old_note
    verify_checkpoint(new_note, pubs)
    assert runner.invoke(args=["verify-log"]).exit_code == 0


def test_checkpoint_command_prints_a_signed_note(runner):
    result = runner.invoke(args=["checkpoint"])
    assert result.exit_code == 0 and "\u2014 registry.test/log " in result.output


def test_sm3_logs_announce_their_hash_in_the_origin(db_url, tmp_path):
    from registry import create_app

    app = create_app({"DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "i"), "SIGNING_KEY": str(tmp_path / "i/k.pem"),
                      "PUBLIC_URL": "http://sm3.test", "LOG_ORIGIN": "", "HASH": "sm3", "SECRET_KEY": "x"})
    reg = app.extensions["registry"]
    assert reg.origin == "sm3.test/log/sm3"
    from registry.services.orgs import RegisterOrganisation, register_organisation

    with reg.writing() as uow:
        register_organisation(uow, None, RegisterOrganisation("x", "dealer", "1", "330206"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["verify-log"])
    assert result.exit_code == 0, result.output
    with reg.reading() as uow:
        leaf, _, root = uow.log.inclusion_proof(0, 1)
        import hashlib

        assert leaf == root == hashlib.new("sm3", b"\x00" + bytes(uow.log.entry(0).body)).digest()
    reg.db.dispose()
