"""seed-demo: a city that lives through every step of the lifecycle, and the refusals it prints."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from registry.services.demo import seed
from registry.store.models import Item, LogEntry, Recall

pytestmark = pytest.mark.db


def test_the_demo_city_goes_through_the_lifecycle_and_prints_its_refusals(registry, runner):
    lines: list[str] = []
    started = time.monotonic()
    people: list[dict] = []
    seed(registry, echo=lines.append, people=people)
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"seeding took {elapsed:.1f} s"
    out = "\n".join(lines)
    for refusal in ("409 sale_refused [battery_not_approved_for_model]", "409 sale_refused [battery_missing]",
                    "403 role_not_allowed", "409 sale_refused [reused_battery]", "registration_refused [plate_taken]",
                    "swap_refused [battery_not_approved_for_model]", "swap_refused [certificate_suspended]",
                    "backfill_refused [non_standard_after_deadline]"):
        assert refusal in out, refusal
    with registry.reading() as uow:
        s = uow.session
        assert uow.log.size() >= 500
        kinds = dict(s.execute(select(LogEntry.kind, func.count()).group_by(LogEntry.kind)).all())
        for kind in ("ship", "receive", "sell", "register", "swap_battery", "replace_charger", "repair", "recall", "recall_remedy",
                     "certificate_status", "list_change", "report_stolen", "report_recovered", "report_incident",
                     "report_modification", "assess_battery", "transfer", "deregister", "scrap", "retire", "recycle", "backfill",
                     "correction"):
            assert kinds.get(kind), kind
        states = dict(s.execute(select(Item.state, func.count()).group_by(Item.state)).all())
        assert {"registered", "sold", "in_stock", "installed", "retired", "recycled", "scrapped", "deregistered"} <= set(states)
        plates = list(s.execute(select(Item.plate).where(Item.plate.is_not(None))).scalars())
        assert len(plates) >= 30 and all(p.startswith("浙B·") for p in plates)
        assert s.execute(select(func.count()).select_from(Item).where(Item.stolen.is_(True))).scalar() == 1
        assert s.execute(select(func.count()).select_from(Item).where(Item.backfilled.is_(True))).scalar() >= 5
        fleet = s.execute(select(Item).where(Item.kind == "vehicle", Item.state == "registered", Item.holder_org_id.is_not(None))).scalars()
        assert all(v.battery for v in fleet)  # battery-free sales, batteries fitted by the swap operators
        assert s.execute(select(func.count()).select_from(Recall)).scalar() == 1
        bodies = [bytes(b).decode() for b in s.execute(select(LogEntry.body)).scalars()]
    assert len(people) > 40
    for person in people:  # personal data stays in the vault: the log holds pseudonyms only
        assert not any(person["id_number"] in b or person["phone"] in b or person["name"] in b for b in bodies), person
    assert runner.invoke(args=["verify-log"]).exit_code == 0
    result = runner.invoke(args=["rebuild-state", "--check"])
    assert result.exit_code == 0, result.output
