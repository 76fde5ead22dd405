"""`flask import-items`: CSV and JSON lines, streamed in chunks, bad lines by number, safe to re-run."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from registry.services.orgs import add_user
from registry.store.models import Item
from tests.conftest import PASSWORD

pytestmark = pytest.mark.db

HEADER = "kind,identifier,model,produced_on,batch\n"


@pytest.fixture
def maker(make_catalogue, registry):
    cat = make_catalogue()
    with registry.writing() as uow:
        add_user(uow, None, cat.org["id"], "importer", PASSWORD)
    return cat


def count(registry):
    with registry.reading() as uow:
        return uow.log.size(), uow.session.execute(select(func.count()).select_from(Item)).scalar()


def good_lines(cat, n, start=0):
    return [f"vehicle,1173226{50000000 + start + i:08d},{cat.vehicle_model},2026-05-01,B{i % 3}\n" for i in range(n)]


def run(runner, path, *extra):
    return runner.invoke(args=["import-items", str(path), "--username", "importer", *extra])


def test_an_import_commissions_good_lines_and_reports_bad_ones_by_number(runner, registry, maker, tmp_path):
    lines = good_lines(maker, 3)
    bad = [
        f"vehicle,11732265000009,{maker.vehicle_model},2026-05-01,\n",  # line 5: 14 digits
        f"vehicle,117322650000099,NO-SUCH,2026-05-01,\n",  # line 6
        "vehicle,117322650000098\n",  # line 7: too few columns
        f"battery,{maker.identifier('battery')},{maker.battery_model},2026-05-01,\n",  # line 8: good
        f"vehicle,117322650000097,{maker.vehicle_model},not-a-date,\n",  # line 9
    ]
    path = tmp_path / "items.csv"
    path.write_text(HEADER + "".join(lines + bad))
    before, _ = count(registry)
    result = run(runner, path)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if re.match(r"items\.csv:\d+: ", line)]
    assert sorted(int(e.split(":")[1]) for e in errors) == [5, 6, 7, 9]
    assert "15 digits" in next(e for e in errors if e.startswith("items.csv:5:"))
    assert "4 commissioned" in result.stdout and "4 bad lines" in result.stdout
    assert count(registry)[0] == before + 4


def test_a_re_run_skips_what_is_already_commissioned_and_duplicates_nothing(runner, registry, maker, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(HEADER + "".join(good_lines(maker, 7)))
    assert run(runner, path, "--chunk", "3").exit_code == 0
    after_first = count(registry)
    path.write_text(HEADER + "".join(good_lines(maker, 9)))  # the same 7 and 2 more
    result = run(runner, path, "--chunk", "3")
    assert result.exit_code == 0, result.output
    assert "2 commissioned" in result.stdout and "7 skipped" in result.stdout
    assert count(registry) == (after_first[0] + 2, after_first[1] + 2)
    result = run(runner, path)
    assert "0 commissioned" in result.stdout and "9 skipped" in result.stdout
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    assert runner.invoke(args=["rebuild-state", "--check"]).exit_code == 0


def test_an_item_another_maker_commissioned_is_a_bad_line_not_a_skip(runner, registry, maker, make_catalogue, tmp_path):
    other = make_catalogue()
    (taken,) = other.commission("vehicle")
    path = tmp_path / "items.csv"
    path.write_text(HEADER + f"vehicle,{taken['identifier']},{maker.vehicle_model},2026-05-01,\n")
    result = run(runner, path)
    assert result.exit_code == 1 and "items.csv:2:" in result.stderr and "already commissioned" in result.stderr


def test_a_line_repeated_within_a_chunk_is_reported(runner, maker, tmp_path):
    (line,) = good_lines(maker, 1)
    path = tmp_path / "items.csv"
    path.write_text(HEADER + line + line)
    result = run(runner, path)
    assert result.exit_code == 1 and "items.csv:3:" in result.stderr and "repeats line 2" in result.stderr
    assert "1 commissioned" in result.stdout


def test_json_lines_import_with_the_signing_pool(runner, registry, maker, tmp_path):
    path = tmp_path / "items.jsonl"
    rows = [{"kind": "battery", "identifier": f"TSTB48V2027{i:06d}", "model": maker.battery_model, "produced_on": "2026-04-01", "batch": "J"} for i in range(150)]
    text = "".join(json.dumps(r) + "\n" for r in rows) + "[1, 2]\n{not json\n\n"
    path.write_text(text)
    before, _ = count(registry)
    result = run(runner, path, "--chunk", "100", "--processes", "2")
    assert result.exit_code == 1, result.output
    assert "items.jsonl:151: not a JSON object" in result.stderr and "items.jsonl:152: not valid JSON" in result.stderr
    assert "150 commissioned" in result.stdout
    assert count(registry)[0] == before + 150
    with registry.reading() as uow:
        item = uow.session.get(Item, f"battery:TSTB48V2027{149:06d}")
    from registry.labels import verify_code_offline

    assert verify_code_offline(item.code, registry.keys.by_id()).identifier == item.identifier


def test_only_a_manufacturers_user_may_import(runner, registry, make_org, tmp_path):
    org, _ = make_org("dealer")
    with registry.writing() as uow:
        add_user(uow, None, org["id"], "seller", PASSWORD)
    path = tmp_path / "items.csv"
    path.write_text(HEADER)
    result = runner.invoke(args=["import-items", str(path), "--username", "seller"])
    assert result.exit_code != 0 and "may not record commission" in result.output
    assert runner.invoke(args=["import-items", str(path), "--username", "nobody"]).exit_code != 0


def test_a_csv_without_the_needed_columns_is_refused_whole(runner, maker, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("kind,serial\nvehicle,1\n")
    result = run(runner, path)
    assert result.exit_code != 0 and "missing: identifier, model, produced_on" in result.output
