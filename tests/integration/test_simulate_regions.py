"""scripts/simulate_regions.py: several regional cities, bikes moving between them, every move proven.

On PostgreSQL the regions are schemas of the lane's test database; on SQLite, files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import simulate_regions  # noqa: E402

pytestmark = pytest.mark.db


def test_bikes_move_between_regional_logs_and_every_move_is_proven_in_the_traces(db_url, tmp_path, capsys):
    code = simulate_regions.main(["--regions", "zj,js", "--events", "1200", "--moves", "12", "--traces", "12",
                                  "--batch", "600", "--folder", str(tmp_path / "regions"), "--quiet",
                                  *(["--database-url", db_url] if PG_URL else [])])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["moves"] == 12 and out["moves_proven_in_traces"] == out["traces"] == 12
    assert sum(r["transfer_in"] for r in out["regions"].values()) == 12
    assert all(r["verified"]["ok"] for r in out["regions"].values())
    assert {f["name"] for f in out["figures"]} >= {"transfer_in_p50", "trace_across_regions_p50", "trace_across_regions_http_p50"}
    assert out["engine"].startswith("postgresql" if PG_URL else "sqlite")
    assert sum(out["national_index"]["rows"].values()) > 0
