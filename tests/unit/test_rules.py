"""Rules at sale, at swaps, at registration and elsewhere: every failed rule is named, with its subject."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain import lifecycle as lc
from registry.domain import rules
from registry.domain.errors import DomainError
from registry.domain.lifecycle import ItemState
from registry.domain.rules import (
    CHECK_CODES,
    CertificateFacts,
    PartFacts,
    RecallFacts,
    RecallTarget,
    RegistrationContext,
    SaleContext,
    SwapContext,
    battery_overdue_for_assessment,
    check_correction,
    check_registration,
    check_sale,
    check_swap,
    open_recalls,
    recall_covers,
    refuse_if_any,
)

SETTINGS = settings(database=None, deadline=None, max_examples=200)

TODAY = datetime.date(2026, 11, 23)
MAKER, OTHER_MAKER = "maker", "maker2"
DEALER, OTHER_DEALER, SHOP, OPERATOR = "dealer", "dealer2", "shop", "operator"
V, V2 = "117322500000001", "117322500000002"
B, B2 = "CATLF48V2026000001", "CATLF48V2026000002"
C, C2 = "MA2H3K8L1-26-48-000001", "MA2H3K8L1-26-48-000002"
CERT = CertificateFacts("2026011119000101", "valid", datetime.date(2031, 1, 1))
APPROVED_BATTERIES = frozenset({"CB-48V20"})
APPROVED_CHARGERS = frozenset({"MA2H3K8L1-26-48"})
MODELS = {"vehicle": "TDT-2026", "battery": "CB-48V20", "charger": "MA2H3K8L1-26-48"}
RESIDENT_ID = "330206199001011235"
PLATE = "浙B·A0001"


def part(kind: str, identifier: str, **kw) -> PartFacts:
    """Facts of a genuine, certified, approved item in the dealer's stock, changed by ``kw``."""
    facts = dict(
        identifier=identifier, kind=kind, state="in_stock", holder_org_id=DEALER, model=MODELS[kind],
        model_kind=kind, maker_org_id=MAKER, certificate=CERT, produced_on=datetime.date(2026, 1, 15),
    )
    facts.update(kw)
    return PartFacts(**facts)


def sale(**kw) -> SaleContext:
    """A sale of a complete, valid set by the dealer, changed by ``kw``."""
    facts = dict(
        dealer_org_id=DEALER, vehicle=part("vehicle", V), battery=part("battery", B), charger=part("charger", C),
        approved_battery_models=APPROVED_BATTERIES, approved_charger_models=APPROVED_CHARGERS, today=TODAY,
    )
    facts.update(kw)
    return SaleContext(**facts)


def codes(problems) -> list[tuple[str, str]]:
    return [(p.code, p.subject) for p in problems]


# --------------------------------------------------------------------------
# Sale (扫码核验 / 标配销售)


def test_a_complete_certified_approved_set_in_the_dealers_stock_passes_the_sale_check():
    assert check_sale(sale()) == []


def test_a_sale_without_a_battery_is_refused_as_split_sale():
    assert codes(check_sale(sale(battery=None))) == [("battery_missing", "battery")]


def test_a_sale_to_a_swap_operator_may_leave_out_the_battery():
    assert check_sale(sale(battery=None, buyer_is_swap_operator=True)) == []


def test_a_sale_without_a_charger_is_refused_even_to_a_swap_operator():
    assert codes(check_sale(sale(charger=None))) == [("charger_missing", "charger")]
    assert codes(check_sale(sale(charger=None, buyer_is_swap_operator=True))) == [("charger_missing", "charger")]


def test_a_sale_without_a_vehicle_is_refused():
    assert codes(check_sale(sale(vehicle=None))) == [("vehicle_missing", "vehicle")]


def test_an_unknown_code_is_named_and_nothing_else_is_judged_about_it():
    problems = check_sale(sale(battery=PartFacts.unknown(B2, "battery")))
    assert codes(problems) == [("unknown_item", "battery")]
    assert B2 in problems[0].message_zh and B2 in problems[0].message_en


def test_a_forged_code_is_named():
    assert codes(check_sale(sale(vehicle=PartFacts.forged(V, "vehicle")))) == [("code_not_genuine", "vehicle")]


def test_a_charger_scanned_as_the_battery_is_the_wrong_kind():
    assert codes(check_sale(sale(battery=part("charger", C2)))) == [("wrong_kind", "battery")]


def test_an_item_whose_model_is_of_another_kind_is_the_wrong_kind():
    assert codes(check_sale(sale(battery=part("battery", B, model_kind="charger")))) == [("wrong_kind", "battery")]


def test_approvals_are_not_judged_when_the_vehicle_is_unknown():
    assert codes(check_sale(sale(vehicle=PartFacts.unknown(V, "vehicle"), approved_battery_models=frozenset()))) == [
        ("unknown_item", "vehicle")
    ]


def test_a_dealer_cannot_sell_stock_it_does_not_hold():
    assert codes(check_sale(sale(dealer_org_id=OTHER_DEALER))) == [
        ("not_in_dealer_stock", "vehicle"), ("not_in_dealer_stock", "battery"), ("not_in_dealer_stock", "charger"),
    ]


def test_a_part_not_yet_received_fails_the_sale_check_and_passes_once_received():
    shipped = part("battery", B, state="shipped", holder_org_id=MAKER)
    assert codes(check_sale(sale(battery=shipped))) == [("not_in_dealer_stock", "battery")]
    received = dataclasses.replace(shipped, state="in_stock", holder_org_id=DEALER)
    assert check_sale(sale(battery=received)) == []


def test_a_vehicle_already_sold_fails_the_sale_check():
    assert codes(check_sale(sale(vehicle=part("vehicle", V, state="sold", holder_org_id=None)))) == [
        ("not_in_dealer_stock", "vehicle")
    ]


def test_a_part_without_a_ccc_certificate_is_refused():
    assert codes(check_sale(sale(charger=part("charger", C, certificate=None)))) == [("certificate_missing", "charger")]
    blank = CertificateFacts(None)
    assert codes(check_sale(sale(charger=part("charger", C, certificate=blank)))) == [("certificate_missing", "charger")]


def test_a_certificate_expired_before_today_is_refused_and_one_expiring_today_is_not():
    expired = CertificateFacts(CERT.number, "valid", TODAY - datetime.timedelta(days=1))
    assert codes(check_sale(sale(vehicle=part("vehicle", V, certificate=expired)))) == [
        ("certificate_expired", "vehicle")
    ]
    assert check_sale(sale(vehicle=part("vehicle", V, certificate=CertificateFacts(CERT.number, "valid", TODAY)))) == []


def test_a_suspended_certificate_refuses_the_sale():
    suspended = CertificateFacts(CERT.number, "suspended", CERT.expires_on)
    assert codes(check_sale(sale(battery=part("battery", B, certificate=suspended)))) == [
        ("certificate_suspended", "battery")
    ]


def test_a_revoked_certificate_refuses_the_sale_and_an_unknown_status_counts_as_revoked():
    for status in ("revoked", "withdrawn?"):
        cert = CertificateFacts(CERT.number, status, CERT.expires_on)
        assert codes(check_sale(sale(battery=part("battery", B, certificate=cert)))) == [
            ("certificate_revoked", "battery")
        ]


def test_a_suspended_and_expired_certificate_names_both_rules():
    cert = CertificateFacts(CERT.number, "suspended", datetime.date(2020, 1, 1))
    assert codes(check_sale(sale(battery=part("battery", B, certificate=cert)))) == [
        ("certificate_suspended", "battery"), ("certificate_expired", "battery"),
    ]


def test_a_battery_of_a_model_not_approved_for_the_vehicle_model_is_refused():
    larger = part("battery", B, model="CB-48V30")  # a larger battery: no tolerance, just another model
    assert codes(check_sale(sale(battery=larger))) == [("battery_not_approved_for_model", "battery")]


def test_a_charger_of_a_model_not_approved_for_the_vehicle_model_is_refused():
    assert codes(check_sale(sale(charger=part("charger", C, model="OTHER-26-48")))) == [
        ("charger_not_approved_for_model", "charger")
    ]


def test_a_part_under_an_open_recall_is_refused():
    assert codes(check_sale(sale(vehicle=part("vehicle", V, open_recall=True)))) == [("open_recall", "vehicle")]


def test_a_part_from_a_blacklisted_maker_is_refused():
    problems = check_sale(sale(blacklisted_makers=frozenset({MAKER})))
    assert codes(problems) == [("maker_blacklisted", s) for s in ("vehicle", "battery", "charger")]


def test_while_a_positive_list_is_in_force_a_maker_not_on_it_is_refused():
    ctx = sale(charger=part("charger", C, maker_org_id=OTHER_MAKER), listed_makers=frozenset({MAKER}))
    assert ctx.positive_list_in_force
    assert codes(check_sale(ctx)) == [("maker_not_listed", "charger")]


def test_with_no_positive_list_every_maker_not_blacklisted_may_sell():
    ctx = sale(charger=part("charger", C, maker_org_id=OTHER_MAKER))
    assert not ctx.positive_list_in_force and check_sale(ctx) == []


def test_a_reused_battery_is_refused_by_its_flag_or_by_its_code():
    assert codes(check_sale(sale(battery=part("battery", B, reused=True)))) == [("reused_battery", "battery")]
    assert codes(check_sale(sale(battery=part("battery", B + "-R")))) == [("reused_battery", "battery")]


def test_every_failed_rule_of_a_sale_is_listed_not_just_the_first():
    ctx = sale(
        vehicle=part("vehicle", V, state="sold", open_recall=True),
        battery=part("battery", B + "-R", model="CB-48V30", certificate=None, holder_org_id=OTHER_DEALER),
        charger=part("charger", C, maker_org_id=OTHER_MAKER, model="X"),
        blacklisted_makers=frozenset({OTHER_MAKER}),
    )
    assert codes(check_sale(ctx)) == [
        ("not_in_dealer_stock", "vehicle"),
        ("open_recall", "vehicle"),
        ("not_in_dealer_stock", "battery"),
        ("certificate_missing", "battery"),
        ("battery_not_approved_for_model", "battery"),
        ("reused_battery", "battery"),
        ("charger_not_approved_for_model", "charger"),
        ("maker_blacklisted", "charger"),
    ]


def test_the_dry_run_and_the_refused_sale_give_the_same_list():
    ctx = sale(battery=part("battery", B, model="CB-48V30"), charger=None)
    dry_run = check_sale(ctx)
    with pytest.raises(DomainError) as refused:
        refuse_if_any(check_sale(ctx), "sale_refused")
    assert (refused.value.code, refused.value.status) == ("sale_refused", 409)
    assert refused.value.problems == dry_run
    assert [p.as_dict("en")["code"] for p in dry_run] == ["battery_not_approved_for_model", "charger_missing"]


def test_an_allowed_step_raises_nothing():
    refuse_if_any(check_sale(sale()), "sale_refused")


# Each independent defect: (subject, how to break the context, the problem it must add).
_DEFECTS = {
    "not_in_stock": lambda p: dataclasses.replace(p, holder_org_id=OTHER_DEALER),
    "no_certificate": lambda p: dataclasses.replace(p, certificate=None),
    "suspended": lambda p: dataclasses.replace(p, certificate=dataclasses.replace(CERT, status="suspended")),
    "revoked": lambda p: dataclasses.replace(p, certificate=dataclasses.replace(CERT, status="revoked")),
    "expired": lambda p: dataclasses.replace(p, certificate=dataclasses.replace(CERT, expires_on=datetime.date(2025, 1, 1))),
    "other_model": lambda p: dataclasses.replace(p, model="UNAPPROVED"),
    "recalled": lambda p: dataclasses.replace(p, open_recall=True),
    "blacklisted": lambda p: dataclasses.replace(p, maker_org_id="bad-maker"),
    "reused": lambda p: dataclasses.replace(p, reused=True),
    "unknown": lambda p: PartFacts.unknown(p.identifier, p.kind),
    "forged": lambda p: PartFacts.forged(p.identifier, p.kind),
    "wrong_kind": lambda p: dataclasses.replace(p, model_kind="battery" if p.kind != "battery" else "charger"),
}
_IDENTITY = {"unknown": "unknown_item", "forged": "code_not_genuine", "wrong_kind": "wrong_kind"}
_CERTIFICATE = ("no_certificate", "suspended", "revoked", "expired")


@st.composite
def _broken_sales(draw):
    chosen = {}
    for slot in ("vehicle", "battery", "charger"):
        names = [n for n in _DEFECTS if not (n == "other_model" and slot == "vehicle") and not (n == "reused" and slot != "battery")]
        picked = draw(st.sets(st.sampled_from(names)))
        # one certificate defect at most per part, one identity defect at most
        picked -= set(sorted(picked & set(_CERTIFICATE))[1:]) | set(sorted(picked & set(_IDENTITY))[1:])
        chosen[slot] = picked
    missing = draw(st.sets(st.sampled_from(["battery", "charger"])))
    operator = draw(st.booleans())
    return chosen, missing, operator


def _expected(chosen, missing, operator):
    expected = set()
    vehicle_known = not (chosen["vehicle"] & set(_IDENTITY))
    for slot in ("vehicle", "battery", "charger"):
        if slot in missing:
            if slot == "charger" or not operator:
                expected.add((f"{slot}_missing", slot))
            continue
        identity = chosen[slot] & set(_IDENTITY)
        if identity:
            expected.add((_IDENTITY[identity.pop()], slot))
            continue
        cert = {"no_certificate": "certificate_missing", "suspended": "certificate_suspended",
                "revoked": "certificate_revoked", "expired": "certificate_expired"}
        simple = {"not_in_stock": "not_in_dealer_stock", "recalled": "open_recall", "blacklisted": "maker_blacklisted",
                  "reused": "reused_battery", **cert}
        for defect in chosen[slot]:
            if defect in simple:
                expected.add((simple[defect], slot))
            elif defect == "other_model" and vehicle_known:
                expected.add((f"{slot}_not_approved_for_model", slot))
    return expected


@SETTINGS
@given(_broken_sales())
def test_any_combination_of_defects_names_exactly_those_rules_in_a_stable_order(case):
    chosen, missing, operator = case
    parts = {}
    for slot, identifier in (("vehicle", V), ("battery", B), ("charger", C)):
        facts = part(slot, identifier)
        for defect in sorted(chosen[slot], key=lambda d: d in _IDENTITY):  # identity last: it replaces the facts
            facts = _DEFECTS[defect](facts)
        parts[slot] = None if slot in missing else facts
    ctx = sale(buyer_is_swap_operator=operator, blacklisted_makers=frozenset({"bad-maker"}), **parts)
    problems = check_sale(ctx)
    assert set(codes(problems)) == _expected(chosen, missing, operator)
    assert len(problems) == len(set(codes(problems)))
    order = ["vehicle", "battery", "charger"]
    assert [order.index(p.subject) for p in problems] == sorted(order.index(p.subject) for p in problems)
    assert all(p.code in CHECK_CODES["sale"] and p.message_zh and p.message_en for p in problems)
    assert check_sale(ctx) == problems  # a dry run again gives the same list


# --------------------------------------------------------------------------
# Swaps


def swap(**kw) -> SwapContext:
    """A repair shop swapping the installed battery of a registered vehicle for an approved one in its stock."""
    facts = dict(
        part_kind="battery", actor_org_id=SHOP, vehicle=part("vehicle", V, state="registered", holder_org_id=None),
        installed=B, old=part("battery", B, state="installed", holder_org_id=None),
        new=part("battery", B2, holder_org_id=SHOP), approved_models=APPROVED_BATTERIES, today=TODAY,
    )
    facts.update(kw)
    return SwapContext(**facts)


def charger_swap(**kw) -> SwapContext:
    facts = dict(
        part_kind="charger", installed=C, old=part("charger", C, state="installed", holder_org_id=None),
        new=part("charger", C2, holder_org_id=SHOP), approved_models=APPROVED_CHARGERS,
    )
    facts.update(kw)
    return swap(**facts)


def test_an_approved_battery_swap_passes():
    assert check_swap(swap()) == []
    assert check_swap(swap(vehicle=part("vehicle", V, state="sold", holder_org_id=None))) == []


def test_an_approved_charger_replacement_passes():
    assert check_swap(charger_swap()) == []


def test_a_larger_battery_is_refused_as_not_approved_for_the_model():
    assert codes(check_swap(swap(new=part("battery", B2, holder_org_id=SHOP, model="CB-48V30")))) == [
        ("battery_not_approved_for_model", "new_battery")
    ]


def test_a_charger_not_approved_for_the_model_is_refused():
    assert codes(check_swap(charger_swap(new=part("charger", C2, holder_org_id=SHOP, model="X")))) == [
        ("charger_not_approved_for_model", "new_charger")
    ]


def test_the_old_battery_must_be_the_one_installed():
    stranger = part("battery", "CATLF48V2026000009", state="installed", holder_org_id=None)
    assert codes(check_swap(swap(old=stranger))) == [("old_battery_not_installed", "old_battery")]
    assert codes(check_swap(swap(old=None))) == [("old_battery_not_installed", "old_battery")]
    assert codes(check_swap(swap(installed=None))) == [("old_battery_not_installed", "old_battery")]


def test_the_old_charger_must_be_named_and_be_the_one_bound():
    assert codes(check_swap(charger_swap(old=None))) == [("old_charger_not_installed", "old_charger")]
    assert codes(check_swap(charger_swap(installed="MA2H3K8L1-26-48-000009"))) == [
        ("old_charger_not_installed", "old_charger")
    ]


def test_a_swap_operator_installs_a_battery_in_a_battery_free_vehicle():
    ctx = swap(actor_org_id=OPERATOR, actor_is_swap_operator=True, installed=None, old=None,
               new=part("battery", B2, holder_org_id=OPERATOR))
    assert check_swap(ctx) == []


def test_a_repair_shop_cannot_fit_a_battery_to_a_battery_free_vehicle():
    assert codes(check_swap(swap(installed=None, old=None))) == [("vehicle_without_battery", "vehicle")]


def test_a_removed_battery_the_acting_organisation_holds_may_be_fitted():
    assert check_swap(swap(new=part("battery", B2, state="removed", holder_org_id=SHOP))) == []


def test_a_new_battery_not_in_the_shops_stock_is_refused():
    assert codes(check_swap(swap(new=part("battery", B2, holder_org_id=DEALER)))) == [("not_in_shop_stock", "new_battery")]
    assert codes(check_swap(swap(new=part("battery", B2, state="commissioned", holder_org_id=SHOP)))) == [
        ("not_in_shop_stock", "new_battery")
    ]


def test_a_retired_or_recycled_battery_is_never_fitted():
    assert codes(check_swap(swap(new=part("battery", B2, state="retired", holder_org_id=SHOP)))) == [
        ("item_retired", "new_battery")
    ]
    assert codes(check_swap(swap(new=part("battery", B2, state="recycled", holder_org_id=SHOP)))) == [
        ("item_recycled", "new_battery")
    ]


def test_a_battery_installed_in_another_vehicle_is_not_fitted():
    assert codes(check_swap(swap(new=part("battery", B2, state="installed", holder_org_id=None)))) == [
        ("battery_already_installed", "new_battery")
    ]
    assert codes(check_swap(charger_swap(new=part("charger", C2, state="installed", holder_org_id=None)))) == [
        ("charger_already_installed", "new_charger")
    ]


def test_a_reused_battery_is_not_fitted_to_an_e_bike():
    assert codes(check_swap(swap(new=part("battery", B2 + "-R", holder_org_id=SHOP)))) == [("reused_battery", "new_battery")]


def test_a_swap_needs_a_certified_new_part_without_open_recall_from_a_listed_maker():
    cert = CertificateFacts(CERT.number, "revoked", datetime.date(2026, 1, 1))
    new = part("battery", B2, holder_org_id=SHOP, certificate=cert, open_recall=True, maker_org_id=OTHER_MAKER)
    ctx = swap(new=new, blacklisted_makers=frozenset({OTHER_MAKER}), listed_makers=frozenset({MAKER}))
    assert codes(check_swap(ctx)) == [
        ("certificate_revoked", "new_battery"), ("certificate_expired", "new_battery"), ("open_recall", "new_battery"),
        ("maker_blacklisted", "new_battery"), ("maker_not_listed", "new_battery"),
    ]
    for status, code in (("suspended", "certificate_suspended"),):
        suspended = part("battery", B2, holder_org_id=SHOP, certificate=dataclasses.replace(CERT, status=status))
        assert codes(check_swap(swap(new=suspended))) == [(code, "new_battery")]
    assert codes(check_swap(swap(new=part("battery", B2, holder_org_id=SHOP, certificate=None)))) == [
        ("certificate_missing", "new_battery")
    ]


def test_a_battery_past_five_years_without_a_passed_assessment_is_not_fitted():
    old_battery = part("battery", B2, holder_org_id=SHOP, produced_on=datetime.date(2021, 1, 1))
    assert codes(check_swap(swap(new=old_battery))) == [("battery_assessment_overdue", "new_battery")]
    assessed = dataclasses.replace(old_battery, assessed_on=datetime.date(2026, 6, 1))
    assert check_swap(swap(new=assessed)) == []


def test_a_vehicle_out_of_service_takes_no_new_battery():
    for state in ("in_stock", "deregistered", "scrapped"):
        assert codes(check_swap(swap(vehicle=part("vehicle", V, state=state)))) == [("vehicle_not_in_service", "vehicle")]


def test_a_swap_names_unknown_forged_and_missing_subjects():
    assert codes(check_swap(swap(vehicle=None))) == [("vehicle_missing", "vehicle")]
    assert codes(check_swap(swap(vehicle=PartFacts.unknown(V, "vehicle")))) == [("unknown_item", "vehicle")]
    assert codes(check_swap(swap(new=None))) == [("new_part_missing", "new_battery")]
    assert codes(check_swap(swap(new=PartFacts.forged(B2, "battery")))) == [("code_not_genuine", "new_battery")]
    assert codes(check_swap(swap(new=part("charger", C2, holder_org_id=SHOP)))) == [("wrong_kind", "new_battery")]
    assert codes(check_swap(swap(old=PartFacts.unknown(B, "battery")))) == [("unknown_item", "old_battery")]


def test_every_failed_rule_of_a_swap_is_listed():
    ctx = swap(
        vehicle=part("vehicle", V, state="deregistered"),
        old=part("battery", "CATLF48V2026000009", state="installed"),
        new=part("battery", B2 + "-R", state="installed", model="CB-48V30", open_recall=True),
    )
    assert codes(check_swap(ctx)) == [
        ("vehicle_not_in_service", "vehicle"),
        ("old_battery_not_installed", "old_battery"),
        ("battery_already_installed", "new_battery"),
        ("battery_not_approved_for_model", "new_battery"),
        ("open_recall", "new_battery"),
        ("reused_battery", "new_battery"),
    ]
    with pytest.raises(DomainError) as refused:
        refuse_if_any(check_swap(ctx), "swap_refused")
    assert (refused.value.code, refused.value.status, len(refused.value.problems)) == ("swap_refused", 409, 6)


def test_a_swap_of_anything_but_a_battery_or_charger_is_a_programming_error():
    with pytest.raises(ValueError):
        check_swap(swap(part_kind="vehicle"))


# --------------------------------------------------------------------------
# Registration (合体登记)


def _sold(owner="pseudo", **kw):
    v, b, c = (
        ItemState(kind="vehicle", identifier=V, state="in_stock", holder_org_id=DEALER),
        ItemState(kind="battery", identifier=B, state="in_stock", holder_org_id=DEALER),
        ItemState(kind="charger", identifier=C, state="in_stock", holder_org_id=DEALER),
    )
    return lc.sell(v, b, c, DEALER, owner_pseudonym=owner, **kw)


def registration(**kw) -> RegistrationContext:
    v, b, c = _sold()
    facts = dict(vehicle=v, battery=b, charger=c, owner_id_number=RESIDENT_ID, plate=PLATE, today=TODAY,
                 vehicle_standard="GB17761-2024")
    facts.update(kw)
    return RegistrationContext(**facts)


def test_a_sold_vehicle_with_its_bound_parts_and_a_valid_owner_and_free_plate_registers():
    assert check_registration(registration()) == []


def test_a_vehicle_not_sold_cannot_be_registered():
    v = ItemState(kind="vehicle", identifier=V, state="in_stock", holder_org_id=DEALER)
    assert ("vehicle_not_sold", "vehicle") in codes(check_registration(registration(vehicle=v)))


def test_a_registered_deregistered_or_scrapped_vehicle_is_not_registered_anew():
    v, b, c = _sold()
    rv, rb, rc = lc.register(v, b, c, "pseudo", PLATE, "regpoint")
    assert codes(check_registration(registration(vehicle=rv, battery=rb, charger=rc))) == [
        ("already_registered", "vehicle")
    ]
    dv = lc.deregister(rv)
    assert codes(check_registration(registration(vehicle=dv, battery=rb, charger=rc))) == [
        ("vehicle_deregistered", "vehicle")
    ]
    sv, sb, sc = lc.scrap(dv, "recycler", rb, rc)
    assert ("vehicle_scrapped", "vehicle") in codes(check_registration(registration(vehicle=sv, battery=sb, charger=sc)))


def test_an_unknown_vehicle_or_another_kind_cannot_be_registered():
    assert ("unknown_item", "vehicle") in codes(check_registration(registration(vehicle=None)))
    _, b, _ = _sold()
    assert ("wrong_kind", "vehicle") in codes(check_registration(registration(vehicle=b)))


def test_registration_needs_the_battery_and_charger_bound_to_the_vehicle():
    stranger = ItemState(kind="battery", identifier=B2, state="in_stock", holder_org_id=DEALER)
    assert codes(check_registration(registration(battery=stranger))) == [("battery_not_bound", "battery")]
    assert codes(check_registration(registration(battery=None))) == [("battery_not_bound", "battery")]
    assert codes(check_registration(registration(charger=None))) == [("charger_not_bound", "charger")]
    other_charger = ItemState(kind="charger", identifier=C2, state="installed", installed_in=f"vehicle:{V2}")
    assert codes(check_registration(registration(charger=other_charger))) == [("charger_not_bound", "charger")]


def test_a_vehicle_sold_to_a_swap_operator_registers_without_a_battery():
    v, _, c = lc.sell(
        ItemState(kind="vehicle", identifier=V, state="in_stock", holder_org_id=DEALER), None,
        ItemState(kind="charger", identifier=C, state="in_stock", holder_org_id=DEALER),
        DEALER, buyer_org=OPERATOR, buyer_is_swap_operator=True,
    )
    assert check_registration(registration(vehicle=v, battery=None, charger=c, sold_to_swap_operator=True)) == []
    assert codes(check_registration(registration(vehicle=v, battery=None, charger=c))) == [
        ("battery_not_bound", "battery")
    ]


def test_the_owners_identity_document_must_be_valid():
    problems = check_registration(registration(owner_id_number="330206199001011234"))
    assert codes(problems) == [("owner_id_invalid", "owner")]
    assert "校验码" in problems[0].message_zh and "check digit" in problems[0].message_en
    assert codes(check_registration(registration(owner_id_type="driving_licence"))) == [("owner_id_invalid", "owner")]
    assert check_registration(registration(owner_id_type="passport", owner_id_number="E12345678")) == []


def test_a_plate_in_use_is_refused_whether_or_not_the_middle_dot_is_written():
    for taken in ("浙B·A0001", "浙BA0001", "浙B・A0001", "浙b.a0001"):
        assert codes(check_registration(registration(plates_in_use=frozenset({taken})))) == [("plate_taken", "plate")]
    assert check_registration(registration(plate="浙BA0001", plates_in_use=frozenset({"浙B·A0002"}))) == []


def test_a_malformed_plate_is_refused():
    assert codes(check_registration(registration(plate="B·A0001"))) == [("plate_invalid", "plate")]


def test_a_non_standard_vehicle_is_refused_after_its_transition_deadline():
    late = registration(vehicle_standard="non_standard", transition_deadline=TODAY - datetime.timedelta(days=1))
    assert codes(check_registration(late)) == [("non_standard_after_deadline", "vehicle")]
    on_the_day = registration(vehicle_standard="non_standard", transition_deadline=TODAY)
    assert check_registration(on_the_day) == []
    no_deadline = registration(vehicle_standard="non_standard", transition_deadline=None)
    assert codes(check_registration(no_deadline)) == [("non_standard_after_deadline", "vehicle")]
    assert check_registration(registration(vehicle_standard="GB17761-2018", transition_deadline=datetime.date(2020, 1, 1))) == []


def test_every_failed_rule_of_a_registration_is_listed():
    v = ItemState(kind="vehicle", identifier=V, state="in_stock", holder_org_id=DEALER)
    ctx = registration(vehicle=v, battery=None, charger=None, owner_id_number="1", plates_in_use=frozenset({PLATE}),
                       vehicle_standard="non_standard", transition_deadline=datetime.date(2025, 12, 31))
    assert codes(check_registration(ctx)) == [
        ("vehicle_not_sold", "vehicle"), ("non_standard_after_deadline", "vehicle"), ("battery_not_bound", "battery"),
        ("charger_not_bound", "charger"), ("owner_id_invalid", "owner"), ("plate_taken", "plate"),
    ]


def test_plates_are_compared_without_their_middle_dot():
    assert rules.plate_key("浙B·A0001") == rules.plate_key("浙ba0001") == rules.plate_key("浙B.A0001") == "浙BA0001"


# --------------------------------------------------------------------------
# Battery health assessments


def test_a_battery_younger_than_five_years_is_never_overdue():
    assert not battery_overdue_for_assessment(datetime.date(2022, 1, 1), None, datetime.date(2026, 12, 31))


def test_a_battery_is_overdue_from_its_fifth_anniversary_without_a_passed_assessment():
    produced = datetime.date(2021, 6, 15)
    assert not battery_overdue_for_assessment(produced, None, datetime.date(2026, 6, 14))
    assert battery_overdue_for_assessment(produced, None, datetime.date(2026, 6, 15))


def test_a_passed_assessment_after_the_five_year_point_keeps_it_in_service_for_one_year():
    produced, assessed = datetime.date(2020, 3, 1), datetime.date(2025, 4, 10)
    assert not battery_overdue_for_assessment(produced, assessed, datetime.date(2025, 4, 10))
    assert not battery_overdue_for_assessment(produced, assessed, datetime.date(2026, 4, 9))
    assert battery_overdue_for_assessment(produced, assessed, datetime.date(2026, 4, 10))


def test_an_assessment_before_the_five_year_point_does_not_count():
    assert battery_overdue_for_assessment(datetime.date(2020, 3, 1), datetime.date(2025, 2, 28), datetime.date(2025, 3, 2))


def test_an_assessment_dated_in_the_future_does_not_count():
    assert battery_overdue_for_assessment(datetime.date(2020, 3, 1), datetime.date(2026, 1, 1), datetime.date(2025, 6, 1))


def test_a_battery_of_unknown_age_is_not_listed_as_overdue():
    assert not battery_overdue_for_assessment(None, None, TODAY)


def test_a_battery_made_on_29_february_turns_five_on_1_march():
    assert rules.assessment_due_on(datetime.date(2024, 2, 29)) == datetime.date(2029, 3, 1)
    assert not battery_overdue_for_assessment(datetime.date(2024, 2, 29), None, datetime.date(2029, 2, 28))
    assert battery_overdue_for_assessment(datetime.date(2024, 2, 29), None, datetime.date(2029, 3, 1))


@SETTINGS
@given(
    produced=st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)),
    assessed_after=st.one_of(st.none(), st.integers(0, 4000)),
    today_after=st.integers(0, 6000),
)
def test_overdue_means_five_years_old_and_no_passed_assessment_of_the_last_year(produced, assessed_after, today_after):
    assessed = None if assessed_after is None else produced + datetime.timedelta(days=assessed_after)
    today = produced + datetime.timedelta(days=today_after)
    due = rules.assessment_due_on(produced)
    in_force = assessed is not None and due <= assessed <= today < rules._add_years(assessed, 1)
    assert battery_overdue_for_assessment(produced, assessed, today) == (today >= due and not in_force)


# --------------------------------------------------------------------------
# Recalls


ITEM = RecallTarget(model="CB-48V20", batch="2026A", produced_on=datetime.date(2026, 2, 10), certificate=CERT.number)


def test_a_recall_by_model_covers_every_item_of_that_model():
    assert recall_covers(RecallFacts(model="CB-48V20"), ITEM)
    assert not recall_covers(RecallFacts(model="CB-48V30"), ITEM)


def test_a_recall_by_batch_covers_that_batch_only():
    assert recall_covers(RecallFacts(model="CB-48V20", batch="2026A"), ITEM)
    assert not recall_covers(RecallFacts(model="CB-48V20", batch="2026B"), ITEM)
    assert not recall_covers(RecallFacts(model="CB-48V30", batch="2026A"), ITEM)  # every criterion must match


def test_a_recall_by_production_dates_includes_both_ends_and_may_be_open_ended():
    day = ITEM.produced_on
    assert recall_covers(RecallFacts(produced_from=day, produced_to=day), ITEM)
    assert recall_covers(RecallFacts(produced_from=day), ITEM)
    assert recall_covers(RecallFacts(produced_to=day), ITEM)
    assert not recall_covers(RecallFacts(produced_from=day + datetime.timedelta(days=1)), ITEM)
    assert not recall_covers(RecallFacts(produced_to=day - datetime.timedelta(days=1)), ITEM)
    assert not recall_covers(RecallFacts(produced_from=day), dataclasses.replace(ITEM, produced_on=None))


def test_a_recall_by_certificate_covers_items_of_models_under_it():
    recall = RecallFacts(certificate=CERT.number)
    assert recall_covers(recall, ITEM)
    assert recall_covers(recall, part("battery", B))  # PartFacts carry the certificate as CertificateFacts
    assert not recall_covers(RecallFacts(certificate="2026011119000999"), ITEM)
    item = ItemState(kind="battery", identifier=B, state="installed", model="CB-48V20")
    assert recall_covers(RecallFacts(model="CB-48V20"), item) and not recall_covers(recall, item)


def test_a_recall_with_no_criterion_covers_nothing():
    assert not recall_covers(RecallFacts(), ITEM)


def test_open_recalls_leave_out_closed_recalls_and_items_remedied():
    recalls = [RecallFacts(id="r1", model="CB-48V20"), RecallFacts(id="r2", batch="2026A", closed=True),
               RecallFacts(id="r3", certificate=CERT.number), RecallFacts(id="r4", model="X")]
    assert open_recalls(recalls, ITEM) == ["r1", "r3"]
    assert open_recalls(recalls, ITEM, remedied={"r1"}) == ["r3"]


# --------------------------------------------------------------------------
# Corrections


def test_the_recording_organisation_may_correct_its_event():
    assert check_correction("sell", DEALER, DEALER, "dealer", False) == []


def test_an_admin_may_correct_any_event():
    assert check_correction("sell", DEALER, "admin-org", "admin", False) == []


def test_another_organisation_may_not_correct_an_event_and_is_told_403_alone():
    problems = check_correction("sell", DEALER, OTHER_DEALER, "dealer", True)
    assert codes(problems) == [("correction_not_yours", "correction"), ("correction_breaks_later_events", "correction")]
    with pytest.raises(DomainError) as refused:
        refuse_if_any(problems, "correction_refused")
    assert refused.value.status == 403
    assert [p.code for p in refused.value.problems] == ["correction_not_yours"]


def test_a_correction_that_would_leave_a_later_event_impossible_is_refused():
    problems = check_correction("sell", DEALER, DEALER, "dealer", True)
    assert codes(problems) == [("correction_breaks_later_events", "correction")]
    with pytest.raises(DomainError) as refused:
        refuse_if_any(problems, "correction_refused")
    assert (refused.value.code, refused.value.status) == ("correction_refused", 409)


def test_an_organisation_certificate_or_model_is_not_voided_but_may_not_be_otherwise_refused():
    for kind in ("register_organisation", "certificate", "model"):
        assert codes(check_correction(kind, DEALER, DEALER, "regulator", False, voids=True)) == [
            ("correction_not_reversible", "correction")
        ]
        assert check_correction(kind, DEALER, DEALER, "regulator", False) == []
    assert check_correction("commission", DEALER, DEALER, "manufacturer", False, voids=True) == []


def test_a_move_between_regions_is_not_voided_but_its_descriptive_fields_may_be_corrected():
    assert codes(check_correction("transfer_in", DEALER, DEALER, "registration_point", False, voids=True,
                                  crosses_regions=True)) == [("correction_crosses_regions", "correction")]
    assert check_correction("transfer_in", DEALER, DEALER, "registration_point", False, crosses_regions=True) == []
    assert check_correction("deregister", DEALER, DEALER, "registration_point", False, voids=True) == []


def test_a_correction_is_not_itself_corrected_and_a_voided_event_not_voided_again():
    assert codes(check_correction("correction", DEALER, DEALER, "dealer", False)) == [
        ("correction_of_correction", "correction")
    ]
    assert codes(check_correction("sell", DEALER, DEALER, "dealer", False, already_voided=True)) == [
        ("event_already_voided", "correction")
    ]


# --------------------------------------------------------------------------
# Every code of CHECK_CODES, one scenario each


def _scenarios():
    S = pytest.param
    retired_new = part("battery", B2, state="retired", holder_org_id=SHOP)
    return [
        # sale
        S("sale", "vehicle_missing", lambda: check_sale(sale(vehicle=None)), id="sale: no vehicle"),
        S("sale", "battery_missing", lambda: check_sale(sale(battery=None)), id="sale: split sale"),
        S("sale", "charger_missing", lambda: check_sale(sale(charger=None)), id="sale: no charger"),
        S("sale", "unknown_item", lambda: check_sale(sale(battery=PartFacts.unknown(B, "battery"))), id="sale: unknown"),
        S("sale", "code_not_genuine", lambda: check_sale(sale(battery=PartFacts.forged(B, "battery"))), id="sale: forged"),
        S("sale", "wrong_kind", lambda: check_sale(sale(charger=part("battery", B2))), id="sale: wrong kind"),
        S("sale", "not_in_dealer_stock", lambda: check_sale(sale(dealer_org_id=OTHER_DEALER)), id="sale: not in stock"),
        S("sale", "certificate_missing", lambda: check_sale(sale(battery=part("battery", B, certificate=None))),
          id="sale: no certificate"),
        S("sale", "certificate_suspended", lambda: check_sale(sale(battery=part(
            "battery", B, certificate=dataclasses.replace(CERT, status="suspended")))), id="sale: suspended"),
        S("sale", "certificate_revoked", lambda: check_sale(sale(battery=part(
            "battery", B, certificate=dataclasses.replace(CERT, status="revoked")))), id="sale: revoked"),
        S("sale", "certificate_expired", lambda: check_sale(sale(battery=part(
            "battery", B, certificate=dataclasses.replace(CERT, expires_on=datetime.date(2026, 1, 1))))), id="sale: expired"),
        S("sale", "battery_not_approved_for_model", lambda: check_sale(sale(battery=part("battery", B, model="X"))),
          id="sale: battery not approved"),
        S("sale", "charger_not_approved_for_model", lambda: check_sale(sale(charger=part("charger", C, model="X"))),
          id="sale: charger not approved"),
        S("sale", "open_recall", lambda: check_sale(sale(charger=part("charger", C, open_recall=True))), id="sale: recall"),
        S("sale", "maker_blacklisted", lambda: check_sale(sale(blacklisted_makers=frozenset({MAKER}))),
          id="sale: blacklisted"),
        S("sale", "maker_not_listed", lambda: check_sale(sale(listed_makers=frozenset({OTHER_MAKER}))),
          id="sale: not listed"),
        S("sale", "reused_battery", lambda: check_sale(sale(battery=part("battery", B, reused=True))), id="sale: reused"),
        # swap
        S("swap", "vehicle_missing", lambda: check_swap(swap(vehicle=None)), id="swap: no vehicle"),
        S("swap", "unknown_item", lambda: check_swap(swap(new=PartFacts.unknown(B2, "battery"))), id="swap: unknown"),
        S("swap", "code_not_genuine", lambda: check_swap(swap(vehicle=PartFacts.forged(V, "vehicle"))), id="swap: forged"),
        S("swap", "wrong_kind", lambda: check_swap(swap(old=part("charger", C))), id="swap: wrong kind"),
        S("swap", "vehicle_not_in_service", lambda: check_swap(swap(vehicle=part("vehicle", V))),
          id="swap: vehicle in stock"),
        S("swap", "old_battery_not_installed", lambda: check_swap(swap(installed=B2)), id="swap: not the installed one"),
        S("swap", "old_charger_not_installed", lambda: check_swap(charger_swap(old=None)), id="swap: no old charger"),
        S("swap", "vehicle_without_battery", lambda: check_swap(swap(installed=None, old=None)),
          id="swap: battery-free vehicle"),
        S("swap", "new_part_missing", lambda: check_swap(swap(new=None)), id="swap: no new part"),
        S("swap", "item_retired", lambda: check_swap(swap(new=retired_new)), id="swap: retired"),
        S("swap", "item_recycled", lambda: check_swap(swap(new=dataclasses.replace(retired_new, state="recycled"))),
          id="swap: recycled"),
        S("swap", "battery_already_installed", lambda: check_swap(swap(new=part("battery", B2, state="installed"))),
          id="swap: battery installed elsewhere"),
        S("swap", "charger_already_installed", lambda: check_swap(charger_swap(new=part("charger", C2, state="installed"))),
          id="swap: charger bound elsewhere"),
        S("swap", "not_in_shop_stock", lambda: check_swap(swap(new=part("battery", B2))), id="swap: not in stock"),
        S("swap", "certificate_missing", lambda: check_swap(swap(new=part("battery", B2, holder_org_id=SHOP,
                                                                          certificate=None))), id="swap: no certificate"),
        S("swap", "certificate_suspended", lambda: check_swap(swap(new=part(
            "battery", B2, holder_org_id=SHOP, certificate=dataclasses.replace(CERT, status="suspended")))),
          id="swap: suspended"),
        S("swap", "certificate_revoked", lambda: check_swap(swap(new=part(
            "battery", B2, holder_org_id=SHOP, certificate=dataclasses.replace(CERT, status="revoked")))),
          id="swap: revoked"),
        S("swap", "certificate_expired", lambda: check_swap(swap(new=part(
            "battery", B2, holder_org_id=SHOP, certificate=dataclasses.replace(CERT, expires_on=datetime.date(2026, 1, 1))))),
          id="swap: expired"),
        S("swap", "battery_not_approved_for_model", lambda: check_swap(swap(approved_models=frozenset())),
          id="swap: battery not approved"),
        S("swap", "charger_not_approved_for_model", lambda: check_swap(charger_swap(approved_models=frozenset())),
          id="swap: charger not approved"),
        S("swap", "open_recall", lambda: check_swap(swap(new=part("battery", B2, holder_org_id=SHOP, open_recall=True))),
          id="swap: recall"),
        S("swap", "maker_blacklisted", lambda: check_swap(swap(blacklisted_makers=frozenset({MAKER}))),
          id="swap: blacklisted"),
        S("swap", "maker_not_listed", lambda: check_swap(swap(listed_makers=frozenset({OTHER_MAKER}))),
          id="swap: not listed"),
        S("swap", "reused_battery", lambda: check_swap(swap(new=part("battery", B2, holder_org_id=SHOP, reused=True))),
          id="swap: reused"),
        S("swap", "battery_assessment_overdue", lambda: check_swap(swap(new=part(
            "battery", B2, holder_org_id=SHOP, produced_on=datetime.date(2019, 1, 1)))), id="swap: overdue assessment"),
        # registration
        S("registration", "unknown_item", lambda: check_registration(registration(vehicle=None)), id="register: unknown"),
        S("registration", "wrong_kind", lambda: check_registration(registration(vehicle=_sold()[2])),
          id="register: a charger"),
        S("registration", "already_registered", lambda: check_registration(registration(
            vehicle=dataclasses.replace(_sold()[0], state="registered"))), id="register: twice"),
        S("registration", "vehicle_deregistered", lambda: check_registration(registration(
            vehicle=dataclasses.replace(_sold()[0], state="deregistered"))), id="register: deregistered"),
        S("registration", "vehicle_scrapped", lambda: check_registration(registration(
            vehicle=dataclasses.replace(_sold()[0], state="scrapped"))), id="register: scrapped"),
        S("registration", "vehicle_not_sold", lambda: check_registration(registration(
            vehicle=dataclasses.replace(_sold()[0], state="in_stock"))), id="register: unsold"),
        S("registration", "non_standard_after_deadline", lambda: check_registration(registration(
            vehicle_standard="non_standard", transition_deadline=datetime.date(2025, 1, 1))), id="register: non-standard"),
        S("registration", "battery_not_bound", lambda: check_registration(registration(battery=None)),
          id="register: no battery"),
        S("registration", "charger_not_bound", lambda: check_registration(registration(charger=None)),
          id="register: no charger"),
        S("registration", "owner_id_invalid", lambda: check_registration(registration(owner_id_number="X")),
          id="register: bad document"),
        S("registration", "plate_invalid", lambda: check_registration(registration(plate="ABC")), id="register: bad plate"),
        S("registration", "plate_taken", lambda: check_registration(registration(plates_in_use=frozenset({"浙BA0001"}))),
          id="register: plate taken"),
        # correction
        S("correction", "correction_not_yours", lambda: check_correction("sell", DEALER, SHOP, "repair_shop", False),
          id="correction: not yours"),
        S("correction", "correction_of_correction", lambda: check_correction("correction", DEALER, DEALER, "dealer", False),
          id="correction: of a correction"),
        S("correction", "event_already_voided", lambda: check_correction("sell", DEALER, DEALER, "dealer", False,
                                                                         already_voided=True), id="correction: voided"),
        S("correction", "correction_breaks_later_events", lambda: check_correction("sell", DEALER, DEALER, "dealer", True),
          id="correction: breaks later events"),
        S("correction", "correction_not_reversible", lambda: check_correction("certificate", DEALER, DEALER, "regulator", False,
                                                                              voids=True), id="correction: a certificate"),
        S("correction", "correction_crosses_regions",
          lambda: check_correction("deregister", DEALER, DEALER, "registration_point", False, voids=True, crosses_regions=True),
          id="correction: a move to another region"),
    ]


SCENARIOS = _scenarios()


@pytest.mark.parametrize(("check", "code", "run"), SCENARIOS)
def test_each_rule_is_named_by_its_stable_code(check, code, run):
    problems = run()
    assert code in [p.code for p in problems]
    assert all(p.code in CHECK_CODES[check] for p in problems)
    assert all(p.subject in rules.SUBJECT_LABELS and p.message_zh and p.message_en for p in problems)


def test_every_listed_rule_code_is_exercised_by_a_scenario():
    exercised = {(p.values[0], p.values[1]) for p in SCENARIOS}
    listed = {(check, code) for check, codes_ in CHECK_CODES.items() for code in codes_}
    assert listed == exercised


def test_every_rule_code_has_messages_in_chinese_and_english():
    assert set(rules.MESSAGES) == {code for codes_ in CHECK_CODES.values() for code in codes_}
