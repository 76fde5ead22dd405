"""State machines of vehicles, batteries and chargers: every transition and every refusal code."""

from __future__ import annotations

import copy
import dataclasses
import datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from registry.domain import lifecycle as lc
from registry.domain.errors import DomainError
from registry.domain.lifecycle import EVENT_STATE_CODES, ItemState

MAKER, DEALER, OTHER_DEALER, SHOP, OPERATOR, RECYCLER = "maker", "dealer", "dealer2", "shop", "operator", "recycler"
V, V2 = "117322500000001", "117322500000002"
B, B2, B3 = "CATLF48V2026000001", "CATLF48V2026000002", "CATLF48V2026000003"
C, C2 = "MA2H3K8L1-26-48-000001", "MA2H3K8L1-26-48-000002"
OWNER, OWNER2 = "pseudo-owner", "pseudo-owner2"
PLATE = "浙B·A0001"
PRODUCED = datetime.date(2026, 1, 15)


def item(kind: str, identifier: str, state: str = "in_stock", holder: str | None = DEALER, **kw) -> ItemState:
    """Build an item in any state (a fixture factory: the transitions are tested separately)."""
    defaults = dict(model=f"{kind}-model", maker_org_id=MAKER, produced_on=PRODUCED, batch="2026A")
    defaults.update(kw)
    return ItemState(kind=kind, identifier=identifier, state=state, holder_org_id=holder, **defaults)


def stock(holder: str = DEALER, battery: str = B, charger: str = C, vehicle: str = V):
    return item("vehicle", vehicle, holder=holder), item("battery", battery, holder=holder), item("charger", charger, holder=holder)


def sold_set(owner: str = OWNER):
    v, b, c = stock()
    return lc.sell(v, b, c, DEALER, owner_pseudonym=owner)


def battery_free_set():
    v, _, c = stock()
    return lc.sell(v, None, c, DEALER, buyer_org=OPERATOR, buyer_is_swap_operator=True)


def registered_set(owner: str = OWNER):
    v, b, c = sold_set(owner)
    return lc.register(v, b, c, owner, PLATE, "regpoint")


def removed_battery(holder: str = SHOP) -> ItemState:
    v, b, _ = registered_set()
    _, old, _ = lc.swap_battery(v, b, item("battery", B2, holder=holder), holder)
    return old


def refused(code: str, fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.status == 409
    assert caught.value.message_zh and caught.value.message_en
    return caught.value


# --------------------------------------------------------------------------
# The state itself


def test_an_item_state_is_frozen():
    v = item("vehicle", V)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.state = "sold"  # type: ignore[misc]


def test_an_item_state_refuses_a_state_its_kind_does_not_have():
    with pytest.raises(ValueError):
        ItemState(kind="vehicle", identifier=V, state="installed")
    with pytest.raises(ValueError):
        ItemState(kind="battery", identifier=B, state="registered")
    with pytest.raises(ValueError):
        ItemState(kind="bicycle", identifier=V, state="in_stock")


def test_an_item_state_round_trips_through_an_items_record():
    b = dataclasses.replace(registered_set()[1], assessed_on=datetime.date(2031, 2, 1), stolen=True)
    record = b.to_record()
    assert record["subject"] == f"battery:{B}"
    assert record["produced_on"] == "2026-01-15" and record["assessed_on"] == "2031-02-01"
    assert ItemState.from_record(record) == b

    class Row:  # an ORM row: attributes, dates as ISO strings, booleans possibly None
        pass

    row = Row()
    for key, value in record.items():
        setattr(row, key, value)
    row.legacy = None
    assert ItemState.from_record(row) == b


def test_a_subject_joins_kind_and_identifier_and_splits_back():
    assert lc.subject("battery", B) == f"battery:{B}"
    assert lc.split_subject(f"charger:{C}") == ("charger", C)
    for bad in ("", "battery", f"bike:{V}", "vehicle:"):
        with pytest.raises(ValueError):
            lc.split_subject(bad)


def test_every_refusal_code_has_messages_in_chinese_and_english():
    assert set(lc.MESSAGES) == lc.REFUSAL_CODES
    for code in lc.REFUSAL_CODES:
        error = lc.refusal(code, item("battery", B))
        assert error.status == 409 and B in error.message_zh and B in error.message_en


# --------------------------------------------------------------------------
# Commissioning, shipping, receiving


def test_commissioning_codes_an_item_held_by_its_maker():
    b = lc.commission("battery", B, MAKER, model="CB-48V20", produced_on=PRODUCED, batch="2026A")
    assert (b.state, b.holder_org_id, b.maker_org_id, b.model, b.reused) == ("commissioned", MAKER, MAKER, "CB-48V20", False)


def test_only_a_battery_is_ever_marked_reused():
    assert lc.commission("battery", B + "-R", MAKER, reused=True).reused
    assert not lc.commission("charger", C, MAKER, reused=True).reused


def test_the_holder_ships_an_item_to_a_named_organisation():
    shipped = lc.ship(item("vehicle", V, "commissioned", MAKER), MAKER, DEALER)
    assert (shipped.state, shipped.holder_org_id, shipped.shipped_to_org_id) == ("shipped", MAKER, DEALER)


def test_the_organisation_shipped_to_receives_it_into_its_stock():
    received = lc.receive(lc.ship(item("battery", B, "commissioned", MAKER), MAKER, DEALER), DEALER)
    assert (received.state, received.holder_org_id, received.shipped_to_org_id) == ("in_stock", DEALER, None)


def test_a_removed_battery_is_shipped_on_to_a_recycler_and_received_there():
    old = removed_battery()
    assert (old.state, old.holder_org_id, old.installed_in, old.owner) == ("removed", SHOP, None, None)
    at_recycler = lc.receive(lc.ship(old, SHOP, RECYCLER), RECYCLER)
    assert (at_recycler.state, at_recycler.holder_org_id) == ("in_stock", RECYCLER)


def test_an_item_can_be_received_only_once():
    received = lc.receive(lc.ship(item("charger", C, "commissioned", MAKER), MAKER, DEALER), DEALER)
    refused("not_shipped_to_you", lc.receive, received, DEALER)


def test_another_organisation_cannot_receive_what_was_shipped_elsewhere():
    refused("not_shipped_to_you", lc.receive, lc.ship(item("vehicle", V, "commissioned", MAKER), MAKER, DEALER), OTHER_DEALER)


# --------------------------------------------------------------------------
# Sale


def test_a_sale_binds_the_battery_and_charger_installed_in_the_sold_vehicle():
    v, b, c = sold_set()
    assert (v.state, v.owner, v.holder_org_id, v.sold_by_org_id) == ("sold", OWNER, None, DEALER)
    assert (v.battery, v.charger) == (b.subject, c.subject)
    for part in (b, c):
        assert (part.state, part.installed_in, part.owner, part.holder_org_id) == ("installed", v.subject, OWNER, None)


def test_a_sale_to_a_swap_operator_may_leave_out_the_battery():
    v, b, c = battery_free_set()
    assert b is None and v.battery is None
    assert (v.state, v.holder_org_id, v.owner, v.charger) == ("sold", OPERATOR, None, c.subject)
    assert (c.installed_in, c.holder_org_id) == (v.subject, OPERATOR)


def test_a_sale_without_a_battery_is_refused_as_split_sale():
    v, _, c = stock()
    refused("battery_missing", lc.sell, v, None, c, DEALER, owner_pseudonym=OWNER)
    # an organisation that is not a swap operator may not buy without a battery either
    refused("battery_missing", lc.sell, v, None, c, DEALER, buyer_org="fleet")


def test_a_sale_without_a_charger_is_refused():
    v, b, _ = stock()
    refused("charger_missing", lc.sell, v, b, None, DEALER, owner_pseudonym=OWNER)


def test_selling_the_same_vehicle_again_is_refused():
    v, b, c = sold_set()
    refused("vehicle_already_sold", lc.sell, v, b, c, DEALER, owner_pseudonym=OWNER2)


def test_a_dealer_cannot_sell_stock_it_does_not_hold():
    v, b, c = stock()
    refused("not_in_dealer_stock", lc.sell, v, b, c, OTHER_DEALER, owner_pseudonym=OWNER)
    refused("not_in_dealer_stock", lc.sell, v, item("battery", B2, holder=OTHER_DEALER), c, DEALER, owner_pseudonym=OWNER)


def test_a_battery_installed_in_one_vehicle_cannot_be_sold_with_another():
    _, b, c = sold_set()
    refused("battery_already_installed", lc.sell, item("vehicle", V2), b, item("charger", C2), DEALER, owner_pseudonym=OWNER)
    refused("charger_already_installed", lc.sell, item("vehicle", V2), item("battery", B2), c, DEALER, owner_pseudonym=OWNER)


def test_a_reused_battery_cannot_be_sold_with_an_e_bike():
    v, _, c = stock()
    refused("reused_battery", lc.sell, v, item("battery", B + "-R", reused=True), c, DEALER, owner_pseudonym=OWNER)


def test_a_sale_names_exactly_one_buyer():
    v, b, c = stock()
    refused("buyer_missing", lc.sell, v, b, c, DEALER)
    refused("buyer_conflict", lc.sell, v, b, c, DEALER, owner_pseudonym=OWNER, buyer_org=OPERATOR)


# --------------------------------------------------------------------------
# Registration, transfer, deregistration


def test_registration_registers_the_vehicle_and_its_bound_parts_to_the_owner():
    v, b, c = registered_set()
    assert (v.state, v.owner, v.plate) == ("registered", OWNER, PLATE)
    assert b.owner == c.owner == OWNER
    assert (b.installed_in, c.installed_in) == (v.subject, v.subject)


def test_a_battery_free_vehicle_registers_without_a_battery():
    v, _, c = battery_free_set()
    v2, b2, c2 = lc.register(v, None, c, OWNER, PLATE, "regpoint")
    assert (v2.state, b2, c2.owner) == ("registered", None, OWNER)


def test_a_vehicle_still_in_stock_cannot_be_registered():
    v, b, c = stock()
    refused("vehicle_not_sold", lc.register, v, b, c, OWNER, PLATE, "regpoint")


def test_a_vehicle_is_registered_only_once():
    v, b, c = registered_set()
    refused("already_registered", lc.register, v, b, c, OWNER, PLATE, "regpoint")


def test_registration_needs_the_battery_and_charger_bound_at_the_sale():
    v, b, c = sold_set()
    stranger = item("battery", B2)
    refused("battery_not_bound", lc.register, v, stranger, c, OWNER, PLATE, "regpoint")
    refused("battery_not_bound", lc.register, v, None, c, OWNER, PLATE, "regpoint")
    refused("charger_not_bound", lc.register, v, b, item("charger", C2), OWNER, PLATE, "regpoint")
    refused("charger_not_bound", lc.register, v, b, None, OWNER, PLATE, "regpoint")


def test_a_transfer_keeps_the_vehicle_registered_and_changes_its_owner_and_parts_owner():
    v, b, c = lc.transfer(*registered_set()[:1], OWNER2, *registered_set()[1:])
    assert (v.state, v.owner, v.plate) == ("registered", OWNER2, PLATE)
    assert b.owner == c.owner == OWNER2


def test_a_stolen_vehicle_cannot_be_transferred():
    v, b, c = registered_set()
    refused("vehicle_stolen", lc.transfer, lc.report_stolen(v), OWNER2, b, c)


def test_deregistering_frees_the_plate_and_keeps_the_last_owner():
    v = lc.deregister(registered_set()[0])
    assert (v.state, v.plate, v.owner) == ("deregistered", None, OWNER)


def test_a_deregistered_vehicle_cannot_be_registered_or_deregistered_again():
    v, b, c = registered_set()
    gone = lc.deregister(v)
    refused("vehicle_deregistered", lc.register, gone, b, c, OWNER, PLATE, "regpoint")
    refused("vehicle_not_registered", lc.deregister, gone)


# --------------------------------------------------------------------------
# Backfill (补码)


def test_backfilling_a_vehicle_registers_it_flagged_backfilled_forever():
    v, none = lc.backfill("vehicle", "OLDFRAME123", registration_point_org="regpoint", owner=OWNER, plate=PLATE, legacy=True)
    assert none is None
    assert (v.state, v.backfilled, v.legacy, v.owner, v.plate, v.holder_org_id) == ("registered", True, True, OWNER, PLATE, None)


def test_backfilling_a_battery_installs_it_in_the_registered_vehicle():
    v, _ = lc.backfill("vehicle", "OLDFRAME123", registration_point_org="regpoint", owner=OWNER)
    b, v2 = lc.backfill("battery", "OLDBATT456", registration_point_org="regpoint", vehicle=v, legacy=True)
    assert (b.state, b.installed_in, b.owner, b.backfilled) == ("installed", v.subject, OWNER, True)
    assert v2.battery == b.subject
    c, v3 = lc.backfill("charger", C, registration_point_org="regpoint", vehicle=v2)
    assert v3.charger == c.subject and v3.battery == b.subject


def test_an_item_already_coded_cannot_be_backfilled():
    refused("already_coded", lc.backfill, "vehicle", V, registration_point_org="r", owner=OWNER, existing=item("vehicle", V))


# --------------------------------------------------------------------------
# Swaps and replacements


def test_an_approved_swap_installs_the_new_battery_and_removes_the_old_one_to_the_shop():
    v, b, _ = registered_set()
    v2, old, new = lc.swap_battery(v, b, item("battery", B2, holder=SHOP), SHOP)
    assert v2.battery == new.subject
    assert (new.state, new.installed_in, new.owner, new.holder_org_id) == ("installed", v.subject, OWNER, None)
    assert (old.state, old.installed_in, old.owner, old.holder_org_id) == ("removed", None, None, SHOP)


def test_a_swap_operator_installs_a_battery_in_a_battery_free_vehicle():
    v, _, _ = battery_free_set()
    v2, old, new = lc.swap_battery(v, None, item("battery", B2, holder=OPERATOR), OPERATOR, swap_operator=True)
    assert old is None and v2.battery == new.subject and new.holder_org_id == OPERATOR


def test_a_repair_shop_cannot_fit_a_battery_to_a_battery_free_vehicle():
    v, _, _ = battery_free_set()
    refused("vehicle_without_battery", lc.swap_battery, v, None, item("battery", B2, holder=SHOP), SHOP)


def test_a_swap_operator_reinstalls_a_battery_it_removed_in_another_vehicle():
    v, b, _ = registered_set()
    _, old, _ = lc.swap_battery(v, b, item("battery", B2, holder=OPERATOR), OPERATOR, swap_operator=True)
    other, _, _ = lc.sell(item("vehicle", V2), item("battery", B3), item("charger", C2), DEALER, owner_pseudonym=OWNER2)
    other2, _, again = lc.swap_battery(other, lc.sell(item("vehicle", V2), item("battery", B3), item("charger", C2), DEALER,
                                                      owner_pseudonym=OWNER2)[1], old, OPERATOR, swap_operator=True)
    assert again.installed_in == other2.subject and other2.battery == old.subject


def test_the_old_battery_must_be_the_one_installed():
    v, b, _ = registered_set()
    new = item("battery", B3, holder=SHOP)
    refused("old_battery_not_installed", lc.swap_battery, v, item("battery", B2, "installed", None), new, SHOP)
    refused("old_battery_not_installed", lc.swap_battery, v, None, new, SHOP, swap_operator=True)


def test_a_battery_installed_elsewhere_cannot_be_fitted():
    v, b, _ = registered_set()
    _, other, _ = lc.sell(item("vehicle", V2), item("battery", B2), item("charger", C2), DEALER, owner_pseudonym=OWNER2)
    refused("battery_already_installed", lc.swap_battery, v, b, other, SHOP)


def test_a_replacement_charger_takes_the_old_ones_place():
    v, _, c = registered_set()
    v2, old, new = lc.replace_charger(v, c, item("charger", C2, holder=SHOP), SHOP)
    assert v2.charger == new.subject and new.installed_in == v.subject
    assert (old.state, old.holder_org_id) == ("removed", SHOP)


# --------------------------------------------------------------------------
# End of life


def test_a_recycler_retires_a_removed_battery_once():
    retired = lc.retire(removed_battery(), RECYCLER)
    assert (retired.state, retired.holder_org_id) == ("retired", RECYCLER)
    refused("item_retired", lc.retire, retired, RECYCLER)


def test_a_recycler_retires_what_it_holds_in_stock():
    assert lc.retire(item("charger", C, holder=RECYCLER), RECYCLER).state == "retired"


def test_a_retired_battery_is_recycled_by_its_recycler():
    recycled = lc.recycle(lc.retire(removed_battery(), RECYCLER), RECYCLER)
    assert recycled.state == "recycled"
    refused("item_recycled", lc.recycle, recycled, RECYCLER)


def test_scrapping_a_registered_vehicle_frees_its_plate_and_removes_its_parts_to_the_recycler():
    v, b, c = lc.scrap(*registered_set()[:1], RECYCLER, *registered_set()[1:])
    assert (v.state, v.plate, v.battery, v.charger, v.holder_org_id) == ("scrapped", None, None, None, RECYCLER)
    for part in (b, c):
        assert (part.state, part.installed_in, part.holder_org_id) == ("removed", None, RECYCLER)


def test_a_scrapped_vehicle_stays_scrapped():
    v, _, _ = lc.scrap(lc.deregister(registered_set()[0]), RECYCLER, *registered_set()[1:])
    refused("vehicle_scrapped", lc.scrap, v, RECYCLER)
    refused("vehicle_scrapped", lc.ship, v, RECYCLER, DEALER)
    refused("vehicle_scrapped", lc.report_stolen, v)


# --------------------------------------------------------------------------
# Flags and assessments


def test_stolen_is_a_flag_reported_and_cleared():
    v = registered_set()[0]
    stolen = lc.report_stolen(v)
    assert stolen.stolen and stolen.state == "registered"
    assert lc.report_recovered(stolen) == v


def test_a_passed_assessment_is_kept_and_a_later_failure_voids_it():
    b = item("battery", B, "installed", None, produced_on=datetime.date(2020, 1, 1))
    passed = lc.assess_battery(b, True, datetime.date(2025, 3, 1))
    assert passed.assessed_on == datetime.date(2025, 3, 1)
    assert lc.assess_battery(passed, True, datetime.date(2025, 1, 1)) == passed  # an older pass changes nothing
    assert lc.assess_battery(passed, False, datetime.date(2025, 2, 1)) == passed  # nor an older failure
    assert lc.assess_battery(passed, False, datetime.date(2025, 6, 1)).assessed_on is None
    assert lc.assess_battery(b, False, datetime.date(2025, 6, 1)) == b


# --------------------------------------------------------------------------
# Moving to another region: what leaves one log arrives in another


def _arriving(*items):
    """What another region's log says left with a vehicle, and the parts scanned here."""
    arriving = {i.kind: lc.carried(i) for i in items if i is not None}
    return arriving, {i.kind: i.identifier for i in items if i is not None}


def test_a_vehicle_arriving_from_another_region_is_registered_here_with_what_it_carries():
    rv, rb, rc = registered_set()
    assessed = lc.assess_battery(rb, True, datetime.date(2026, 6, 1))
    stolen = lc.report_stolen(rv)
    v, b, c = lc.transfer_in(*_arriving(stolen, assessed, rc), {}, owner=OWNER2, plate="苏A·12345")
    assert (v.state, v.owner, v.plate, v.battery, v.charger) == ("registered", OWNER2, "苏A·12345", b.subject, c.subject)
    assert (b.state, b.installed_in, b.owner, c.state, c.installed_in) == ("installed", v.subject, OWNER2, "installed", v.subject)
    # what describes the items comes with them: the theft flag, the model, the production, the assessment
    assert v.stolen and v.model == rv.model and b.produced_on == PRODUCED and b.assessed_on == datetime.date(2026, 6, 1)
    # where they were (the other region's organisations) does not
    assert v.holder_org_id is None and v.maker_org_id is None and v.sold_by_org_id is None
    # registered here, it goes on like any vehicle registered here
    v2, _, _ = lc.transfer(lc.report_recovered(v), OWNER, b, c)
    assert v2.owner == OWNER


def test_a_vehicle_that_left_comes_back_as_the_same_item_and_anything_else_already_here_is_refused():
    rv, rb, rc = registered_set()
    gone = lc.deregister(rv)  # it left for another region, its parts with it
    away = lc.report_stolen(replace_owner(rv, OWNER2))  # what the other region's log says comes back
    v, b, c = lc.transfer_in(*_arriving(away, rb, rc), {"vehicle": gone, "battery": rb, "charger": rc},
                             owner=OWNER, plate="浙B·R0001", returning=frozenset({"vehicle", "battery", "charger"}))
    assert (v.state, v.plate, v.owner, v.stolen, v.maker_org_id) == ("registered", "浙B·R0001", OWNER, True, MAKER)
    assert (b.state, b.installed_in, c.installed_in) == ("installed", v.subject, v.subject)
    refused("already_in_registry", lc.transfer_in, *_arriving(away, rb, rc), {"vehicle": gone, "battery": rb},
            owner=OWNER, plate=PLATE, returning=frozenset({"vehicle"}))


def replace_owner(item, owner):
    return dataclasses.replace(item, owner=owner)


def test_a_battery_free_vehicle_arrives_without_a_battery():
    fv, _, fc = battery_free_set()
    rv, _, rc = lc.register(fv, None, fc, OWNER, PLATE, "regpoint")
    v, b, c = lc.transfer_in(*_arriving(rv, None, rc), {}, owner=OWNER2, plate=PLATE)
    assert b is None and v.battery is None and c.installed_in == v.subject


# --------------------------------------------------------------------------
# Every refusal code of EVENT_STATE_CODES, one scenario each


def _scenarios():
    v, b, c = stock()
    sv, sb, sc = sold_set()
    rv, rb, rc = registered_set()
    fv, _, _ = battery_free_set()
    # another customer's set: nothing in common with the sets above
    _, ob, oc = lc.sell(item("vehicle", V2), item("battery", B3), item("charger", C2), DEALER, owner_pseudonym=OWNER2)
    removed = removed_battery()
    retired = lc.retire(removed_battery(), RECYCLER)
    recycled = lc.recycle(retired, RECYCLER)
    scrapped = lc.scrap(rv, RECYCLER, rb, rc)[0]
    shipped = lc.ship(item("battery", B2, "commissioned", MAKER), MAKER, SHOP)
    shop_b, shop_c = item("battery", B2, holder=SHOP), item("charger", C2, holder=SHOP)
    reused = item("battery", B3 + "-R", holder=SHOP, reused=True)
    back_v, _ = lc.backfill("vehicle", "OLDFRAME123", registration_point_org="r", owner=OWNER)
    S = pytest.param
    return [
        S("commission", "wrong_kind", lambda: lc.commission("bike", V, MAKER), id="commission: an unknown kind"),
        S("commission", "already_commissioned", lambda: lc.commission("vehicle", V, MAKER, existing=v),
          id="commission: an identifier already coded"),
        S("ship", "item_retired", lambda: lc.ship(retired, RECYCLER, SHOP), id="ship: a retired part"),
        S("ship", "item_recycled", lambda: lc.ship(recycled, RECYCLER, SHOP), id="ship: a recycled part"),
        S("ship", "vehicle_scrapped", lambda: lc.ship(scrapped, RECYCLER, DEALER), id="ship: a scrapped vehicle"),
        S("ship", "item_in_transit", lambda: lc.ship(shipped, MAKER, DEALER), id="ship: an item already in transit"),
        S("ship", "item_installed", lambda: lc.ship(sb, DEALER, SHOP), id="ship: an installed battery"),
        S("ship", "item_not_in_your_stock", lambda: lc.ship(v, OTHER_DEALER, SHOP), id="ship: by one who does not hold it"),
        S("ship", "item_not_in_your_stock", lambda: lc.ship(sv, DEALER, SHOP), id="ship: a vehicle the owner has"),
        S("ship", "ship_to_self", lambda: lc.ship(v, DEALER, DEALER), id="ship: to oneself"),
        S("receive", "not_shipped_to_you", lambda: lc.receive(v, DEALER), id="receive: an item not shipped"),
        S("sell", "wrong_kind", lambda: lc.sell(v, c, c, DEALER, owner_pseudonym=OWNER), id="sell: a charger as battery"),
        S("sell", "wrong_kind", lambda: lc.sell(b, b, c, DEALER, owner_pseudonym=OWNER), id="sell: a battery as vehicle"),
        S("sell", "wrong_kind", lambda: lc.sell(v, b, b, DEALER, owner_pseudonym=OWNER), id="sell: a battery as charger"),
        S("sell", "buyer_missing", lambda: lc.sell(v, b, c, DEALER), id="sell: no buyer"),
        S("sell", "buyer_conflict", lambda: lc.sell(v, b, c, DEALER, owner_pseudonym=OWNER, buyer_org=OPERATOR),
          id="sell: two buyers"),
        S("sell", "vehicle_scrapped", lambda: lc.sell(scrapped, b, c, DEALER, owner_pseudonym=OWNER), id="sell: scrapped"),
        S("sell", "vehicle_already_sold", lambda: lc.sell(sv, b, c, DEALER, owner_pseudonym=OWNER), id="sell: sold again"),
        S("sell", "not_in_dealer_stock", lambda: lc.sell(v, b, c, OTHER_DEALER, owner_pseudonym=OWNER),
          id="sell: another dealer's stock"),
        S("sell", "item_retired", lambda: lc.sell(v, retired, c, DEALER, owner_pseudonym=OWNER), id="sell: retired battery"),
        S("sell", "item_recycled", lambda: lc.sell(v, recycled, c, DEALER, owner_pseudonym=OWNER),
          id="sell: recycled battery"),
        S("sell", "battery_already_installed", lambda: lc.sell(v, sb, c, DEALER, owner_pseudonym=OWNER),
          id="sell: battery bound to another vehicle"),
        S("sell", "charger_already_installed", lambda: lc.sell(v, b, sc, DEALER, owner_pseudonym=OWNER),
          id="sell: charger bound to another vehicle"),
        S("sell", "battery_missing", lambda: lc.sell(v, None, c, DEALER, owner_pseudonym=OWNER), id="sell: split sale"),
        S("sell", "charger_missing", lambda: lc.sell(v, b, None, DEALER, owner_pseudonym=OWNER), id="sell: no charger"),
        S("sell", "reused_battery", lambda: lc.sell(v, dataclasses.replace(reused, holder_org_id=DEALER), c, DEALER,
                                                    owner_pseudonym=OWNER), id="sell: reused battery"),
        S("register", "wrong_kind", lambda: lc.register(sb, sb, sc, OWNER, PLATE, "r"), id="register: a battery"),
        S("register", "vehicle_scrapped", lambda: lc.register(scrapped, None, None, OWNER, PLATE, "r"),
          id="register: scrapped"),
        S("register", "already_registered", lambda: lc.register(rv, rb, rc, OWNER, PLATE, "r"), id="register: twice"),
        S("register", "vehicle_deregistered", lambda: lc.register(lc.deregister(rv), rb, rc, OWNER, PLATE, "r"),
          id="register: deregistered"),
        S("register", "vehicle_not_sold", lambda: lc.register(v, b, c, OWNER, PLATE, "r"), id="register: unsold"),
        S("register", "battery_not_bound", lambda: lc.register(sv, b, sc, OWNER, PLATE, "r"),
          id="register: unbound battery"),
        S("register", "charger_not_bound", lambda: lc.register(sv, sb, c, OWNER, PLATE, "r"),
          id="register: unbound charger"),
        S("register", "owner_missing", lambda: lc.register(sv, sb, sc, "", PLATE, "r"), id="register: no owner"),
        S("register", "plate_missing", lambda: lc.register(sv, sb, sc, OWNER, "", "r"), id="register: no plate"),
        S("transfer", "wrong_kind", lambda: lc.transfer(rb, OWNER2), id="transfer: a battery"),
        S("transfer", "vehicle_not_registered", lambda: lc.transfer(sv, OWNER2, sb, sc), id="transfer: unregistered"),
        S("transfer", "vehicle_stolen", lambda: lc.transfer(lc.report_stolen(rv), OWNER2, rb, rc), id="transfer: stolen"),
        S("transfer", "owner_missing", lambda: lc.transfer(rv, "", rb, rc), id="transfer: no new owner"),
        S("transfer", "same_owner", lambda: lc.transfer(rv, OWNER, rb, rc), id="transfer: to the same owner"),
        S("transfer", "battery_not_installed_in_vehicle", lambda: lc.transfer(rv, OWNER2, None, rc),
          id="transfer: without its battery"),
        S("transfer", "charger_not_installed_in_vehicle", lambda: lc.transfer(rv, OWNER2, rb, oc),
          id="transfer: with another charger"),
        S("deregister", "wrong_kind", lambda: lc.deregister(rb), id="deregister: a battery"),
        S("deregister", "vehicle_not_registered", lambda: lc.deregister(sv), id="deregister: unregistered"),
        S("backfill", "wrong_kind", lambda: lc.backfill("bike", V, registration_point_org="r", owner=OWNER),
          id="backfill: unknown kind"),
        S("backfill", "wrong_kind", lambda: lc.backfill("vehicle", V, registration_point_org="r", owner=OWNER, vehicle=rv),
          id="backfill: a vehicle into a vehicle"),
        S("backfill", "wrong_kind", lambda: lc.backfill("battery", "OLDBATT1", registration_point_org="r", vehicle=rb),
          id="backfill: into a battery"),
        S("backfill", "already_coded", lambda: lc.backfill("battery", B, registration_point_org="r", existing=b,
                                                           vehicle=back_v), id="backfill: already coded"),
        S("backfill", "owner_missing", lambda: lc.backfill("vehicle", "OLDFRAME9", registration_point_org="r"),
          id="backfill: a vehicle without owner"),
        S("backfill", "backfill_needs_vehicle", lambda: lc.backfill("battery", "OLDBATT1", registration_point_org="r"),
          id="backfill: a battery without its vehicle"),
        S("backfill", "vehicle_not_registered", lambda: lc.backfill("battery", "OLDBATT1", registration_point_org="r",
                                                                    vehicle=sv), id="backfill: into an unregistered vehicle"),
        S("backfill", "vehicle_has_battery", lambda: lc.backfill("battery", "OLDBATT1", registration_point_org="r",
                                                                 vehicle=rv), id="backfill: the vehicle has a battery"),
        S("backfill", "vehicle_has_charger", lambda: lc.backfill("charger", "OLDCHG1", registration_point_org="r",
                                                                 vehicle=rv), id="backfill: the vehicle has a charger"),
        S("backfill", "reused_battery", lambda: lc.backfill("battery", "OLDB-R", registration_point_org="r", vehicle=back_v,
                                                            reused=True), id="backfill: a reused battery"),
        S("swap_battery", "wrong_kind", lambda: lc.swap_battery(rv, rb, shop_c, SHOP), id="swap: a charger as battery"),
        S("swap_battery", "vehicle_not_in_service", lambda: lc.swap_battery(v, None, shop_b, SHOP, swap_operator=True),
          id="swap: a vehicle in stock"),
        S("swap_battery", "old_battery_not_installed", lambda: lc.swap_battery(rv, ob, shop_b, SHOP),
          id="swap: another vehicle's battery as old"),
        S("swap_battery", "vehicle_without_battery", lambda: lc.swap_battery(fv, None, shop_b, SHOP),
          id="swap: a repair shop fits a battery-free vehicle"),
        S("swap_battery", "item_retired", lambda: lc.swap_battery(rv, rb, retired, RECYCLER), id="swap: a retired battery"),
        S("swap_battery", "item_recycled", lambda: lc.swap_battery(rv, rb, recycled, RECYCLER),
          id="swap: a recycled battery"),
        S("swap_battery", "battery_already_installed", lambda: lc.swap_battery(rv, rb, sb, SHOP),
          id="swap: a battery installed elsewhere"),
        S("swap_battery", "not_in_shop_stock", lambda: lc.swap_battery(rv, rb, b, SHOP), id="swap: not the shop's stock"),
        S("swap_battery", "not_in_shop_stock", lambda: lc.swap_battery(rv, rb, removed, OPERATOR),
          id="swap: a battery another shop removed"),
        S("swap_battery", "reused_battery", lambda: lc.swap_battery(rv, rb, reused, SHOP), id="swap: a reused battery"),
        S("replace_charger", "wrong_kind", lambda: lc.replace_charger(rv, rc, shop_b, SHOP),
          id="replace: a battery as charger"),
        S("replace_charger", "vehicle_not_in_service", lambda: lc.replace_charger(scrapped, rc, shop_c, SHOP),
          id="replace: a scrapped vehicle"),
        S("replace_charger", "old_charger_not_installed", lambda: lc.replace_charger(rv, oc, shop_c, SHOP),
          id="replace: another vehicle's charger as old"),
        S("replace_charger", "old_charger_not_installed", lambda: lc.replace_charger(rv, None, shop_c, SHOP),
          id="replace: no old charger"),
        S("replace_charger", "item_retired", lambda: lc.replace_charger(
            rv, rc, lc.retire(item("charger", C2, holder=RECYCLER), RECYCLER), RECYCLER), id="replace: a retired charger"),
        S("replace_charger", "item_recycled", lambda: lc.replace_charger(
            rv, rc, lc.recycle(lc.retire(item("charger", C2, holder=RECYCLER), RECYCLER), RECYCLER), RECYCLER),
          id="replace: a recycled charger"),
        S("replace_charger", "charger_already_installed", lambda: lc.replace_charger(rv, rc, sc, SHOP),
          id="replace: a charger bound elsewhere"),
        S("replace_charger", "not_in_shop_stock", lambda: lc.replace_charger(rv, rc, c, SHOP),
          id="replace: not the shop's stock"),
        S("retire", "wrong_kind", lambda: lc.retire(v, RECYCLER), id="retire: a vehicle"),
        S("retire", "item_retired", lambda: lc.retire(retired, RECYCLER), id="retire: twice"),
        S("retire", "item_recycled", lambda: lc.retire(recycled, RECYCLER), id="retire: recycled"),
        S("retire", "item_installed", lambda: lc.retire(rb, RECYCLER), id="retire: installed"),
        S("retire", "item_in_transit", lambda: lc.retire(shipped, RECYCLER), id="retire: in transit"),
        S("retire", "item_not_in_your_stock", lambda: lc.retire(b, RECYCLER), id="retire: a dealer's stock"),
        S("recycle", "wrong_kind", lambda: lc.recycle(v, RECYCLER), id="recycle: a vehicle"),
        S("recycle", "item_recycled", lambda: lc.recycle(recycled, RECYCLER), id="recycle: twice"),
        S("recycle", "item_not_retired", lambda: lc.recycle(removed, RECYCLER), id="recycle: not retired"),
        S("recycle", "item_not_in_your_stock", lambda: lc.recycle(retired, "recycler2"), id="recycle: another's"),
        S("scrap", "wrong_kind", lambda: lc.scrap(rb, RECYCLER), id="scrap: a battery"),
        S("scrap", "vehicle_scrapped", lambda: lc.scrap(scrapped, RECYCLER), id="scrap: twice"),
        S("scrap", "item_in_transit", lambda: lc.scrap(lc.ship(v, DEALER, RECYCLER), RECYCLER), id="scrap: in transit"),
        S("scrap", "item_not_in_your_stock", lambda: lc.scrap(v, RECYCLER), id="scrap: a dealer's stock"),
        S("scrap", "battery_not_installed_in_vehicle", lambda: lc.scrap(rv, RECYCLER, None, rc),
          id="scrap: without naming the battery"),
        S("scrap", "charger_not_installed_in_vehicle", lambda: lc.scrap(fv, RECYCLER, None, oc),
          id="scrap: with another vehicle's charger"),
        S("report_stolen", "vehicle_scrapped", lambda: lc.report_stolen(scrapped), id="stolen: scrapped"),
        S("report_stolen", "item_recycled", lambda: lc.report_stolen(recycled), id="stolen: recycled"),
        S("report_stolen", "already_reported_stolen", lambda: lc.report_stolen(lc.report_stolen(rv)), id="stolen: twice"),
        S("report_recovered", "not_reported_stolen", lambda: lc.report_recovered(rv), id="recovered: not stolen"),
        S("assess_battery", "wrong_kind", lambda: lc.assess_battery(rc, True, datetime.date(2031, 1, 1)),
          id="assess: a charger"),
        S("assess_battery", "item_recycled", lambda: lc.assess_battery(recycled, True, datetime.date(2031, 1, 1)),
          id="assess: recycled"),
        S("assess_battery", "assessment_before_production", lambda: lc.assess_battery(rb, True, datetime.date(2025, 1, 1)),
          id="assess: before production"),
        S("transfer_in", "wrong_kind", lambda: lc.transfer_in({"vehicle": lc.carried(rb)}, {}, {}, owner=OWNER2, plate=PLATE),
          id="transfer in: a battery described as the vehicle"),
        S("transfer_in", "already_in_registry",
          lambda: lc.transfer_in(*_arriving(rv, rb, rc), {"vehicle": None, "battery": rb}, owner=OWNER2, plate=PLATE),
          id="transfer in: the battery is already here"),
        S("transfer_in", "owner_missing", lambda: lc.transfer_in(*_arriving(rv, rb, rc), {}, owner="", plate=PLATE),
          id="transfer in: no owner"),
        S("transfer_in", "plate_missing", lambda: lc.transfer_in(*_arriving(rv, rb, rc), {}, owner=OWNER2, plate=""),
          id="transfer in: no plate"),
        S("transfer_in", "battery_not_bound",
          lambda: lc.transfer_in(_arriving(rv, rb, rc)[0], {"battery": B2, "charger": C}, {}, owner=OWNER2, plate=PLATE),
          id="transfer in: another battery scanned"),
        S("transfer_in", "charger_not_bound",
          lambda: lc.transfer_in(_arriving(rv, rb, rc)[0], {"battery": B}, {}, owner=OWNER2, plate=PLATE),
          id="transfer in: the charger not scanned"),
    ]


SCENARIOS = _scenarios()


@pytest.mark.parametrize(("event", "code", "step"), SCENARIOS)
def test_a_step_the_state_does_not_allow_is_refused_with_its_stable_code(event, code, step):
    assert code in EVENT_STATE_CODES[event]
    refused(code, step)


def test_every_listed_refusal_code_is_exercised_by_a_scenario():
    exercised = {(p.values[0], p.values[1]) for p in SCENARIOS}
    listed = {(event, code) for event, codes in EVENT_STATE_CODES.items() for code in codes}
    assert listed == exercised


# --------------------------------------------------------------------------
# Random sequences of steps (hypothesis)

ORGS = (MAKER, DEALER, OTHER_DEALER, SHOP, OPERATOR, RECYCLER)
VEHICLES = ("117322500000001", "117322500000002", "117322500000003")
BATTERIES = ("CATLF48V2026000001", "CATLF48V2026000002", "CATLF48V2026000003", "CATLF48V2026000004-R")
CHARGERS = ("MA2H3K8L1-26-48-000001", "MA2H3K8L1-26-48-000002", "MA2H3K8L1-26-48-000003")
IDENTS = {"vehicle": VEHICLES, "battery": BATTERIES, "charger": CHARGERS}
#: Where items are shipped: mostly to the dealer, so that complete sets gather there.
DESTINATIONS = (DEALER, DEALER, DEALER, OTHER_DEALER, SHOP, OPERATOR, RECYCLER)
TERMINAL = {"recycled", "scrapped"}


class Lifecycles(RuleBasedStateMachine):
    """A small city where organisations try steps on items in any order.

    Each step draws ``sensible``: when true, it picks arguments that have a
    chance (an item in the actor's stock, the bound parts, the holder as
    actor), so that walks reach sales, registrations, swaps and retirements;
    when false, anything goes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, ItemState] = {}
        for kind, idents in IDENTS.items():
            for ident in idents:
                made = lc.commission(kind, ident, MAKER, produced_on=PRODUCED, reused=ident.endswith("-R"))
                self.items[made.subject] = made
        self.terminal: set[str] = set()

    @initialize(stocked=st.sets(st.sampled_from((DEALER, SHOP, OPERATOR, RECYCLER))))
    def stock_up(self, stocked):
        """Deliver every item to one of the ``stocked`` organisations (by shipping and receiving)."""
        orgs = sorted(stocked)
        for n, it in enumerate(list(self.items.values()) if orgs else []):
            to = orgs[n % len(orgs)] if it.kind != "vehicle" or DEALER not in orgs else DEALER
            self.items[it.subject] = lc.receive(lc.ship(it, MAKER, to), to)

    # helpers ---------------------------------------------------------------

    def _pick(self, kind: str, i: int, sensible: bool, prefer=lambda it: True) -> ItemState:
        every = [self.items[lc.subject(kind, ident)] for ident in IDENTS[kind]]
        pool = [it for it in every if prefer(it)] if sensible else every
        pool = pool or every
        return pool[i % len(pool)]

    def _bound_part(self, vehicle: ItemState, slot: str) -> ItemState | None:
        bound = getattr(vehicle, slot)
        return self.items[bound] if bound else None

    def _try(self, event: str, fn, *args, **kwargs) -> None:
        """Apply a step; a refusal must carry a listed code and leave every input unchanged."""
        inputs = [a for a in (*args, *kwargs.values()) if isinstance(a, ItemState)]
        before = copy.deepcopy(inputs)
        snapshot = dict(self.items)
        try:
            result = fn(*args, **kwargs)
        except DomainError as error:
            assert error.status == 409
            assert error.code in EVENT_STATE_CODES[event], (event, error.code)
            assert inputs == before
            assert self.items == snapshot
            return
        for new in result if isinstance(result, tuple) else (result,):
            if new is not None:
                self.items[new.subject] = new

    # steps -----------------------------------------------------------------

    @rule(kind=st.sampled_from(lc.ITEM_KINDS), i=st.integers(0, 3), sensible=st.booleans(),
          actor=st.sampled_from(ORGS), to=st.sampled_from(DESTINATIONS), receive=st.booleans())
    def ship(self, kind, i, sensible, actor, to, receive):
        it = self._pick(kind, i, sensible, lambda x: x.state in ("commissioned", "in_stock", "removed"))
        self._try("ship", lc.ship, it, (it.holder_org_id or actor) if sensible else actor, to)
        if receive:
            it = self.items[it.subject]
            self._try("receive", lc.receive, it, (it.shipped_to_org_id or actor) if sensible else actor)

    @rule(kind=st.sampled_from(lc.ITEM_KINDS), i=st.integers(0, 3), sensible=st.booleans(), actor=st.sampled_from(ORGS))
    def receive(self, kind, i, sensible, actor):
        it = self._pick(kind, i, sensible, lambda x: x.state == "shipped")
        self._try("receive", lc.receive, it, (it.shipped_to_org_id or actor) if sensible else actor)

    @rule(v=st.integers(0, 2), b=st.one_of(st.none(), st.integers(0, 3)), c=st.integers(0, 2),
          to_operator=st.booleans(), sensible=st.booleans(), actor=st.sampled_from(ORGS))
    def sell(self, v, b, c, to_operator, sensible, actor):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state == "in_stock")
        dealer = (vehicle.holder_org_id or actor) if sensible else actor

        def in_stock(x):
            return x.state == "in_stock" and x.holder_org_id == dealer

        battery = None if b is None else self._pick("battery", b, sensible, in_stock)
        buyer = dict(buyer_org=OPERATOR, buyer_is_swap_operator=True) if to_operator else dict(owner_pseudonym=OWNER)
        self._try("sell", lc.sell, vehicle, battery, self._pick("charger", c, sensible, in_stock), dealer, **buyer)

    @rule(v=st.integers(0, 2), sensible=st.booleans())
    def register(self, v, sensible):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state == "sold")
        self._try("register", lc.register, vehicle, self._bound_part(vehicle, "battery"),
                  self._bound_part(vehicle, "charger"), OWNER, f"浙B·A000{v}", "regpoint")

    @rule(v=st.integers(0, 2), sensible=st.booleans(), owner=st.sampled_from((OWNER, OWNER2)))
    def transfer(self, v, sensible, owner):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state == "registered")
        self._try("transfer", lc.transfer, vehicle, owner, self._bound_part(vehicle, "battery"),
                  self._bound_part(vehicle, "charger"))

    @rule(v=st.integers(0, 2), sensible=st.booleans())
    def deregister(self, v, sensible):
        self._try("deregister", lc.deregister, self._pick("vehicle", v, sensible, lambda x: x.state == "registered"))

    @rule(v=st.integers(0, 2), b=st.integers(0, 3), sensible=st.booleans(), other_old=st.integers(0, 3),
          shop=st.sampled_from((SHOP, OPERATOR, RECYCLER)))
    def swap_battery(self, v, b, sensible, other_old, shop):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state in ("sold", "registered"))
        old = self._bound_part(vehicle, "battery") if sensible else self._get_any("battery", other_old)
        new = self._pick("battery", b, sensible, lambda x: x.state in ("in_stock", "removed") and x.holder_org_id == shop)
        self._try("swap_battery", lc.swap_battery, vehicle, old, new, shop, swap_operator=shop == OPERATOR)

    @rule(v=st.integers(0, 2), c=st.integers(0, 2), sensible=st.booleans(), shop=st.sampled_from((SHOP, OPERATOR)))
    def replace_charger(self, v, c, sensible, shop):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state in ("sold", "registered"))
        new = self._pick("charger", c, sensible, lambda x: x.state in ("in_stock", "removed") and x.holder_org_id == shop)
        self._try("replace_charger", lc.replace_charger, vehicle, self._bound_part(vehicle, "charger"), new, shop)

    @rule(kind=st.sampled_from(("battery", "charger")), i=st.integers(0, 3), sensible=st.booleans(),
          recycler=st.sampled_from(ORGS))
    def retire(self, kind, i, sensible, recycler):
        it = self._pick(kind, i, sensible, lambda x: x.state == "removed")
        self._try("retire", lc.retire, it, recycler)

    @rule(kind=st.sampled_from(("battery", "charger")), i=st.integers(0, 3), sensible=st.booleans(),
          recycler=st.sampled_from(ORGS))
    def recycle(self, kind, i, sensible, recycler):
        it = self._pick(kind, i, sensible, lambda x: x.state == "retired")
        self._try("recycle", lc.recycle, it, (it.holder_org_id or recycler) if sensible else recycler)

    @rule(v=st.integers(0, 2), sensible=st.booleans(), recycler=st.sampled_from(ORGS))
    def scrap(self, v, sensible, recycler):
        vehicle = self._pick("vehicle", v, sensible, lambda x: x.state in ("registered", "deregistered"))
        self._try("scrap", lc.scrap, vehicle, recycler, self._bound_part(vehicle, "battery"),
                  self._bound_part(vehicle, "charger"))

    @rule(kind=st.sampled_from(lc.ITEM_KINDS), i=st.integers(0, 3), stolen=st.booleans())
    def report(self, kind, i, stolen):
        it = self._get_any(kind, i)
        if stolen:
            self._try("report_stolen", lc.report_stolen, it)
        else:
            self._try("report_recovered", lc.report_recovered, it)

    def _get_any(self, kind: str, i: int) -> ItemState:
        return self._pick(kind, i, False)

    # invariants ------------------------------------------------------------

    @invariant()
    def bindings_agree_both_ways_so_no_part_is_in_two_vehicles(self):
        for vehicle in (s for s in self.items.values() if s.kind == "vehicle"):
            for slot in ("battery", "charger"):
                bound = getattr(vehicle, slot)
                if bound is not None:
                    part = self.items[bound]
                    assert part.state == "installed" and part.installed_in == vehicle.subject
        for part in (s for s in self.items.values() if s.kind != "vehicle"):
            if part.state == "installed":
                assert getattr(self.items[part.installed_in], part.kind) == part.subject
            else:
                assert part.installed_in is None
        for slot in ("battery", "charger"):
            bound = [getattr(s, slot) for s in self.items.values() if s.kind == "vehicle" and getattr(s, slot)]
            assert len(bound) == len(set(bound))

    @invariant()
    def a_reused_battery_never_goes_into_a_vehicle(self):
        assert all(not (s.reused and s.state == "installed") for s in self.items.values())

    @invariant()
    def an_item_in_transit_has_an_addressee_and_no_other_does(self):
        for s in self.items.values():
            assert (s.state == "shipped") == (s.shipped_to_org_id is not None)

    @invariant()
    def recycled_and_scrapped_are_final(self):
        for subject in self.terminal:
            assert self.items[subject].state in TERMINAL
        self.terminal |= {s.subject for s in self.items.values() if s.state in TERMINAL}


Lifecycles.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None, database=None)
test_random_sequences_of_steps_keep_the_state_machines_consistent = Lifecycles.TestCase
