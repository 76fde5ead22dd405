"""The catalogue's input rules (registry.domain.catalogue): pure, no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain import catalogue as rules
from registry.domain.identifiers import InvalidIdentifier

BATTERY = {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}
VEHICLE = {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55}


def specs(kind, raw):
    errors = {}
    out = rules.specs(kind, raw, errors)
    return out, errors


def test_model_names_are_normalised_like_identifiers():
    assert rules.model_name(" xh－48v20 ") == "XH-48V20"
    assert rules.model_name("ＬＹ-ＴＤＴ2024") == "LY-TDT2024"


@pytest.mark.parametrize("raw", ["", "   ", "-X", "型号A", "A B?", "A" * 65, None, 12])
def test_a_bad_model_name_is_refused_with_a_reason(raw):
    with pytest.raises(InvalidIdentifier) as err:
        rules.model_name(raw)
    assert err.value.field == "model" and err.value.message_zh and err.value.message_en


def test_battery_specs_keep_whole_numbers_as_integers_and_capacity_as_a_decimal_string():
    out, errors = specs("battery", {**BATTERY, "capacity_ah": 20.8, "energy_wh": 998})
    assert errors == {}
    assert out == {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": "20.8", "energy_wh": 998}


def test_an_integral_float_is_accepted_as_an_integer_and_a_fractional_one_refused():
    out, errors = specs("battery", {**BATTERY, "voltage_v": 48.0})
    assert errors == {} and out["voltage_v"] == 48 and isinstance(out["voltage_v"], int)
    _, errors = specs("battery", {**BATTERY, "voltage_v": 48.5})
    assert "specs.voltage_v" in errors


def test_more_than_two_decimal_places_are_refused_rather_than_rounded():
    _, errors = specs("battery", {**BATTERY, "capacity_ah": "20.125"})
    assert "specs.capacity_ah" in errors


def test_energy_in_kilowatt_hours_is_caught_as_a_unit_mistake():
    _, errors = specs("battery", {**BATTERY, "energy_wh": 1})
    assert "specs.energy_wh" in errors and "Wh" in errors["specs.energy_wh"][0][0]


def test_each_kind_names_its_missing_and_unknown_specs():
    _, errors = specs("charger", {"output_v": 54.6, "colour": "black"})
    assert set(errors) == {"specs.output_a", "specs.colour"}
    _, errors = specs("battery", "not an object")
    assert set(errors) == {"specs"}


@pytest.mark.parametrize("bad", [True, "abc", "NaN", "Infinity", [1], {"v": 1}, -48, 0])
def test_a_quantity_that_is_not_a_positive_number_is_refused(bad):
    _, errors = specs("battery", {**BATTERY, "voltage_v": bad})
    assert "specs.voltage_v" in errors


def test_a_non_standard_vehicle_needs_its_transition_deadline_and_only_it_has_one():
    _, errors = specs("vehicle", {**VEHICLE, "standard": "non_standard"})
    assert "specs.transition_deadline" in errors
    out, errors = specs("vehicle", {**VEHICLE, "standard": "non_standard", "transition_deadline": "2025-12-31", "max_speed_kmh": 32})
    assert errors == {} and out["transition_deadline"] == "2025-12-31"
    _, errors = specs("vehicle", {**VEHICLE, "transition_deadline": "2025-12-31"})
    assert "specs.transition_deadline" in errors


def test_a_gb17761_vehicle_may_not_exceed_25_km_h():
    _, errors = specs("vehicle", {**VEHICLE, "max_speed_kmh": 26})
    assert "specs.max_speed_kmh" in errors


def test_approvals_accept_names_and_objects_and_default_to_standard():
    errors = {}
    out = rules.approvals(["xh-48v20", {"model": "XH-48V24", "approval": "mutual"}], "approved_batteries", errors)
    assert errors == {}
    assert out == [{"model": "XH-48V20", "approval": "standard"}, {"model": "XH-48V24", "approval": "mutual"}]


def test_approvals_name_each_bad_entry_by_position():
    errors = {}
    rules.approvals(["A1", "a1", {"model": "B", "approval": "maybe"}, {"model": "C", "x": 1}, 7], "approved_batteries", errors)
    assert set(errors) == {"approved_batteries.1", "approved_batteries.2.approval", "approved_batteries.3", "approved_batteries.4"}


def test_a_vehicle_certificate_must_be_in_the_e_bike_category():
    with pytest.raises(rules.CatalogueInvalid) as err:
        rules.certificate_fields("2026010912000031", "vehicle", "M1", "2026-01-01", "2031-01-01")
    assert set(err.value.errors) == {"number"}
    assert rules.certificate_fields("2026011119000101", "vehicle", "m1", "2026-01-01", "2031-01-01")["model"] == "M1"


def test_a_certificate_names_every_bad_field_at_once():
    with pytest.raises(rules.CatalogueInvalid) as err:
        rules.certificate_fields("123", "boat", "", "2026-02-30", "20310101")
    assert set(err.value.errors) == {"number", "product_kind", "model", "issued_on", "expires_on"}


def test_a_certificate_expires_after_it_is_issued():
    with pytest.raises(rules.CatalogueInvalid) as err:
        rules.certificate_fields("2026011119000101", "vehicle", "M1", "2026-01-01", "2026-01-01")
    assert set(err.value.errors) == {"expires_on"}


def test_only_vehicle_models_list_approved_pairings_and_they_must():
    with pytest.raises(rules.CatalogueInvalid) as err:
        rules.model_fields("vehicle", "V1", VEHICLE, None, [], [])
    assert set(err.value.errors) == {"approved_batteries", "approved_chargers"}
    with pytest.raises(rules.CatalogueInvalid) as err:
        rules.model_fields("battery", "B1", BATTERY, None, ["X"], [])
    assert set(err.value.errors) == {"approved_batteries"}


@settings(max_examples=200, deadline=None, database=None)
@given(kind=st.sampled_from(["vehicle", "battery", "charger", "boat", None]), raw=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
))
def test_any_input_is_either_accepted_or_refused_with_field_errors(kind, raw):
    try:
        out = rules.model_fields(kind, raw, raw, raw, raw, raw)
    except rules.CatalogueInvalid as err:
        assert err.errors and all(isinstance(m, tuple) and len(m) == 2 for msgs in err.errors.values() for m in msgs)
    else:
        assert out["kind"] == kind


@pytest.mark.parametrize("huge", ["1e999999", "-1e999999", "1e-999999", 10**400])
def test_an_absurd_exponent_is_refused_at_once(huge):
    import time

    started = time.perf_counter()
    _, errors = specs("battery", {**BATTERY, "voltage_v": huge, "capacity_ah": huge})
    assert {"specs.voltage_v", "specs.capacity_ah"} <= set(errors)
    assert time.perf_counter() - started < 0.5
